/**
 * The point-in-time joiner's 64-bit tie key (adapters/duckdb/tie-key.ts), used when the table's
 * writer vouches for its rows (ports/feature-rows.ts TieKeyBounds): it must choose exactly the row
 * the 128-bit key chooses. Feature files hold what the engine's sink writes (seq = offset · 2²¹ +
 * row index, the index below 2^bits) plus null seqs; several rows share an as_of; times run before
 * 1970; label times fall before and after every row, on an as_of, a µs either side of it, inside
 * its millisecond, and on the TTL boundary. Each row's value is its own id; a brute-force scan says
 * which row each label must get, and the output file must be byte for byte the 128-bit key's.
 */
import { DuckDBInstance } from '@duckdb/node-api'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { createDuckDbJoiner, viewSql } from '../../../adapters/duckdb/duckdb-joiner.ts'
import { packedTieKey, tieKeySql } from '../../../adapters/duckdb/tie-key.ts'
import { encodeParquetColumns } from '../../../adapters/offline/parquet/index.ts'
import type { TieKeyBounds } from '../../../ports/feature-rows.ts'
import type { LabelSource, ViewJoinSpec } from '../../../ports/point-in-time-joiner.ts'
import { MAX_LABEL_TIME_MS, MIN_LABEL_TIME_MS } from '../../../training/index.ts'
import { prng } from './fixtures.ts'
import { writeTieFeatureFiles, type TieRow } from './tie-rows.ts'

const MINUTE = 60_000
const TTL = 5 * MINUTE

type Row = TieRow

interface Case {
  readonly name: string
  readonly seed: number
  /** First as_of (ms); the rows span about an hour from it. */
  readonly baseMs: number
  readonly bits: number
  readonly firstOffset: number
  readonly nullSeqs: 'some' | 'all' | 'none'
}

const CASES: readonly Case[] = [
  {
    name: 'row indexes of 3 bits, some null seqs',
    seed: 1,
    baseMs: 1_700_000_000_000,
    bits: 3,
    firstOffset: 1_000,
    nullSeqs: 'some',
  },
  {
    name: 'every index 0 (0 bits), times around 1970 (negative too)',
    seed: 2,
    baseMs: -30 * MINUTE,
    bits: 0,
    firstOffset: 0,
    nullSeqs: 'some',
  },
  {
    name: 'full 21-bit indexes, offsets past 2^32',
    seed: 3,
    baseMs: -86_400_000 * 400,
    bits: 21,
    firstOffset: 2 ** 33,
    nullSeqs: 'some',
  },
  { name: 'every seq null', seed: 4, baseMs: 1_600_000_000_000, bits: 0, firstOffset: 0, nullSeqs: 'all' },
]

/** No null seq (the table's files say so: TieKeyBounds.seqNullFree), so the rank skips its coalesce. */
const NULL_FREE_CASES: readonly Case[] = [
  { name: 'no null seq, every index 0', seed: 5, baseMs: 1_700_000_000_000, bits: 0, firstOffset: 0, nullSeqs: 'none' },
  { name: 'no null seq, 3-bit indexes, before 1970', seed: 6, baseMs: -3 * MINUTE, bits: 3, firstOffset: 77, nullSeqs: 'none' },
  { name: 'no null seq, 21-bit indexes', seed: 7, baseMs: 1_500_000_000_000, bits: 21, firstOffset: 2 ** 20, nullSeqs: 'none' },
]

/** Rows on a 10-minute grid (most (key, as_of) pairs hold several rows), seqs as the sink writes them. */
function generateRows(c: Case): Row[] {
  const rand = prng(c.seed)
  const rows: Row[] = []
  let offset = c.firstOffset
  const maxIndex = 2 ** c.bits - 1
  for (const key of ['k0', 'k1', 'k2', 'k3']) {
    for (let step = 0; step < 7; step++) {
      const asOfMs = c.baseMs + step * 10 * MINUTE + (key === 'k3' ? 1 : 0)
      const n = rand.int(1, 4)
      const seqs = new Set<bigint | null>()
      for (let i = 0; i < n; i++) {
        if (c.nullSeqs === 'all' || (c.nullSeqs === 'some' && rand.next() < 0.2)) seqs.add(null)
        else seqs.add((BigInt(offset + rand.int(0, 50)) << 21n) + BigInt(rand.next() < 0.3 ? maxIndex : rand.int(0, maxIndex)))
      }
      offset += 60
      for (const seq of seqs) rows.push({ key, asOfMs, seq, id: rows.length })
    }
  }
  return rows.sort(() => rand.next() - 0.5)
}

