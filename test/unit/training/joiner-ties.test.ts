/**
 * The point-in-time joiner's tie rule at the edges of its key (adapters/duckdb/duckdb-joiner.ts):
 * among a key's rows with the greatest as_of ≤ t, the one latest in archive order (seq; a null seq
 * first) wins. The feature files are written here directly, so they hold what the engine's sink
 * never writes but a table may: null seqs, seqs at both ends of int64, several rows at one as_of
 * spread over files, as_of in year 1 and year 9999, keys without rows. Each row's value is its own
 * id, so the output names the row the joiner chose; a brute-force scan says which it must be.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { createDuckDbJoiner } from '../../../adapters/duckdb/duckdb-joiner.ts'
import { encodeParquetColumns, readParquetBatches } from '../../../adapters/offline/parquet/index.ts'
import { MAX_LABEL_TIME_MS, MIN_LABEL_TIME_MS } from '../../../training/index.ts'
import type { LabelSource, ViewJoinSpec } from '../../../ports/point-in-time-joiner.ts'
import { prng } from './fixtures.ts'
import { writeTieFeatureFiles, type TieRow } from './tie-rows.ts'

const HOUR = 3_600_000
const BASE = 1_700_000_000_000
const TTL = 3 * HOUR
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
/** Seqs a table may hold: both ends of int64, around zero, past 2^53, and null. */
const SEQS: readonly (bigint | null)[] = [
  null,
  INT64_MIN + 1n,
  -(2n ** 62n),
  -1n,
  0n,
  1n,
  2n ** 53n + 1n,
  2n ** 62n,
  INT64_MAX - 1n,
  INT64_MAX,
]

type Row = TieRow

/** Rows on a 6-hour grid (most (key, as_of) pairs hold several rows), each with a seq unique in its pair. */
function generateRows(seed: number): Row[] {
  const rand = prng(seed)
  const rows: Row[] = []
  for (const key of ['k0', 'k1', 'k2']) {
    for (let h = 0; h < 6; h++) {
      const seqs = [...SEQS].sort(() => rand.next() - 0.5).slice(0, rand.int(1, 4))
      for (const seq of seqs) rows.push({ key, asOfMs: BASE + h * HOUR, seq, id: rows.length })
    }
  }
  // Year 1 and year 9999, tied too: the packing's extremes.
  for (const asOfMs of [MIN_LABEL_TIME_MS, MAX_LABEL_TIME_MS]) {
    for (const seq of [INT64_MAX, null, INT64_MIN + 1n]) rows.push({ key: 'k3', asOfMs, seq, id: rows.length })
  }
  return rows.sort(() => rand.next() - 0.5)
}

/** The rule by brute force: greatest (as_of, seq) with as_of ≤ t, a null seq below every other. */
function expected(rows: readonly Row[], key: string | null, t: number): number | null {
  let best: Row | undefined
  const rank = (s: bigint | null): bigint => s ?? INT64_MIN - 1n
  for (const r of rows) {
    if (r.key !== key || r.asOfMs > t) continue
    if (best === undefined || r.asOfMs > best.asOfMs || (r.asOfMs === best.asOfMs && rank(r.seq) > rank(best.seq))) best = r
  }
  return best === undefined || best.asOfMs <= t - TTL ? null : best.id
}

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** Label times on the grid, a ms either side, before every row, and at both ends of the label range. */
function labelTimes(): number[] {
  const times = [MIN_LABEL_TIME_MS, MIN_LABEL_TIME_MS + 1, MAX_LABEL_TIME_MS, BASE - HOUR]
  for (let h = 0; h < 10; h++) times.push(BASE + h * HOUR - 1, BASE + h * HOUR, BASE + h * HOUR + 1)
  return times
}

void describe('point-in-time joiner > ties at one as_of', () => {
  for (const kind of ['files', 'derived'] as const) {
    void test(`the latest row in archive order wins, null seqs first, int64 and year extremes included (${kind} labels)`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-joiner-ties-'))
      dirs.push(dir)
      const rows = generateRows(kind === 'files' ? 7 : 8)
      const spec: ViewJoinSpec = {
        files: await writeTieFeatureFiles(dir, rows, 3),
        features: [{ name: 'row_id', type: 'long' }],
        ttlMs: TTL,
        asServed: false,
        keyColumn: '__kfs_k0',
      }
      const labels: { key: string | null; t: number }[] = []
      for (const key of ['k0', 'k1', 'k2', 'k3', 'k9', null]) for (const t of labelTimes()) labels.push({ key, t })
      const labelFile = await encodeParquetColumns(
        [
          { name: 'user_id', type: 'string', fieldId: 1, required: false },
          { name: 'ts', type: 'timestamptz', fieldId: 2, required: true },
        ],
        [labels.map((l) => l.key), labels.map((l) => l.t)],
      )
      await writeFile(join(dir, 'labels.parquet'), labelFile.bytes)
      let source: LabelSource
      if (kind === 'derived') {
        const us = 'epoch_us("ts")'
        source = {
          kind,
          labels: join(dir, 'labels.parquet'),
          timeUs: `(${us} - ((${us} % 1000) + 1000) % 1000)`,
          keys: { __kfs_k0: `NULLIF(CAST("user_id" AS VARCHAR), '')` },
          rowCount: labels.length,
        }
      } else {
        const keys = await encodeParquetColumns(
          [
            { name: '__kfs_row', type: 'int', fieldId: 1, required: true },
            { name: '__kfs_t_ms', type: 'long', fieldId: 2, required: true },
            { name: '__kfs_k0', type: 'string', fieldId: 3, required: false },
          ],
          [labels.map((_, i) => i), labels.map((l) => l.t), labels.map((l) => l.key)],
        )
        await writeFile(join(dir, 'keys.parquet'), keys.bytes)
        source = { kind, labels: join(dir, 'labels.parquet'), keys: join(dir, 'keys.parquet'), rowCount: labels.length }
      }
      const want = labels.map((l) => expected(rows, l.key, l.t))
      assert.ok(want.filter((id) => id !== null).length > 40, 'most labels find a row')
      assert.ok(
        labels.some(
          (l, i) => want[i] !== null && rows.filter((r) => r.key === l.key && r.asOfMs === rows[want[i]!]!.asOfMs).length > 1,
        ),
        'some labels land on a tie',
      )
      const joiner = await createDuckDbJoiner({ tempDirectory: join(dir, 'spill') })
      try {
        const fetched = (await joiner.fetch(source, spec))[0]!
        assert.deepEqual(fetched, want, 'fetch')
        const output = join(dir, 'out.parquet')
        await joiner.write(source, [spec], {
          path: output,
          columns: [{ column: 'v__row_id', view: 0, feature: 'row_id' }],
          keyValueMetadata: { test: 'ties' },
        })
        const got: Record<string, unknown[]> = {}
        for await (const batch of readParquetBatches(new Uint8Array(await readFile(output)))) {
          for (const [name, values] of Object.entries(batch.columns)) (got[name] ??= []).push(...values)
        }
        assert.deepEqual(Object.keys(got), ['user_id', 'ts', 'v__row_id'])
        assert.deepEqual(got.v__row_id, want, 'write')
        assert.deepEqual(
          got.user_id,
          labels.map((l) => l.key),
          'label columns stay in label order beside their features',
        )
      } finally {
        await joiner.close()
      }
    })
  }
})
