/**
 * Labels as users write them (issue #17 item 4): Parquet as pandas 3 and polars write it
 * (large_string, dictionary strings, timestamps in s/ms/µs/ns with and without zone, int64 past
 * 2^53; written here through Arrow and parquet-wasm, which store the Arrow schema in the footer
 * as pyarrow does), CSV with 64-bit ids, invalid dates, label times up to 9999.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTrainingSet, labelTimeMs } from '../../../training/index.ts'
import { BASE_MS, generateRows, HOUR_MS, ITEMS, oracle, prng, registryWithViews, trainingDeps, USERS, views, writeRows, type GenRow } from './fixtures.ts'

const dirs: string[] = []
const duck = await (await DuckDBInstance.create(':memory:')).connect()
await duck.run(`SET TimeZone = 'UTC'`)
after(async () => {
  duck.closeSync()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'kfs-labels-as-written-'))
  dirs.push(d)
  return d
}

/** Rows of a Parquet file read by DuckDB, every cell as text (exact; lists as JSON), plus the column types. */
async function readBack(path: string, select = '*'): Promise<{ rows: Record<string, string | null>[]; types: Record<string, string> }> {
  const described = await duck.runAndReadAll(`DESCRIBE SELECT ${select} FROM read_parquet('${path}')`)
  const types = Object.fromEntries(described.getRowObjects().map((r) => [String(r.column_name), String(r.column_type)]))
  const result = await duck.runAndReadAll(`SELECT ${Object.keys(types).map((c) => (types[c]!.endsWith('[]') ? `CAST(to_json("${c}") AS VARCHAR) AS "${c}"` : `CAST("${c}" AS VARCHAR) AS "${c}"`)).join(', ')} FROM (SELECT ${select} FROM read_parquet('${path}'))`)
  return { rows: result.getRowObjects() as Record<string, string | null>[], types }
}

interface Label {
  user_id: string | null
  item_id: string
  ts: number
  txn_id: bigint
  label: number
}

function generateLabels(count: number, seed: number, grainMs = 1): Label[] {
  const rand = prng(seed)
  return Array.from({ length: count }, (_, i) => {
    const ts = BASE_MS + rand.int(-3, 130) * HOUR_MS + (rand.next() < 0.5 ? 0 : rand.pick([-1000, 1000, 1_800_000]))
    return {
      user_id: rand.next() < 0.05 ? 'u99' : rand.next() < 0.03 ? null : rand.pick(USERS),
      item_id: rand.pick(ITEMS),
      ts: Math.floor(ts / grainMs) * grainMs,
      txn_id: 9_007_199_254_740_993n + BigInt(i) * 2n,
      label: i % 2,
    }
  })
}

/** A Parquet file from Arrow vectors, as pyarrow writes one (the Arrow schema rides in the footer). */
async function arrowParquet(columns: Record<string, arrow.Vector>): Promise<string> {
  const table = new arrow.Table(columns)
  const bytes = pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), new pw.WriterPropertiesBuilder().build())
  const path = join(await tempDir(), 'labels.parquet')
  await writeFile(path, bytes)
  return path
}

const int64 = (values: readonly bigint[]): arrow.Vector => arrow.makeVector(arrow.makeData({ type: new arrow.Int64(), length: values.length, nullCount: 0, data: BigInt64Array.from(values) }))

type Unit = 's' | 'ms' | 'us' | 'ns'
const UNIT_TYPES = {
  s: (zone?: string) => new arrow.TimestampSecond(zone),
  ms: (zone?: string) => new arrow.TimestampMillisecond(zone),
  us: (zone?: string) => new arrow.TimestampMicrosecond(zone),
  ns: (zone?: string) => new arrow.TimestampNanosecond(zone),
}
const PER_MS = { s: 0n, ms: 1n, us: 1000n, ns: 1_000_000n }
/** Timestamps of one unit; below-ms digits are filled (999… µs/ns) to prove the label time floors them. */
function timestamps(ms: readonly number[], unit: Unit, zone?: string): arrow.Vector {
  const data = BigInt64Array.from(ms.map((t) => (unit === 's' ? BigInt(t / 1000) : BigInt(t) * PER_MS[unit] + (PER_MS[unit] - 1n))))
  return arrow.makeVector(arrow.makeData({ type: UNIT_TYPES[unit](zone), length: ms.length, nullCount: 0, data }))
}

