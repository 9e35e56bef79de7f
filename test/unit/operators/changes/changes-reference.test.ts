/**
 * Change views (docs/design.md §11) driven through the real partition task (lateness, markers)
 * against the brute-force oracle (test/reference/changes-reference.ts) on random changelogs.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createPartitionTask } from '../../../../operators/task/partition-task.ts'
import { runChangesReference } from '../../../reference/changes-reference.ts'
import { attributeView, changeSource, currentStateView, deadOf, feedTask, GROUP, ITEM, randomChangelog, referenceView, rowsDiffer, type Shape } from './change-scenarios.ts'
import { withHeldCopies } from './held-copies.ts'

const SHAPES: readonly Shape[] = ['plain', 'filter', 'double', 'throws']
const CASES = 240

function check(seed: number, mode: 'attributes' | 'current_state' | 'both'): void {
  const ooo = [0, 3, 10][seed % 3] as number
  const lateness = [0, 5, 30][Math.floor(seed / 3) % 3] as number
  const shape = SHAPES[Math.floor(seed / 9) % SHAPES.length] as Shape
  const source = changeSource(ooo, lateness)
  const views =
    mode === 'attributes' ? [attributeView(source, shape)] : mode === 'current_state' ? [currentStateView(source, shape)] : [attributeView(source, shape), currentStateView(source, shape)]
  const changelog = randomChangelog(seed, 20 + (seed % 80))
  // A current-state view alone reads as re-keyed for it: with the row index's copies. (An attribute
  // view never reads a re-keyed topic, and takes no role.)
  const steps = mode === 'current_state' ? withHeldCopies(changelog, source, GROUP, ITEM) : changelog
  const actual = feedTask(createPartitionTask({ views, source }), steps)
  const expected = runChangesReference(source, views.map(referenceView), steps)
  views.forEach((v, i) => {
    const why = rowsDiffer(actual.rows[i]!, expected.rows[i]!)
    assert.equal(why, undefined, `seed ${seed}, view ${v.name}: ${why}`)
  })
  assert.deepEqual(deadOf(actual.dead), deadOf(expected.dead), `seed ${seed}: dead letters`)
}

void describe('operators > change views > against the brute-force reference', () => {
  void test(`attribute views: same rows and dead letters (${CASES} random changelogs)`, () => {
    for (let seed = 1; seed <= CASES; seed++) check(seed, 'attributes')
  })

  void test(`current-state views: same rows and dead letters (${CASES} random changelogs)`, () => {
    for (let seed = 1; seed <= CASES; seed++) check(1000 + seed, 'current_state')
  })

  void test('both kinds in one task: each as alone', () => {
    for (let seed = 1; seed <= 60; seed++) check(5000 + seed, 'both')
  })
})
