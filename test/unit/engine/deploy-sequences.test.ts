/**
 * Deploy sequences (docs/semantics.md §14, "A view dropped and added again"): a series of `kfs run`s
 * over one stream, each with its own definitions — views added, dropped, re-added, rolled back and
 * forward, adopted from a backfill — any of them killed after some records or at one of its table
 * commits. Each view's offline table must hold every row of an uninterrupted run of every view over
 * the same stream exactly once, in archive order, and the online store its last row per key.
 *
 * Before, a partition whose checkpoint no longer held a view (dropped by a deploy, then rolled back)
 * caught it up from the archive from offset 0 — or from its backfill's position — and appended every
 * row the table already held again: duplicates offline.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { userPurchases } from '../../../examples/features.ts'
import { userBigSpends } from '../../../examples/with-new-view.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { World, shortSpend, streamOf, type Deploy, type Item, type Kill } from '../../support/deploy-sequence.ts'
import { assertOnlineHoldsLastRows, assertSameRows, prng } from '../../support/scenario.ts'
import type { Decoder } from '../../../schemas/decoder.ts'

const A = userPurchases
const B = userBigSpends
const C = shortSpend
const ALL = [A, B, C]
const name = (views: readonly FeatureViewDef[]) => views.map((v) => v.name).join('+')

/** A random sequence: definitions v1 (A, maybe B), then `steps` operations, then every view; kills at random. */
function randomSequence(seed: number, steps: number): Deploy[] {
  const rand = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const kill = (): Kill | undefined => {
    if (rand() >= 0.5) return undefined
    return rand() < 0.5 ? { afterItems: Math.floor(rand() * 60) } : { atCommit: 1 + Math.floor(rand() * 12) }
  }
  let current: readonly FeatureViewDef[] = rand() < 0.6 ? [A, B] : [A]
  const history = [current]
  const undone: (readonly FeatureViewDef[])[] = []
  const everLive = new Set<FeatureViewDef>(current)
  const deploys: Deploy[] = [{ label: `v1 ${name(current)}`, views: current, until: 1 / (steps + 2), ...withKill(kill()) }]
  for (let i = 1; i <= steps; i++) {
    const absent = [B, C].filter((v) => !current.includes(v))
    const ops: { label: string; views: readonly FeatureViewDef[]; backfill?: FeatureViewDef; redo?: boolean; undo?: boolean }[] =
      []
    for (const v of absent) ops.push({ label: `add ${v.name}`, views: [...current, v] })
    for (const v of absent.filter((v) => !everLive.has(v)))
      ops.push({ label: `backfill and adopt ${v.name}`, views: [...current, v], backfill: v })
    for (const v of current.filter((v) => v !== A)) ops.push({ label: `drop ${v.name}`, views: current.filter((x) => x !== v) })
    if (history.length >= 2) ops.push({ label: 'roll back', views: history.at(-2)!, undo: true })
    if (undone.length > 0) ops.push({ label: 'roll forward', views: undone.at(-1)!, redo: true })
    const op = pick(ops)
    if (op.undo) undone.push(history.pop()!)
    else if (op.redo) history.push(undone.pop()!)
    else {
      history.push(op.views)
      undone.length = 0
    }
    current = op.views
    for (const v of current) everLive.add(v)
    deploys.push({
      label: `${op.label}: ${name(current)}`,
      views: current,
      until: (i + 1) / (steps + 2),
      ...(op.backfill ? { backfill: op.backfill } : {}),
      ...withKill(kill()),
    })
  }
  deploys.push({ label: `every view: ${name(ALL)}`, views: ALL, until: 1 })
  return deploys
}

function withKill(kill: Kill | undefined): { kill?: Kill } {
  return kill === undefined ? {} : { kill }
}

const killLabel = (k: Kill | undefined) =>
  k === undefined ? '' : 'afterItems' in k ? ` (killed after ${k.afterItems} items)` : ` (killed at commit ${k.atCommit})`

/** The cases the rule is about, named; then random sequences. */
const NAMED: { name: string; deploys: Deploy[] }[] = [
  {
    name: 'a view dropped by a deploy, then the definitions rolled back',
    deploys: [
      { label: 'v1 A+B', views: [A, B], until: 0.35 },
      { label: 'v2 without B', views: [A], until: 0.65 },
      { label: 'rollback to v1', views: [A, B], until: 1 },
    ],
  },
  {
    name: 'a view adopted from its backfill, dropped, re-added',
    deploys: [
      { label: 'v1 A', views: [A], until: 0.25 },
      { label: 'backfill C, add it', views: [A, C], until: 0.5, backfill: C },
      { label: 'drop C', views: [A], until: 0.75 },
      { label: 're-add C', views: [A, C], until: 1 },
    ],
  },
  {
    name: 'the rolled-back run killed before and after its first checkpoint',
    deploys: [
      { label: 'v1 A+B', views: [A, B], until: 0.3 },
      { label: 'v2 without B', views: [A], until: 0.5 },
      { label: 'rollback to v1', views: [A, B], until: 0.7, kill: { afterItems: 5 } },
      { label: 'rollback to v1 again', views: [A, B], until: 0.8, kill: { atCommit: 4 } },
      { label: 'rollback to v1, once more', views: [A, B], until: 1 },
    ],
  },
]

let items: Item[][]
let decoder: Decoder
let oracle: World
let dispose: () => Promise<void>

before(async () => {
  ;({ items, decoder, dispose } = await streamOf(11, 420))
  oracle = new World(items, decoder)
  if (!(await oracle.run({ label: 'uninterrupted', views: ALL, until: 1 }))) throw new Error('the oracle run died')
})
after(() => dispose())

async function runSequence(deploys: readonly Deploy[]): Promise<void> {
  const world = new World(items, decoder)
  let died = 0
  for (const deploy of deploys) if (!(await world.run(deploy))) died++
  // A kill at a commit the run never reaches does not fire; every other one does.
  const sure = deploys.filter((d) => d.kill !== undefined && ('afterItems' in d.kill || d.kill.atCommit <= 4)).length
  assert.ok(died >= sure, `${died} runs died, ${sure} kills sure to fire`)
  const what = deploys.map((d) => d.label + killLabel(d.kill)).join(' → ')
  for (const view of deploys.at(-1)!.views) {
    const expected = await readFeatureRowsByEntity(oracle.store, view)
    assertSameRows(await readFeatureRowsByEntity(world.store, view), expected, `${view.name} offline, ${what}`)
    await assertOnlineHoldsLastRows(world.online, view, expected)
  }
}

void describe('deploy sequences: every view offline exactly once, online its last row', () => {
  for (const c of NAMED) void test(c.name, () => runSequence(c.deploys))
  for (let seed = 1; seed <= 14; seed++) {
    const deploys = randomSequence(seed, 5)
    void test(`random sequence ${seed}: ${deploys.map((d) => d.label + killLabel(d.kill)).join(' → ')}`, () =>
      runSequence(deploys))
  }
})
