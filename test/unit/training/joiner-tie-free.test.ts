/**
 * The point-in-time join on as_of alone (adapters/duckdb/tie-key.ts AS_OF_KEY), used when the
 * table's writer vouches that no two rows share (entity_key, as_of) (TieKeyBounds.tieFree): it must
 * choose exactly the rows the brute force and the 128-bit key choose, and write the same bytes.
 * Rows: several keys, several rows per key, keys sharing as_of with each other but never a
 * (key, as_of) twice; seqs in any order (even against as_of), some null — with no ties the seq
 * never decides. Label times before and after every row, on an as_of, ±1 µs, inside its ms, on the
 * TTL edge; times before 1970 too.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { createDuckDbJoiner, viewSql } from '../../../adapters/duckdb/duckdb-joiner.ts'
import { tieKeySql } from '../../../adapters/duckdb/tie-key.ts'
import { encodeParquetColumns } from '../../../adapters/offline/parquet/index.ts'
import type { TieKeyBounds } from '../../../ports/feature-rows.ts'
import type { LabelSource, ViewJoinSpec } from '../../../ports/point-in-time-joiner.ts'
import { prng } from './fixtures.ts'
import { writeTieFeatureFiles, type TieRow } from './tie-rows.ts'

const MINUTE = 60_000
const TTL = 5 * MINUTE

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** Rows on a 1-minute grid with gaps: each key at distinct as_of, keys sharing as_of with each other. */
function generateRows(seed: number, baseMs: number): TieRow[] {
  const rand = prng(seed)
  const rows: TieRow[] = []
  for (const key of ['k0', 'k1', 'k2', 'k3']) {
    const steps = new Set<number>()
    for (let i = rand.int(3, 12); i > 0; i--) steps.add(rand.int(0, 40))
    for (const step of steps) {
      const seq = rand.next() < 0.2 ? null : BigInt(rand.int(0, 1_000_000))
      rows.push({ key, asOfMs: baseMs + step * MINUTE + (key === 'k3' ? 1 : 0), seq, id: rows.length })
    }
  }
  return rows.sort(() => rand.next() - 0.5)
}

function boundsOf(rows: readonly TieRow[]): TieKeyBounds {
  return {
    asOfMinMs: Math.min(...rows.map((r) => r.asOfMs)),
    asOfMaxMs: Math.max(...rows.map((r) => r.asOfMs)),
    seqIndexBits: 21,
    tieFree: true,
  }
}

/** The rule by brute force (µs label times): greatest as_of ≤ t (no ties to break); null unless as_of > t − ttl. */
function expected(rows: readonly TieRow[], key: string | null, tUs: bigint): number | null {
  let best: TieRow | undefined
  for (const r of rows) {
    if (r.key !== key || BigInt(r.asOfMs) * 1000n > tUs) continue
    if (best === undefined || r.asOfMs > best.asOfMs) best = r
  }
  return best === undefined || BigInt(best.asOfMs) * 1000n <= tUs - BigInt(TTL) * 1000n ? null : best.id
}

function labelTimesUs(rows: readonly TieRow[]): bigint[] {
  const times = new Set<bigint>()
  for (const r of rows) {
    const at = BigInt(r.asOfMs) * 1000n
    for (const edge of [at, at + BigInt(TTL) * 1000n])
      for (const d of [-1001n, -1000n, -1n, 0n, 1n, 999n, 1000n]) times.add(edge + d)
  }
  return [...times]
}

async function labelSource(dir: string, labels: readonly { key: string | null; tUs: bigint }[]): Promise<LabelSource> {
  const floorDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? a / b : -((-a + b - 1n) / b))
  const ms = labels.map((l) => Number(floorDiv(l.tUs, 1000n)))
  const file = await encodeParquetColumns(
    [
      { name: 'user_id', type: 'string', fieldId: 1, required: false },
      { name: 'ts', type: 'timestamptz', fieldId: 2, required: true },
      { name: 'us', type: 'long', fieldId: 3, required: true },
    ],
    [labels.map((l) => l.key), ms, labels.map((l, i) => Number(l.tUs - BigInt(ms[i]!) * 1000n))],
  )
  await writeFile(join(dir, 'labels.parquet'), file.bytes)
  return {
    kind: 'derived',
    labels: join(dir, 'labels.parquet'),
    timeUs: `(epoch_us("ts") + "us")`,
    keys: { __kfs_k0: `CAST("user_id" AS VARCHAR)` },
    rowCount: labels.length,
  }
}

const sha256Of = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex')

void describe('point-in-time joiner > as_of alone on a tie-free table', () => {
  for (const [seed, baseMs] of [
    [1, 1_700_000_000_000],
    [2, -20 * MINUTE],
    [3, -86_400_000 * 400],
    [4, 1_500_000_000_000],
  ] as const) {
    void test(`chooses the rows the brute force and the 128-bit key choose, byte for byte (seed ${seed})`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-joiner-tie-free-'))
      dirs.push(dir)
      const rows = generateRows(seed, baseMs)
      const pairs = rows.map((r) => `${r.key}@${r.asOfMs}`)
      assert.equal(new Set(pairs).size, pairs.length, 'no (key, as_of) twice')
      const base: ViewJoinSpec = {
        files: await writeTieFeatureFiles(dir, rows, 2),
        features: [{ name: 'row_id', type: 'long' }],
        ttlMs: TTL,
        asServed: false,
        keyColumn: '__kfs_k0',
      }
      const tieFree: ViewJoinSpec = { ...base, tieKeyBounds: boundsOf(rows) }
      assert.equal(tieKeySql(tieFree.tieKeyBounds).type, 'AS_OF')
      assert.doesNotMatch(viewSql(tieFree, 0).join, /seq/, 'seq is not read')
      const { tieFree: _, ...vouchedOtherwise } = boundsOf(rows)
      assert.notEqual(tieKeySql(vouchedOtherwise).type, 'AS_OF', 'without the fact, never as_of alone')
      const labels: { key: string | null; tUs: bigint }[] = []
      for (const key of ['k0', 'k1', 'k2', 'k3', 'k9', null]) for (const tUs of labelTimesUs(rows)) labels.push({ key, tUs })
      const source = await labelSource(dir, labels)
      const want = labels.map((l) => expected(rows, l.key, l.tUs))
      assert.ok(want.filter((id) => id !== null).length > labels.length / 4, 'many labels find a row')
      const joiner = await createDuckDbJoiner({ tempDirectory: join(dir, 'spill') })
      try {
        assert.deepEqual((await joiner.fetch(source, tieFree))[0], want, 'fetch, as_of alone')
        const output = { columns: [{ column: 'v__row_id', view: 0, feature: 'row_id' }], keyValueMetadata: { test: 'tie-free' } }
        await joiner.write(source, [tieFree], { ...output, path: join(dir, 'as-of.parquet') })
        await joiner.write(source, [base], { ...output, path: join(dir, 'wide.parquet') })
        assert.equal(await sha256Of(join(dir, 'as-of.parquet')), await sha256Of(join(dir, 'wide.parquet')))
      } finally {
        await joiner.close()
      }
    })
  }
})
