/**
 * A training set in which no label row matched any feature row of a view — every cell of that
 * view's columns null — is still written, exit 0 (a documented outcome; scripts rely on it), but no
 * longer looks like success: `warnings` (stderr and --json from the CLI) names the view and the
 * likely causes. Every way to match nothing is checked — keys typed differently, keys of no
 * entity, label times before the first feature row, past the TTL, an empty table, as served before
 * the rows reached the online store — and a set where the view matched some rows warns of nothing,
 * and one where only one of two views matched warns of the other alone.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTrainingSet } from '../../../training/index.ts'
import { BASE_MS, generateRows, HOUR_MS, registryWithViews, trainingDeps, USERS, writeRows } from './fixtures.ts'
import { KFS_BIN } from '../../support/node-ts.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-no-match-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const store = new MemoryObjectStore()
await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 300, 1))
await writeRows(store, examples.userPurchases, generateRows(examples.userPurchases, 300, 2))
// item_clicks: complete, but its table holds no row.
const registry = await registryWithViews(store, [examples.userClicks, examples.userPurchases, examples.itemClicks])

let files = 0
async function build(
  rows: readonly (readonly [user: string, item: string, ms: number])[],
  features: readonly string[],
  asServed = false,
) {
  const path = join(dir, `labels-${files++}.csv`)
  writeFileSync(path, ['user_id,item_id,ts', ...rows.map(([u, i, t]) => `${u},${i},${t}`)].join('\n'))
  return createTrainingSet({
    ...trainingDeps(store),
    registry,
    labels: { path },
    features,
    asServed,
    output: join(dir, `out-${files++}.parquet`),
  })
}

const MID = BASE_MS + 60 * HOUR_MS
const matching = USERS.map((u) => [u, 'i0', MID] as const)
const clicks = ['user_clicks:count_1h', 'user_clicks:count_1d']

void describe('training set > a view that matched no label row', () => {
  const CAUSES: readonly [string, readonly (readonly [string, string, number])[], readonly string[], boolean?][] = [
    ['keys typed differently (U0 for u0)', USERS.map((u) => [u.toUpperCase(), 'i0', MID]), clicks],
    ['keys of no entity', USERS.map((u) => [`${u}-gone`, 'i0', MID]), clicks],
    ['label times before the first feature row', USERS.map((u) => [u, 'i0', BASE_MS - 1]), clicks],
    ['label times past the TTL', USERS.map((u) => [u, 'i0', BASE_MS + 400 * HOUR_MS]), clicks],
    ['as served, before any row reached the online store', USERS.map((u) => [u, 'i0', BASE_MS - HOUR_MS]), clicks, true],
    ['an empty table', matching, ['item_clicks:count_1h']],
  ]
  for (const [what, rows, features, asServed] of CAUSES)
    void test(`${what}: built (every cell null) with a warning naming the view and the causes`, async () => {
      const result = await build(rows, features, asServed)
      assert.equal(result.rows, rows.length)
      const view = features[0]!.split(':')[0]!
      assert.equal(result.warnings.length, 1, result.warnings.join('\n'))
      assert.match(
        result.warnings[0]!,
        new RegExp(`^no label row matched any feature row of view ${view} v1: all ${rows.length} rows of ${view}__`),
      )
      assert.match(result.warnings[0]!, /typed differently.*before the view's first feature row/)
    })

  void test('a view that matched some rows warns of nothing; of two views, only the one that matched none is named', async () => {
    assert.deepEqual((await build(matching, clicks)).warnings, [])
    const two = await build(matching, [...clicks, 'item_clicks:count_1h'])
    assert.equal(two.warnings.length, 1)
    assert.match(two.warnings[0]!, /view item_clicks v1/)
  })

  void test('CLI: exit 0, the warning on stderr and in --json', async () => {
    const dataDir = mkdtempSync(join(dir, 'cli-'))
    const local = new LocalObjectStore(join(dataDir, 'objects'))
    await writeRows(local, examples.userClicks, generateRows(examples.userClicks, 100, 3))
    await registryWithViews(local, [examples.userClicks])
    const labels = join(dataDir, 'labels.csv')
    writeFileSync(labels, ['user_id,ts', ...USERS.map((u) => `${u},${BASE_MS - 1}`)].join('\n'))
    const repo = fileURLToPath(new URL('../../../', import.meta.url))
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_DATA_DIR: dataDir }
    for (const json of [false, true]) {
      const args = [
        KFS_BIN,
        'training-set',
        '--labels',
        labels,
        '--feature-refs',
        'user_clicks:count_1h',
        '--out',
        join(dataDir, 'set.parquet'),
        ...(json ? ['--json'] : []),
      ]
      const r = spawnSync(process.execPath, args, { cwd: repo, env, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, /kfs training-set: warning: no label row matched any feature row of view user_clicks v1/)
      if (json) assert.match((JSON.parse(r.stdout) as { warnings: string[] }).warnings[0]!, /view user_clicks v1/)
    }
  })
})
