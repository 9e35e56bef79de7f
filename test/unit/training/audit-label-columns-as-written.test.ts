/**
 * Label columns reach a training set's output as the user wrote them (training/README.md, "Labels
 * as users write them"), or the build is refused naming the column. DuckDB reads a Parquet
 * TIMESTAMP(NANOS, isAdjustedToUTC=true) column — what pandas writes for a tz-aware datetime — as
 * µs truncated toward zero: `.123456789` came back `.123456` and 1 ns before 1970 as 1970 itself,
 * silently. Every timestamp unit × with or without a zone × nulls and pre-1970 values (written by
 * Arrow, as pyarrow writes them; also nested in a list and a struct), and every other column type
 * DuckDB writes (decimal, date, time, every integer width, float/double with NaN and -0, bool,
 * strings with non-BMP characters, blob, uuid, list, struct, map) is checked value by value.
 *
 * The label time itself: a TIMESTAMP_NS label time 1 ns before a feature row's as_of must not
 * match that row — floored to the ms (as of), never truncated toward zero (before 1970 that rounds
 * up, into the feature row's ms).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm/node'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { createTrainingSet } from '../../../training/index.ts'
import { BASE_MS, registryWithViews, trainingDeps, writeRows, type GenRow } from './fixtures.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-label-as-written-'))
const instance = await DuckDBInstance.create(':memory:')
const duck = await instance.connect()
await duck.run(`SET TimeZone = 'UTC'`)
after(async () => {
  duck.closeSync()
  instance.closeSync()
  await rm(dir, { recursive: true, force: true })
})

const store = new MemoryObjectStore()
const registry = await registryWithViews(store, [examples.userClicks])
let files = 0
const build = (path: string) =>
  createTrainingSet({
    ...trainingDeps(store),
    registry,
    labels: { path },
    features: ['user_clicks:count_1h'],
    output: join(dir, `out-${files++}.parquet`),
  })

/** One Arrow column with nulls where `values` has null (int64 data). */
function int64Column<T extends arrow.Timestamp>(type: T, values: readonly (bigint | null)[]): arrow.Data<T> {
  const bitmap = new Uint8Array(Math.ceil(values.length / 8))
  values.forEach((v, i) => {
    if (v !== null) bitmap[i >> 3]! |= 1 << (i & 7)
  })
  return arrow.makeData({
    type,
    length: values.length,
    nullCount: values.filter((v) => v === null).length,
    nullBitmap: bitmap,
    data: BigInt64Array.from(values.map((v) => v ?? 0n)),
  })
}

/** A label file as pyarrow writes one: user_id, ts (ms), and `carried`. */
async function arrowLabels(carried: arrow.Data, rows: number): Promise<string> {
  const table = new arrow.Table({
    user_id: arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => `u${i}`)),
    ts: arrow.makeVector(
      int64Column(
        new arrow.TimestampMillisecond(),
        Array.from({ length: rows }, (_, i) => BigInt(BASE_MS + i)),
      ),
    ),
    c: arrow.makeVector(carried),
  })
  const path = join(dir, `labels-${files++}.parquet`)
  await writeFile(
    path,
    pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), new pw.WriterPropertiesBuilder().build()),
  )
  return path
}

type Unit = 's' | 'ms' | 'us' | 'ns'
const UNIT_TYPES = {
  s: (zone?: string) => new arrow.TimestampSecond(zone),
  ms: (zone?: string) => new arrow.TimestampMillisecond(zone),
  us: (zone?: string) => new arrow.TimestampMicrosecond(zone),
  ns: (zone?: string) => new arrow.TimestampNanosecond(zone),
}
const NS_PER = { s: 1_000_000_000n, ms: 1_000_000n, us: 1000n, ns: 1n }
/** Per unit: every digit of the unit set, 1 unit before 1970, a pre-1970 value with digits, 0, a null. */
const RAW: Record<Unit, (bigint | null)[]> = {
  s: [1_700_000_000n, -1n, -2_000_000_001n, 0n, null],
  ms: [1_700_000_000_123n, -1n, -2_000_000_000_123n, 0n, null],
  us: [1_700_000_000_123_456n, -1n, -2_000_000_000_123_456n, 0n, null],
  ns: [1_700_000_000_123_456_789n, -1n, -2_000_000_000_123_456_789n, 0n, null],
}

