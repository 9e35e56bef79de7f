/**
 * The joiner's output is in label order with the label columns as the file holds them, however
 * many threads DuckDB runs: the ASOF join's output order is its sort's, and only the ORDER BY on
 * the label row (duckdb-joiner.ts, Strategy 4) puts each joined row with its label — lose it and
 * every label gets another label's features. Both layouts of the label columns (carried through
 * the joins; put beside the joined rows, as sets recorded before the carried form were written).
 * Enough labels for two output row groups and several label row groups (70,000), each view's
 * value checked against the label's own key and time, for both kinds of label source.
 */
import { DuckDBInstance } from '@duckdb/node-api'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { createDuckDbJoiner } from '../../../adapters/duckdb/duckdb-joiner.ts'
import { encodeParquetColumns } from '../../../adapters/offline/parquet/index.ts'
import type { LabelSource, ViewJoinSpec } from '../../../ports/point-in-time-joiner.ts'
import { prng } from './fixtures.ts'
import { writeTieFeatureFiles, type TieRow } from './tie-rows.ts'

const LABELS = 70_000
const KEYS = 5_000
const STEP_MS = 1_000
const BASE_MS = 1_700_000_000_000

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

void describe('point-in-time joiner > label order at scale', () => {
  void test('label columns in file order, each with its own row, at 1 and 4 threads, the same bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-joiner-order-'))
    dirs.push(dir)
    // Key k has one row per second for 20 s, its id = k · 100 + second; seq distinct, never null.
    const rows: TieRow[] = []
    for (let k = 0; k < KEYS; k++)
      for (let s = 0; s < 20; s++)
        rows.push({ key: `k${k}`, asOfMs: BASE_MS + s * STEP_MS, seq: BigInt(rows.length) << 21n, id: k * 100 + s })
    const spec: ViewJoinSpec = {
      files: await writeTieFeatureFiles(dir, rows, 3),
      features: [{ name: 'row_id', type: 'long' }],
      ttlMs: 60_000,
      asServed: false,
      keyColumn: '__kfs_k0',
      tieKeyBounds: {
        asOfMinMs: BASE_MS,
        asOfMaxMs: BASE_MS + 19 * STEP_MS,
        seq: { min: 0n, max: BigInt(rows.length - 1) << 21n },
        seqIndexBits: 0,
        seqNullFree: true,
      },
    }
    const rand = prng(11)
    const keyOf = Array.from({ length: LABELS }, () => rand.int(0, KEYS - 1))
    const secondOf = Array.from({ length: LABELS }, () => rand.int(0, 19))
    const labelFile = await encodeParquetColumns(
      [
        { name: 'user_id', type: 'string', fieldId: 1, required: true },
        { name: 'ts', type: 'timestamptz', fieldId: 2, required: true },
        { name: 'i', type: 'long', fieldId: 3, required: true },
      ],
      [keyOf.map((k) => `k${k}`), secondOf.map((s) => BASE_MS + s * STEP_MS + 500), keyOf.map((_, i) => i)],
      { rowGroupRows: 30_000 },
    )
    await writeFile(join(dir, 'labels.parquet'), labelFile.bytes)
    const derived: LabelSource = {
      kind: 'derived',
      labels: join(dir, 'labels.parquet'),
      timeUs: 'epoch_us("ts")',
      keys: { __kfs_k0: `CAST("user_id" AS VARCHAR)` },
      rowCount: LABELS,
    }
    const keysFile = await encodeParquetColumns(
      [
        { name: '__kfs_row', type: 'int', fieldId: 1, required: true },
        { name: '__kfs_t_ms', type: 'long', fieldId: 2, required: true },
        { name: '__kfs_k0', type: 'string', fieldId: 3, required: false },
      ],
      [keyOf.map((_, i) => i), secondOf.map((s) => BASE_MS + s * STEP_MS), keyOf.map((k) => `k${k}`)],
      { compression: 'none', rowGroupRows: 1 << 20 },
    )
    await writeFile(join(dir, 'label-keys.parquet'), keysFile.bytes)
    const files: LabelSource = {
      kind: 'files',
      labels: join(dir, 'labels.parquet'),
      keys: join(dir, 'label-keys.parquet'),
      rowCount: LABELS,
    }
    const shas = new Map<string, Set<string>>()
    const instance = await DuckDBInstance.create(':memory:')
    const check = await instance.connect()
    try {
      for (const [name, source, labelColumns] of [
        ['derived-carried', derived, undefined],
        ['derived-beside', derived, 'beside'],
        ['files', files, undefined],
      ] as const) {
        shas.set(name, new Set())
        for (const threads of [1, 4]) {
          const path = join(dir, `out-${name}-${threads}.parquet`)
          const joiner = await createDuckDbJoiner({ tempDirectory: join(dir, 'spill'), threads })
          try {
            await joiner.write(source, [spec], {
              path,
              columns: [{ column: 'v__row_id', view: 0, feature: 'row_id' }],
              keyValueMetadata: { test: 'order' },
              ...(labelColumns === undefined ? {} : { labelColumns }),
            })
          } finally {
            await joiner.close()
          }
          shas.get(name)!.add(
            createHash('sha256')
              .update(await readFile(path))
              .digest('hex'),
          )
          const read = await check.runAndReadAll(`SELECT user_id, i, v__row_id FROM read_parquet('${path}')`)
          const [users, is, ids] = read.getColumns() as [string[], bigint[], bigint[]]
          assert.equal(is.length, LABELS)
          for (let r = 0; r < LABELS; r++) {
            assert.equal(is[r], BigInt(r), `${name}, ${threads} threads: label row ${r} in place`)
            assert.equal(users[r], `k${keyOf[r]}`)
            assert.equal(ids[r], BigInt(keyOf[r]! * 100 + secondOf[r]!), `${name}, ${threads} threads: row ${r}'s feature row`)
          }
        }
      }
    } finally {
      check.closeSync()
      instance.closeSync()
    }
    for (const [name, set] of shas) assert.equal(set.size, 1, `${name}: the same bytes at every thread count`)
    // The layout every set recorded before the carried form has: either label source, one file.
    assert.deepEqual([...shas.get('derived-beside')!], [...shas.get('files')!], 'beside: the same bytes from either label source')
  })
})