/** The bounds the pinned table would report for `rows`. */
function boundsOf(rows: readonly Row[], bits: number): TieKeyBounds {
  const seqs = rows.flatMap((r) => (r.seq === null ? [] : [r.seq]))
  return {
    asOfMinMs: Math.min(...rows.map((r) => r.asOfMs)),
    asOfMaxMs: Math.max(...rows.map((r) => r.asOfMs)),
    ...(seqs.length === 0
      ? {}
      : { seq: { min: seqs.reduce((a, b) => (b < a ? b : a)), max: seqs.reduce((a, b) => (b > a ? b : a)) } }),
    seqIndexBits: bits,
    ...(rows.every((r) => r.seq !== null) ? { seqNullFree: true } : {}),
  }
}

/** The rule by brute force (µs label times): greatest (as_of, seq) with as_of ≤ t, null seq lowest; null unless as_of > t − ttl. */
function expected(rows: readonly Row[], key: string | null, tUs: bigint): number | null {
  let best: Row | undefined
  const rank = (s: bigint | null): bigint => s ?? -(2n ** 64n)
  for (const r of rows) {
    if (r.key !== key || BigInt(r.asOfMs) * 1000n > tUs) continue
    if (best === undefined || r.asOfMs > best.asOfMs || (r.asOfMs === best.asOfMs && rank(r.seq) > rank(best.seq))) best = r
  }
  return best === undefined || BigInt(best.asOfMs) * 1000n <= tUs - BigInt(TTL) * 1000n ? null : best.id
}

/** Label times (µs) at every edge the key's label side maps: before, on and after each as_of and each TTL boundary. */
function labelTimesUs(rows: readonly Row[]): bigint[] {
  const times = new Set<bigint>([BigInt(MIN_LABEL_TIME_MS) * 1000n, BigInt(MAX_LABEL_TIME_MS) * 1000n])
  for (const r of rows) {
    const at = BigInt(r.asOfMs) * 1000n
    for (const edge of [at, at + BigInt(TTL) * 1000n])
      for (const d of [-1001n, -1000n, -1n, 0n, 1n, 999n, 1000n]) times.add(edge + d)
  }
  return [...times]
}

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** A derived label source whose time is ms + a µs remainder, so label times need not be whole ms. */
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

async function sha256Of(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex')
}