/** The output's column `c` as exact integers: ns since 1970 for a timestamp, the value for an integer. */
async function carriedOut(path: string): Promise<{ type: string; values: (bigint | null)[] }> {
  const type = String((await duck.runAndReadAll(`SELECT typeof(c) FROM read_parquet('${path}') LIMIT 1`)).getRows()[0]![0])
  const expr = type.startsWith('TIMESTAMP') ? 'epoch_ns(c)' : 'CAST(c AS BIGINT)'
  const rows = (await duck.runAndReadAll(`SELECT ${expr} FROM read_parquet('${path}')`)).getRows()
  return { type, values: rows.map((r) => (r[0] === null ? null : BigInt(r[0] as bigint))) }
}

const refusedNaming = (column: string) => (err: unknown) =>
  err instanceof FeatureStoreError &&
  err.code === 'BAD_REQUEST' &&
  err.message.includes(`column ${column} `) &&
  /nanosecond/.test(err.message)

void describe('training set > label columns come back as written', () => {
  for (const unit of ['s', 'ms', 'us', 'ns'] as const)
    for (const zone of [undefined, 'UTC', '+02:00']) {
      const raw = RAW[unit]
      void test(`timestamp[${unit}${zone === undefined ? '' : `, ${zone}`}] with nulls and pre-1970 values: equal to the input, or refused naming the column`, async () => {
        const path = await arrowLabels(int64Column(UNIT_TYPES[unit](zone), raw), raw.length)
        if (unit === 'ns' && zone !== undefined) {
          // DuckDB can read these only to the µs: refused, never truncated.
          await assert.rejects(build(path), refusedNaming('c'))
          return
        }
        const { output } = await build(path)
        const { type, values } = await carriedOut(output)
        // Arrow writes timestamp[s] as a bare INT64 (pyarrow coerces it to ms): its numbers come back.
        const expected = type === 'BIGINT' ? raw : raw.map((v) => (v === null ? null : v * NS_PER[unit]))
        assert.deepEqual(values, expected, `column c is ${type}`)
      })
    }

  for (const [what, data] of [
    [
      'list<timestamp[ns, UTC]>',
      () =>
        arrow.makeData({
          type: new arrow.List(new arrow.Field('item', new arrow.TimestampNanosecond('UTC'), true)),
          length: 1,
          nullCount: 0,
          valueOffsets: Int32Array.from([0, 1]),
          child: int64Column(new arrow.TimestampNanosecond('UTC'), [1n]),
        }),
    ],
    [
      'struct{t: timestamp[ns, UTC]}',
      () =>
        arrow.makeData({
          type: new arrow.Struct([new arrow.Field('t', new arrow.TimestampNanosecond('UTC'), true)]),
          length: 1,
          nullCount: 0,
          children: [int64Column(new arrow.TimestampNanosecond('UTC'), [1n])],
        }),
    ],
  ] as const)
    void test(`${what} nested in a label column: refused naming the column`, async () => {
      await assert.rejects(build(await arrowLabels(data(), 1)), refusedNaming('c'))
    })

  void test('every other column type DuckDB writes comes back with its type and every value', async () => {
    const path = join(dir, `labels-${files++}.parquet`)
    const columns: Record<string, string> = {
      dec: `CAST(v AS DECIMAL(38,10)) / 7`,
      dec4: `CAST(v AS DECIMAL(4,2)) / 100`,
      d: `DATE '1969-12-31' + CAST(v AS INTEGER)`,
      tm: `TIME '00:00:00' + to_microseconds(CAST(v AS BIGINT) * 1000001)`,
      tmns: `CAST('00:00:00.123456789' AS TIME_NS)`,
      tsns: `make_timestamp_ns(CAST(v AS BIGINT) * 1000000007 - 1)`,
      i8: `CAST(v - 2 AS TINYINT)`,
      i16: `CAST(v * 1000 - 32768 AS SMALLINT)`,
      i32: `CAST(v * -1 AS INTEGER)`,
      i64: `CAST(9223372036854775807 - v AS BIGINT)`,
      u8: `CAST(255 - v AS UTINYINT)`,
      u16: `CAST(v AS USMALLINT)`,
      u32: `CAST(4294967295 - v AS UINTEGER)`,
      u64: `CAST(18446744073709551615 - v AS UBIGINT)`,
      f32: `CASE v WHEN 0 THEN CAST('nan' AS FLOAT) WHEN 1 THEN CAST(-0.0 AS FLOAT) WHEN 2 THEN CAST('-inf' AS FLOAT) ELSE CAST(v AS FLOAT) / 3 END`,
      f64: `CASE v WHEN 0 THEN CAST('nan' AS DOUBLE) WHEN 1 THEN -0.0 WHEN 2 THEN CAST('inf' AS DOUBLE) ELSE v / 3 END`,
      b: `v % 2 = 0`,
      s: `CASE v WHEN 0 THEN '' WHEN 1 THEN '😀 𝄞 mixed ü' ELSE repeat('x', CAST(v AS INTEGER)) END`,
      bin: `CAST(chr(CAST(v AS INTEGER)) || '\\x00\\xFF' AS BLOB)`,
      id: `CAST('00000000-0000-0000-0000-00000000000' || CAST(v AS VARCHAR) AS UUID)`,
      l: `[v, NULL, v * 2]`,
      st: `{'a': v, 'b': 'x' || v}`,
      m: `MAP {'k' || v: v}`,
    }
    const select = Object.entries(columns).map(([name, sql]) => `CASE WHEN v = 4 THEN NULL ELSE ${sql} END AS ${name}`)
    await duck.run(
      `COPY (SELECT 'u' || v AS user_id, make_timestamp(${BASE_MS * 1000} + v) AS ts, ${select.join(', ')} FROM range(0, 6) r(v)) TO '${path}' (FORMAT parquet)`,
    )
    const { output } = await build(path)
    const text = (file: string) =>
      duck.runAndReadAll(
        `SELECT ${Object.keys(columns)
          .map((c) => `typeof(${c}) || ':' || coalesce(CAST(${c} AS VARCHAR), 'NULL')`)
          .join(', ')} FROM read_parquet('${file}')`,
      )
    const [input, out] = [(await text(path)).getRows(), (await text(output)).getRows()]
    assert.equal(out.length, 6)
    Object.keys(columns).forEach((c, i) =>
      assert.deepEqual(
        out.map((r) => r[i]),
        input.map((r) => r[i]),
        `column ${c}`,
      ),
    )
  })

  void test('a TIMESTAMP_NS label time 1 ns before a feature row does not match it, before 1970 and after', async () => {
    const at = [0, -60_000, BASE_MS] // feature rows' as_of (ms): the epoch, before it, after it
    const rows: GenRow[] = at.map((asOfMs, i) => ({
      entityKey: `t${i}`,
      asOfMs,
      createdAtMs: asOfMs,
      offset: i,
      values: examples.userClicks.features.map((f) => (f.name === 'count_1h' ? 7 : null)),
    }))
    const own = new MemoryObjectStore()
    await writeRows(own, examples.userClicks, rows)
    const reg = await registryWithViews(own, [examples.userClicks])
    for (const composite of [false, true]) {
      // A composite label key makes the times go through JS (label-source.ts `files`), else SQL derives them.
      const path = join(dir, `labels-${files++}.parquet`)
      const labels = at.flatMap((ms, i) => [
        [`t${i}`, `${BigInt(ms) * 1_000_000n - 1n}`, 'null'],
        [`t${i}`, `${BigInt(ms) * 1_000_000n}`, '7'],
        [`t${i}`, `${BigInt(ms) * 1_000_000n + 999_999n}`, '7'],
      ])
      const values = labels.map(([k, ns]) => `('${k}', make_timestamp_ns(${ns}))`).join(', ')
      await duck.run(
        `COPY (SELECT user_id, ts${composite ? `, 'x' AS item_id` : ''} FROM (VALUES ${values}) v(user_id, ts)) TO '${path}' (FORMAT parquet)`,
      )
      const features = composite ? ['user_clicks:count_1h', 'user_item_clicks:count_1d'] : ['user_clicks:count_1h']
      if (composite) await reg.setBackfillStatus('user_item_clicks', 1, { state: 'complete' })
      const { output } = await createTrainingSet({
        ...trainingDeps(own),
        registry: reg,
        labels: { path },
        features,
        output: join(dir, `out-${files++}.parquet`),
      })
      const got = (await duck.runAndReadAll(`SELECT CAST(user_clicks__count_1h AS VARCHAR) FROM read_parquet('${output}')`))
        .getRows()
        .map((r) => String(r[0]))
      assert.deepEqual(
        got,
        labels.map(([, , want]) => want),
        composite ? 'times in JS' : 'times in SQL',
      )
    }
  })
})