function keyOf(view: FeatureViewDef, l: Label): string | null {
  const parts = view.entity.joinKeys.map((k) => (k === 'user_id' ? l.user_id : l.item_id))
  return parts.some((p) => p === null) ? null : encodeEntityKey(parts as string[])
}

async function seededStore(seed: number) {
  const store = new MemoryObjectStore()
  const rows = new Map<FeatureViewDef, GenRow[]>()
  for (const [i, v] of views.entries()) {
    const generated = generateRows(v, 300, seed * 10 + i)
    rows.set(v, generated)
    await writeRows(store, v, generated, 2)
  }
  return { store, rows, registry: await registryWithViews(store) }
}

/** user_purchases values with only `count` set. */
const countOnly = (n: number) => examples.userPurchases.features.map((f) => (f.name === 'count' ? n : null))

const allRefs = views.flatMap((v) => v.features.map((f) => `${v.name}:${f.name}`))

/** Every feature cell equals the brute-force oracle (compared as DuckDB's text of the value). */
function assertOracle(rows: readonly Record<string, string | null>[], labels: readonly Label[], byView: Map<FeatureViewDef, GenRow[]>): number {
  let nonNull = 0
  labels.forEach((l, r) => {
    for (const v of views) {
      const expected = oracle(byView.get(v)!, v, keyOf(v, l), l.ts, false)
      v.features.forEach((f, fi) => {
        const want = expected === null ? null : (expected[fi] ?? null)
        const got = rows[r]![`${v.name}__${f.name}`] ?? null
        const value = got === null ? null : Array.isArray(want) ? JSON.parse(got) : typeof want === 'number' ? Number(got) : got
        assert.deepEqual(value, want, `row ${r} ${v.name}:${f.name} at t=${l.ts}`)
        if (got !== null) nonNull++
      })
    }
  })
  return nonNull
}

async function build(store: MemoryObjectStore, registry: Awaited<ReturnType<typeof registryWithViews>>, labels: { path: string } | { bytes: Uint8Array; format: 'csv' }, features = allRefs) {
  const out = join(await tempDir(), 'set.parquet')
  await createTrainingSet({ ...trainingDeps(store), registry, labels, features, output: out })
  return out
}