void describe('point-in-time joiner > the 64-bit tie key', () => {
  for (const c of [...CASES, ...NULL_FREE_CASES]) {
    void test(`chooses the rows the brute force and the 128-bit key choose, byte for byte (${c.name})`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-joiner-packed-'))
      dirs.push(dir)
      const rows = generateRows(c)
      const bounds = boundsOf(rows, c.bits)
      const base: ViewJoinSpec = {
        files: await writeTieFeatureFiles(dir, rows, 2),
        features: [{ name: 'row_id', type: 'long' }],
        ttlMs: TTL,
        asServed: false,
        keyColumn: '__kfs_k0',
      }
      const packed: ViewJoinSpec = { ...base, tieKeyBounds: bounds }
      assert.equal(tieKeySql(bounds).type, 'BIGINT')
      assert.doesNotMatch(viewSql(packed, 0).join, /HUGEINT/)
      assert.match(viewSql(base, 0).join, /HUGEINT/)
      // The feature side divides nothing when the span allows (here it does), and skips the
      // coalesce exactly when no seq is null.
      assert.doesNotMatch(tieKeySql(bounds).key, /\/\//)
      assert.equal(/coalesce/.test(tieKeySql(bounds).key), c.nullSeqs === 'some', 'coalesce only with some null seqs')
      const labels: { key: string | null; tUs: bigint }[] = []
      for (const key of ['k0', 'k1', 'k2', 'k3', 'k9', null]) for (const tUs of labelTimesUs(rows)) labels.push({ key, tUs })
      const source = await labelSource(dir, labels)
      const want = labels.map((l) => expected(rows, l.key, l.tUs))
      assert.ok(want.filter((id) => id !== null).length > labels.length / 4, 'many labels find a row')
      // (With every seq null, a (key, as_of) holds one row: two would be a tie no rule breaks.)
      const ties = labels.some(
        (l, i) => want[i] !== null && rows.filter((r) => r.key === l.key && r.asOfMs === rows[want[i]!]!.asOfMs).length > 1,
      )
      assert.equal(ties, c.nullSeqs !== 'all', 'some labels land on a tie')
      const joiner = await createDuckDbJoiner({ tempDirectory: join(dir, 'spill') })
      try {
        assert.deepEqual((await joiner.fetch(source, packed))[0], want, 'fetch, 64-bit key')
        const output = { columns: [{ column: 'v__row_id', view: 0, feature: 'row_id' }], keyValueMetadata: { test: 'packed' } }
        await joiner.write(source, [packed], { ...output, path: join(dir, 'packed.parquet') })
        await joiner.write(source, [base], { ...output, path: join(dir, 'wide.parquet') })
        assert.equal(await sha256Of(join(dir, 'packed.parquet')), await sha256Of(join(dir, 'wide.parquet')))
      } finally {
        await joiner.close()
      }
    })
  }

  for (const c of [...CASES, ...NULL_FREE_CASES]) {
    void test(`the key orders (as_of, seq) strictly, null seq first, and key ≤ highestAt(t) ⇔ as_of ≤ t (${c.name})`, async () => {
      const rows = generateRows(c)
      const bounds = boundsOf(rows, c.bits)
      const { key, highestAt } = packedTieKey(bounds)!
      // The rows, and at both ends of the as_of span a null seq (unless the bounds say there is none)
      // beside the lowest and highest seq.
      const ends = [bounds.asOfMinMs, bounds.asOfMaxMs].flatMap((asOfMs) =>
        [null, bounds.seq?.min ?? null, bounds.seq?.max ?? null]
          .filter((seq) => seq !== null || bounds.seqNullFree !== true)
          .map((seq) => ({ asOfMs, seq })),
      )
      const pairs = [...rows, ...ends].sort(
        (a, b) =>
          a.asOfMs - b.asOfMs || (a.seq === b.seq ? 0 : a.seq === null ? -1 : b.seq === null ? 1 : a.seq < b.seq ? -1 : 1),
      )
      const times = labelTimesUs(rows)
      const instance = await DuckDBInstance.create(':memory:')
      const connection = await instance.connect()
      try {
        const values = pairs
          .map(
            (p, i) =>
              `(${i}, make_timestamp(${BigInt(p.asOfMs) * 1000n}::BIGINT), ${p.seq === null ? 'NULL' : `${p.seq}::BIGINT`})`,
          )
          .join(', ')
        const keyRows = (await connection.runAndReadAll(`SELECT ${key} FROM (VALUES ${values}) t(i, as_of, seq) ORDER BY i`))
          .getRows()
          .map((r) => r[0] as bigint)
        const tValues = times.map((t, j) => `(${j}, ${t}::BIGINT)`).join(', ')
        const highest = (await connection.runAndReadAll(`SELECT ${highestAt('t')} FROM (VALUES ${tValues}) l(j, t) ORDER BY j`))
          .getRows()
          .map((r) => r[0] as bigint)
        for (let i = 1; i < pairs.length; i++) {
          const same = pairs[i]!.asOfMs === pairs[i - 1]!.asOfMs && pairs[i]!.seq === pairs[i - 1]!.seq
          assert.ok(
            same ? keyRows[i] === keyRows[i - 1] : keyRows[i]! > keyRows[i - 1]!,
            `key of pair ${i} above pair ${i - 1}'s`,
          )
        }
        assert.ok(keyRows[0]! >= 0n && keyRows.at(-1)! < 2n ** 62n)
        times.forEach((t, j) => {
          for (let i = 0; i < pairs.length; i++)
            assert.equal(keyRows[i]! <= highest[j]!, BigInt(pairs[i]!.asOfMs) * 1000n <= t, `pair ${i} at t = ${t} µs`)
        })
      } finally {
        connection.closeSync()
        instance.closeSync()
      }
    })
  }

  void test('ranks that fit per ms but not rounded up to a multiple of 1000 keep the division, and order right', async () => {
    for (const c of [CASES[1]!, NULL_FREE_CASES[0]!]) {
      const rows = generateRows(c)
      const bounds = boundsOf(rows, c.bits)
      const spanMs = BigInt(bounds.asOfMaxMs - bounds.asOfMinMs + 1)
      // The largest rank count that fits per ms; not a multiple of 1000, so rounding it up does not fit.
      let ranks = 2n ** 62n / spanMs
      if (ranks % 1000n === 0n) ranks -= 1n
      const minOffset = bounds.seq!.min >> 21n
      // Every index 0 (bits = 0): ranks = offsets + 1.
      const wide: TieKeyBounds = { ...bounds, seq: { min: bounds.seq!.min, max: (ranks - 2n + minOffset) << 21n } }
      const packed = packedTieKey(wide)!
      assert.equal(packed.type, 'BIGINT')
      assert.match(packed.key, /\/\/ 1000\) \* \d+/, 'the µs are divided back to ms')
      const instance = await DuckDBInstance.create(':memory:')
      const connection = await instance.connect()
      try {
        const sorted = [...rows].sort((a, b) => a.asOfMs - b.asOfMs || (a.seq === b.seq ? 0 : a.seq === null ? -1 : b.seq === null ? 1 : a.seq < b.seq ? -1 : 1))
        const values = sorted.map((p, i) => `(${i}, make_timestamp(${BigInt(p.asOfMs) * 1000n}::BIGINT), ${p.seq === null ? 'NULL' : `${p.seq}::BIGINT`})`).join(', ')
        const keys = (await connection.runAndReadAll(`SELECT ${packed.key} FROM (VALUES ${values}) t(i, as_of, seq) ORDER BY i`)).getRows().map((r) => r[0] as bigint)
        const times = labelTimesUs(rows)
        const highest = (await connection.runAndReadAll(`SELECT ${packed.highestAt('t')} FROM (VALUES ${times.map((t, j) => `(${j}, ${t}::BIGINT)`).join(', ')}) l(j, t) ORDER BY j`)).getRows().map((r) => r[0] as bigint)
        for (let i = 1; i < sorted.length; i++) {
          const same = sorted[i]!.asOfMs === sorted[i - 1]!.asOfMs && sorted[i]!.seq === sorted[i - 1]!.seq
          assert.ok(same ? keys[i] === keys[i - 1] : keys[i]! > keys[i - 1]!, `key of row ${i} above row ${i - 1}'s`)
        }
        times.forEach((t, j) => {
          for (let i = 0; i < sorted.length; i++) assert.equal(keys[i]! <= highest[j]!, BigInt(sorted[i]!.asOfMs) * 1000n <= t, `row ${i} at t = ${t} µs`)
        })
      } finally {
        connection.closeSync()
        instance.closeSync()
      }
    }
  })

  void test('bounds whose spans do not fit fall back to the 128-bit key, and still choose right', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-joiner-packed-'))
    dirs.push(dir)
    // Year 1 to year 9999 in ms (~2^48) with 21-bit indexes over 2^20 offsets (~2^41 ranks).
    const rows: Row[] = [
      { key: 'k0', asOfMs: MIN_LABEL_TIME_MS, seq: 5n << 21n, id: 0 },
      { key: 'k0', asOfMs: MAX_LABEL_TIME_MS, seq: (1n << 41n) - 1n, id: 1 },
      { key: 'k0', asOfMs: MAX_LABEL_TIME_MS, seq: 6n << 21n, id: 2 },
    ]
    const bounds = boundsOf(rows, 21)
    assert.equal(packedTieKey(bounds), undefined)
    const spec: ViewJoinSpec = {
      files: await writeTieFeatureFiles(dir, rows, 2),
      features: [{ name: 'row_id', type: 'long' }],
      ttlMs: TTL,
      asServed: false,
      keyColumn: '__kfs_k0',
      tieKeyBounds: bounds,
    }
    assert.match(viewSql(spec, 0).join, /HUGEINT/)
    const labels = labelTimesUs(rows).map((tUs) => ({ key: 'k0', tUs }))
    const joiner = await createDuckDbJoiner({ tempDirectory: join(dir, 'spill') })
    try {
      assert.deepEqual(
        (await joiner.fetch(await labelSource(dir, labels), spec))[0],
        labels.map((l) => expected(rows, l.key, l.tUs)),
      )
    } finally {
      await joiner.close()
    }
  })

  void test('the 64-bit form only when spanMs · ranks ≤ 2^62, with seqs ≥ 0 and at most 21 index bits', () => {
    const at = (asOfMaxMs: number, seqMax: bigint, seqIndexBits: number, seqMin = 0n) =>
      packedTieKey({ asOfMinMs: 0, asOfMaxMs, seq: { min: seqMin, max: seqMax }, seqIndexBits })
    // spanMs = 2^31, ranks = (2^10 << 21) + 1 = 2^31 + 1: 2^62 + 2^31 > 2^62.
    assert.equal(at(2 ** 31 - 1, ((2n ** 10n - 1n) << 21n) + 1n, 21), undefined)
    // ranks = 2^31 (offsets 0 … 2^31 − 2, no index bits, + 1 for null): exactly 2^62.
    assert.equal(at(2 ** 31 - 1, (2n ** 31n - 2n) << 21n, 0)?.type, 'BIGINT')
    assert.equal(at(2 ** 31 - 1, (2n ** 31n - 1n) << 21n, 0), undefined)
    assert.equal(at(1000, 10n, 22), undefined, 'more index bits than a seq has')
    assert.equal(at(1000, 10n, 0, -1n), undefined, 'a negative seq is no archive position')
    assert.equal(packedTieKey({ asOfMinMs: 5, asOfMaxMs: 4, seqIndexBits: 0 }), undefined, 'no rows')
    assert.equal(packedTieKey({ asOfMinMs: 0, asOfMaxMs: 0.5, seqIndexBits: 0 }), undefined, 'not whole ms')
    assert.equal(tieKeySql(undefined).type, 'HUGEINT', 'a table without the writer facts')
  })
})
