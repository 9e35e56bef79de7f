import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as examples from '../../../examples/features.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { BASE_MS, generateRows, HOUR_MS, registryWithViews, writeRows } from './fixtures.ts'
import { KFS_BIN } from '../../support/node-ts.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function kfs(args: readonly string[], dataDir: string): { code: number | null; stdout: string; stderr: string } {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_DATA_DIR: dataDir }
  const r = spawnSync(process.execPath, [KFS_BIN, ...args], { cwd: repo, env, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

async function seeded(complete: boolean): Promise<{ dataDir: string; labels: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kfs-ts-cli-'))
  dirs.push(dataDir)
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  await writeRows(store, examples.userPurchases, generateRows(examples.userPurchases, 200, 1))
  await writeRows(store, examples.userClicks, generateRows(examples.userClicks, 200, 2))
  await registryWithViews(store, complete ? [examples.userPurchases, examples.userClicks] : [examples.userPurchases])
  const labels = join(dataDir, 'labels.csv')
  const rows = Array.from({ length: 50 }, (_, i) => `u${i % 5},${BASE_MS + (i % 100) * HOUR_MS},${i + 1}.5`)
  writeFileSync(labels, ['user_id,ts,amount', ...rows].join('\n'))
  return { dataDir, labels }
}

void describe('cli > kfs training-set', () => {
  void test('help, and usage errors exit 2', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-ts-cli-'))
    dirs.push(dataDir)
    const help = kfs(['training-set', '--help'], dataDir)
    assert.equal(help.code, 0)
    assert.match(help.stdout, /Usage: kfs training-set/)
    assert.match(help.stdout, /Examples:/)
    assert.equal(kfs(['training-set', '--labels', 'x.csv', '--out', 'o.parquet'], dataDir).code, 2)
    assert.equal(kfs(['training-set', '--labels', 'x.csv', '--service', 's', '--features', 'a:b', '--out', 'o.parquet'], dataDir).code, 2)
    assert.equal(kfs(['training-set', '--rebuild', '0123456789abcdef', '--labels', 'x.csv', '--out', 'o.parquet'], dataDir).code, 2)
  })

  void test('builds a service set (--json), then --rebuild writes the same bytes', async () => {
    const { dataDir, labels } = await seeded(true)
    const out = join(dataDir, 'fraud.parquet')
    const built = kfs(['training-set', '--labels', labels, '--service', 'fraud_model', '--out', out, '--json'], dataDir)
    assert.equal(built.code, 0, built.stderr)
    const result = JSON.parse(built.stdout) as { id: string; rows: number; record: { output: { columns: string[] } } }
    assert.equal(result.rows, 50)
    assert.ok(result.record.output.columns.includes('amount_vs_avg_7d'))
    const again = join(dataDir, 'again.parquet')
    const rebuilt = kfs(['training-set', '--rebuild', result.id, '--out', again], dataDir)
    assert.equal(rebuilt.code, 0, rebuilt.stderr)
    assert.match(rebuilt.stdout, new RegExp(`Rebuilt training set ${result.id}`))
    assert.deepEqual(readFileSync(again), readFileSync(out))
  })

  void test('a view with an incomplete backfill is refused with exit 1 and the reason', async () => {
    const { dataDir, labels } = await seeded(false)
    const r = kfs(['training-set', '--labels', labels, '--features', 'user_purchases:count,user_clicks:count_1h', '--out', join(dataDir, 'x.parquet')], dataDir)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /user_clicks v1 backfill is pending/)
  })
})