void describe('training set > labels as users write them', () => {
  void test('pandas-3-like Parquet: large_string, dictionary strings, naive timestamp[ns], int64 ids past 2^53 — cells equal the oracle, ids exact', async () => {
    const { store, rows, registry } = await seededStore(21)
    const labels = generateLabels(300, 21)
    const path = await arrowParquet({
      user_id: arrow.vectorFromArray(
        labels.map((l) => l.user_id),
        new arrow.LargeUtf8(),
      ),
      item_id: arrow.vectorFromArray(
        labels.map((l) => l.item_id),
        new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()),
      ),
      ts: timestamps(
        labels.map((l) => l.ts),
        'ns',
      ),
      txn_id: int64(labels.map((l) => l.txn_id)),
      label: int64(labels.map((l) => BigInt(l.label))),
    })
    const out = await build(store, registry, { path })
    const { rows: cells, types } = await readBack(out)
    assert.ok(assertOracle(cells, labels, rows) > 150)
    assert.deepEqual(
      cells.map((c) => c.txn_id),
      labels.map((l) => String(l.txn_id)),
    )
    assert.equal(types.txn_id, 'BIGINT')
    assert.equal(types.ts, 'TIMESTAMP_NS', 'a Parquet label column keeps its own type')
    assert.equal(types.user_id, 'VARCHAR')
  })

  // timestamp[s] is written by DuckDB: pyarrow stores it as ms, arrow-rs as a bare INT64.
  // timestamp[ns] with a zone is refused naming the column: DuckDB reads it only to the µs
  // (audit-label-columns-as-written.test.ts); polars' own default unit is µs.
  for (const [unit, zone] of [
    ['us', 'UTC'],
    ['ms', undefined],
    ['us', 'Europe/Paris'],
    ['s', undefined],
  ] as const) {
    void test(`polars-like Parquet: large_string keys, timestamp[${unit}${zone === undefined ? '' : `, ${zone}`}] label time — cells equal the oracle`, async () => {
      const { store, rows, registry } = await seededStore(31)
      const labels = generateLabels(200, 31, unit === 's' ? 1000 : 1)
      const path = await arrowParquet({
        user_id: arrow.vectorFromArray(
          labels.map((l) => l.user_id),
          new arrow.LargeUtf8(),
        ),
        item_id: arrow.vectorFromArray(
          labels.map((l) => l.item_id),
          new arrow.LargeUtf8(),
        ),
        ts: timestamps(
          labels.map((l) => l.ts),
          unit === 's' ? 'ms' : unit,
          zone,
        ),
        label: int64(labels.map((l) => BigInt(l.label))),
      })
      if (unit === 's') await duck.run(`COPY (SELECT * REPLACE (CAST(ts AS TIMESTAMP_S) AS ts) FROM read_parquet('${path}')) TO '${path}.s.parquet' (FORMAT parquet)`)
      const { rows: cells, types } = await readBack(await build(store, registry, { path: unit === 's' ? `${path}.s.parquet` : path }))
      // A Parquet label column keeps the type DuckDB reads it as (ms and s widen to µs).
      assert.equal(types.ts, zone !== undefined ? 'TIMESTAMP WITH TIME ZONE' : (unit as Unit) === 'ns' ? 'TIMESTAMP_NS' : 'TIMESTAMP')
      assert.ok(assertOracle(cells, labels, rows) > 100)
    })
  }

  void test('CSV with 64-bit ids: id columns stay exact (BIGINT, or digits past int64), 64-bit entity keys match exactly', async () => {
    const store = new MemoryObjectStore()
    // Two user ids a double cannot tell apart: 2^53 + 1 would read as 2^53.
    await writeRows(store, examples.userPurchases, [{ entityKey: '9007199254740993', asOfMs: BASE_MS, createdAtMs: BASE_MS, offset: 0, values: countOnly(7) }])
    const registry = await registryWithViews(store)
    const csv = [
      'user_id,ts,txn_id,huge,ratio',
      `9007199254740993,${BASE_MS},9223372036854775807,123456789012345678901234567890,0.5`,
      `9007199254740992,${BASE_MS},-9223372036854775808,1,1`,
      `9007199254740993,${BASE_MS},9007199254740993,,`,
    ].join('\n')
    const out = await build(store, registry, { bytes: new TextEncoder().encode(csv), format: 'csv' }, ['user_purchases:count'])
    const { rows, types } = await readBack(out)
    assert.deepEqual(
      rows.map((r) => [r.user_id, r.txn_id, r.huge, r.user_purchases__count]),
      [
        ['9007199254740993', '9223372036854775807', '123456789012345678901234567890', '7'],
        ['9007199254740992', '-9223372036854775808', '1', null],
        ['9007199254740993', '9007199254740993', null, '7'],
      ],
    )
    assert.deepEqual([types.user_id, types.txn_id, types.huge, types.ratio], ['VARCHAR', 'BIGINT', 'VARCHAR', 'DOUBLE'])
  })

  void test('Parquet int64 entity keys past 2^53 match exactly (engine-derived and JS-encoded keys alike)', async () => {
    const store = new MemoryObjectStore()
    const key = 9_007_199_254_740_993n
    await writeRows(store, examples.userPurchases, [{ entityKey: String(key), asOfMs: BASE_MS, createdAtMs: BASE_MS, offset: 0, values: countOnly(3) }])
    await writeRows(store, views[3]!, [{ entityKey: encodeEntityKey([String(key), 'i1']), asOfMs: BASE_MS, createdAtMs: BASE_MS, offset: 0, values: [4] }])
    const registry = await registryWithViews(store)
    const path = await arrowParquet({
      user_id: int64([key, key - 1n]),
      item_id: arrow.vectorFromArray(['i1', 'i1'], new arrow.LargeUtf8()),
      ts: timestamps([BASE_MS, BASE_MS], 'us', 'UTC'),
    })
    const single = await readBack(await build(store, registry, { path }, ['user_purchases:count']))
    assert.deepEqual(
      single.rows.map((r) => r.user_purchases__count),
      ['3', null],
    )
    const composite = await readBack(await build(store, registry, { path }, ['user_item_clicks:count_1d']))
    assert.deepEqual(
      composite.rows.map((r) => r.user_item_clicks__count_1d),
      ['4', null],
    )
  })

  void test('the label time of CSV labels comes back as a UTC timestamp column, whether written as ISO text or epoch ms', async () => {
    const { store, registry } = await seededStore(41)
    const iso = new Date(BASE_MS + HOUR_MS).toISOString()
    const csv = `user_id,ts,label\nu1,${iso},1\nu2,${BASE_MS + 2 * HOUR_MS},0\nu3,2023-11-15 01:00:00,1\n`
    const out = await build(store, registry, { bytes: new TextEncoder().encode(csv), format: 'csv' }, ['user_purchases:count'])
    const { rows, types } = await readBack(out, 'user_id, epoch_ms(ts) AS ts_ms, ts, label')
    assert.equal(types.ts, 'TIMESTAMP WITH TIME ZONE')
    assert.equal(types.label, 'BIGINT')
    assert.deepEqual(
      rows.map((r) => Number(r.ts_ms)),
      [BASE_MS + HOUR_MS, BASE_MS + 2 * HOUR_MS, Date.UTC(2023, 10, 15, 1)],
    )
  })

  void test('invalid dates are refused with the row named (CSV text, Parquet text)', async () => {
    const { store, registry } = await seededStore(51)
    for (const bad of ['2026-02-30', '2025-02-29', '2026-13-01', '2026-04-31T10:00:00Z']) {
      const csv = `user_id,ts\nu1,2024-02-29\nu2,2026-01-31T23:59:59Z\nu3,${bad}\n`
      await assert.rejects(
        build(store, registry, { bytes: new TextEncoder().encode(csv), format: 'csv' }, ['user_purchases:count']),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'BAD_REQUEST' && /label row 3/.test(err.message) && err.message.includes(bad),
        bad,
      )
    }
    const path = await arrowParquet({
      user_id: arrow.vectorFromArray(['u1', 'u2'], new arrow.LargeUtf8()),
      ts: arrow.vectorFromArray(['2026-02-28T00:00:00Z', '2026-02-30T00:00:00Z'], new arrow.LargeUtf8()),
    })
    await assert.rejects(build(store, registry, { path }, ['user_purchases:count']), (err: unknown) => err instanceof FeatureStoreError && /label row 2/.test(err.message))
  })

  void test('label times up to 9999-12-31 build (CSV, Parquet timestamps, composite keys); year 10000 and before year 1 are refused by row', async () => {
    const { store, registry } = await seededStore(61)
    const last = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
    const csv = `user_id,item_id,ts\nu1,i1,9999-12-31T23:59:59.999Z\nu2,i2,${last}\nu1,i1,${BASE_MS}\n`
    for (const refs of [['user_purchases:count'], ['user_item_clicks:count_1d']]) {
      const { rows, types } = await readBack(await build(store, registry, { bytes: new TextEncoder().encode(csv), format: 'csv' }, refs), 'epoch_ms(ts) AS ts_ms, ts')
      assert.equal(types.ts, 'TIMESTAMP WITH TIME ZONE')
      assert.deepEqual(
        rows.map((r) => Number(r.ts_ms)),
        [last, last, BASE_MS],
      )
    }
    const path = await arrowParquet({ user_id: arrow.vectorFromArray(['u1', 'u2'], new arrow.LargeUtf8()), ts: timestamps([last, BASE_MS], 'us', 'UTC') })
    const { rows } = await readBack(await build(store, registry, { path }, ['user_purchases:count']), 'epoch_ms(ts) AS ts_ms')
    assert.deepEqual(
      rows.map((r) => Number(r.ts_ms)),
      [last, BASE_MS],
    )
    for (const bad of ['10000-01-01T00:00:00Z', String(last + 1), '-62135596800001']) {
      await assert.rejects(
        build(store, registry, { bytes: new TextEncoder().encode(`user_id,ts\nu1,${BASE_MS}\nu2,${bad}\n`), format: 'csv' }, ['user_purchases:count']),
        (err: unknown) => err instanceof FeatureStoreError && /label row 2/.test(err.message),
        bad,
      )
    }
  })

  void test('labelTimeMs: real calendar dates only, the 0001…9999 range, sub-ms floored', () => {
    assert.equal(labelTimeMs('2024-02-29', 0, 'ts'), Date.UTC(2024, 1, 29))
    assert.equal(labelTimeMs('2000-02-29T12:00:00Z', 0, 'ts'), Date.UTC(2000, 1, 29, 12))
    assert.equal(labelTimeMs('9999-12-31T23:59:59.999Z', 0, 'ts'), Date.UTC(9999, 11, 31, 23, 59, 59, 999))
    assert.equal(labelTimeMs(9_007_199_254_740n, 0, 'ts'), 9_007_199_254_740)
    assert.equal(labelTimeMs(1.9, 0, 'ts'), 1)
    for (const bad of ['1900-02-29', '2026-02-30', '2026-00-10', '2026-06-31', '2026-01-32T00:00:00Z']) {
      assert.throws(() => labelTimeMs(bad, 6, 'ts'), (err: unknown) => err instanceof FeatureStoreError && /label row 7: ts/.test(err.message), bad)
    }
  })
})
