import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as examples from '../../../examples/features.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { DEFAULT_SERVED_LOG_TOPIC, SERVED_FEATURES_SCHEMA, toServedEvent, type ServedRecord } from '../../../serving/served-log/index.ts'
import { IcebergOfflineSink, archiveTablePath } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { BASE_MS, generateRows, HOUR_MS, oracle, registryWithViews, writeRows } from './fixtures.ts'
import { KFS_BIN } from '../../support/node-ts.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function kfs(args: readonly string[], dataDir: string): { code: number | null; stdout: string; stderr: string } {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'warn' }
  const r = spawnSync(process.execPath, [KFS_BIN, ...args], { cwd: repo, env, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

void describe('cli > kfs skew-report', () => {
  void test('usage errors exit 2; an empty log exits 1 and says why', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-skew-cli-'))
    dirs.push(dataDir)
    const help = kfs(['skew-report', '--help'], dataDir)
    assert.equal(help.code, 0)
    assert.match(help.stdout, /Usage: kfs skew-report/)
    for (const bad of [['--min-match', '101'], ['--min-match', 'all'], ['--from', 'yesterday-ish'], ['--from', '2026-01-02', '--until', '2026-01-01'], ['--views', ','], ['--bogus']]) {
      const r = kfs(['skew-report', ...bad], dataDir)
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`)
    }
    const empty = kfs(['skew-report'], dataDir)
    assert.equal(empty.code, 1, empty.stderr)
    assert.match(empty.stdout, /Nothing to compare/)
  })

  void test('exit 0 when every feature matches, 1 with --json naming the skewed feature', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-skew-cli-'))
    dirs.push(dataDir)
    const store = new LocalObjectStore(join(dataDir, 'objects'))
    const view = examples.userPurchases
    const rows = generateRows(view, 200, 3)
    await writeRows(store, view, rows)
    await registryWithViews(store, [view])
    const encoder = await createEncoder({ registry: new EmbeddedSchemaRegistry({ dir: join(dataDir, 'schemas') }), subject: `${DEFAULT_SERVED_LOG_TOPIC}-value`, schema: SERVED_FEATURES_SCHEMA })
    const records: ServedRecord[] = Array.from({ length: 40 }, (_, i) => {
      const t = BASE_MS + (i * 3 + 30) * HOUR_MS
      const values = oracle(rows, view, `u${i % 5}`, t, true)
      return { requestId: `r${i}`, servedAtMs: t, viewName: view.name, viewVersion: 1, entityKey: `u${i % 5}`, status: values ? 'PRESENT' : 'MISSING', asOfMs: null, features: view.features.map((f) => f.name), values: values ?? view.features.map(() => null) }
    })
    const sink = new IcebergOfflineSink(store)
    const write = async (topic: string, rs: readonly ServedRecord[]) => {
      const staged = await sink.stageArchiveRows(topic, rs.map((r, i) => ({ partition: 0, offset: String(i), eventTimeMs: r.servedAtMs, key: null, schemaId: encoder.schemaId, payload: encoder.encode(toServedEvent(r)), markerWatermarkMs: null, timestampMs: 0 })))
      await sink.commit(archiveTablePath(topic), [staged], {}, {})
    }
    await write(DEFAULT_SERVED_LOG_TOPIC, records)
    const ok = kfs(['skew-report'], dataDir)
    assert.equal(ok.code, 0, ok.stderr + ok.stdout)
    assert.match(ok.stdout, /40 lookups compared/)
    assert.match(ok.stdout, /OK: every feature at or above 100 % exact match/)

    const count = view.features.findIndex((f) => f.name === 'count')
    const tampered = records.map((r, i) => (i === 7 && r.values[count] !== null ? { ...r, values: r.values.map((v, j) => (j === count ? (v as number) + 1 : v)) } : r))
    assert.notDeepEqual(tampered, records)
    await write('served-tampered', tampered)
    const bad = kfs(['skew-report', '--topic', 'served-tampered', '--json'], dataDir)
    assert.equal(bad.code, 1, bad.stderr)
    const doc = JSON.parse(bad.stdout) as { ok: boolean; failing: string[]; features: { feature: string; exactMatches: number; compared: number; p99AbsDiff: number }[] }
    assert.deepEqual([doc.ok, doc.failing], [false, [`${view.name}@1:count`]])
    const f = doc.features.find((x) => x.feature === 'count')!
    assert.deepEqual([f.compared, f.exactMatches, f.p99AbsDiff], [40, 39, 1])
    assert.equal(kfs(['skew-report', '--topic', 'served-tampered', '--min-match', '97.5'], dataDir).code, 0)
  })
})
