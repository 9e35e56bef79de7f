/**
 * A feature list naming one feature twice — the same reference, two spellings of one view
 * version's feature (`v:f` where v's latest is 2, and `v@2:f`), or a request feature twice — was
 * collapsed silently: serving's batch endpoint answered one column for two names (or two columns
 * of one value under two names), a training set one column, and the CLI dropped the repeat before
 * anyone saw it. Each is now refused in both with the same message naming the two references,
 * and `kfs training-set --feature-refs a,a` is a usage error (exit 2).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { requestFeature } from '../../../features/index.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { registryWithViews } from './fixtures.ts'
import { stamped, trainAndServe, userProbe, userProbeV2 } from './serving-agreement.ts'
import { KFS_BIN } from '../../support/node-ts.ts'

const T = 1_700_000_000_000
const ratio = requestFeature({
  name: 'x_ratio',
  request: { amount: 'double' },
  features: ['user_probe@1:x_last'],
  outputType: 'double',
  description: 'amount over the last x',
  fn: (req, f) => (typeof f['user_probe@1:x_last'] === 'number' ? (req.amount as number) / f['user_probe@1:x_last'] : null),
})

const DUPLICATES: readonly { what: string; features: readonly string[]; message: string }[] = [
  {
    what: 'one stored reference twice',
    features: ['user_probe@1:x_last', 'user_probe@1:n_last', 'user_probe@1:x_last'],
    message: 'user_probe@1:x_last is listed twice; list each feature once',
  },
  {
    what: 'the latest version by name and by number',
    features: ['user_probe:s_last', 'user_probe@2:s_last'],
    message: 'user_probe:s_last and user_probe@2:s_last are both feature s_last of user_probe v2; list it once',
  },
  {
    what: 'a request feature twice',
    features: ['x_ratio', 'user_probe@1:x_last', 'x_ratio'],
    message: 'x_ratio is listed twice; list each feature once',
  },
]

void describe('training–serving agreement > a feature list naming one feature twice', () => {
  for (const c of DUPLICATES) {
    void test(`${c.what}: refused by serving and by training sets alike`, async () => {
      const { training, serving } = await trainAndServe({
        rows: new Map([
          [userProbe, [stamped('u0', T - 10, [2, 3, 'a'])]],
          [userProbeV2, [stamped('u0', T - 10, [4, 5, 'b'])]],
        ]),
        labels: [{ keys: { user_id: 'u0' }, tMs: T, request: { amount: 1 } }],
        features: c.features,
        requestFeatures: [ratio],
      })
      assert.deepEqual(training, { ok: false, message: c.message })
      assert.deepEqual(serving, [{ ok: false, message: `features: ${c.message}` }])
    })
  }

  void test('the same features listed once are answered alike', async () => {
    const { training, serving } = await trainAndServe({
      rows: new Map([
        [userProbe, [stamped('u0', T - 10, [2, 3, 'a'])]],
        [userProbeV2, [stamped('u0', T - 10, [4, 5, 'b'])]],
      ]),
      labels: [{ keys: { user_id: 'u0' }, tMs: T, request: { amount: 1 } }],
      features: ['user_probe@1:x_last', 'user_probe@1:n_last', 'user_probe:s_last', 'x_ratio'],
      requestFeatures: [ratio],
    })
    assert.deepEqual(serving, [{ ok: true, values: [2, 3, 'b', 0.5] }])
    assert.deepEqual(training, serving)
  })

  void describe('kfs training-set --feature-refs', () => {
    const repo = fileURLToPath(new URL('../../../', import.meta.url))
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-dup-refs-'))
    after(() => rmSync(dataDir, { recursive: true, force: true }))
    const labels = join(dataDir, 'labels.csv')
    writeFileSync(labels, 'user_id,ts,amount\nu0,1700000000000,1\n')
    const kfs = (refs: string) =>
      spawnSync(
        process.execPath,
        [
          KFS_BIN,
          'training-set',
          '--labels',
          labels,
          '--feature-refs',
          refs,
          '--out',
          join(dataDir, 'o.parquet'),
        ],
        {
          cwd: repo,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_DATA_DIR: dataDir },
          encoding: 'utf8',
        },
      )
    void test('a repeated reference is a usage error naming it, not dropped', async () => {
      await registryWithViews(new LocalObjectStore(join(dataDir, 'objects')))
      const r = kfs('user_purchases:count,user_clicks:count_1h,user_purchases:count')
      assert.equal(r.status, 2, r.stderr)
      assert.match(r.stderr, /--feature-refs: user_purchases:count is listed twice; list each feature once/)
    })
  })
})
