import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeParquetFile, encodeParquetColumns, readParquetRows, readParquetBatches, parquetFileInfo, type ParquetBatch, type ParquetColumn } from '../../../adapters/offline/parquet/index.ts'
import { loopTurnsDuring } from '../../support/loop-turns.ts'

const columns: ParquetColumn[] = [
  { name: 'entity_key', type: 'string', fieldId: 1, required: true },
  { name: 'as_of', type: 'timestamptz', fieldId: 2, required: true },
  { name: 'n', type: 'long', fieldId: 3, required: false },
  { name: 'x', type: 'double', fieldId: 4, required: false },
  { name: 'p', type: 'int', fieldId: 5, required: false },
  { name: 'b', type: 'binary', fieldId: 6, required: false },
  { name: 'ld', type: 'list<double>', fieldId: 7, elementId: 8, required: false },
  { name: 'ls', type: 'list<string>', fieldId: 9, elementId: 10, required: false },
  { name: 'll', type: 'list<long>', fieldId: 11, elementId: 12, required: false },
]

function makeRows(count: number): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = []
  for (let i = 0; i < count; i++) {
    rows.push({
      entity_key: i % 7 === 0 ? `ключ-${i}-🙂` : `user-${i}`,
      as_of: 1_705_314_600_000 + i * 1000 - (i % 3 === 0 ? 86_400_000 * 20_000 : 0),
      n: i % 5 === 0 ? null : i * 1_000_003 - 500,
      x: i % 4 === 0 ? null : i / 3,
      p: i % 6 === 0 ? null : i - 10,
      b: i % 3 === 0 ? null : new Uint8Array([i & 255, 0, 255]),
      ld: i % 8 === 0 ? null : Array.from({ length: i % 4 }, (_, j) => j + 0.5),
      ls: i % 9 === 0 ? null : Array.from({ length: i % 3 }, (_, j) => `s${j}`),
      ll: i % 10 === 0 ? null : Array.from({ length: i % 5 }, (_, j) => j * i),
    })
  }
  return rows
}

void describe('sinks > parquet > file', () => {
  void test('every column type round-trips, across several row groups', async () => {
    const rows = makeRows(2_500)
    const file = await encodeParquetFile(columns, rows, { rowGroupRows: 1_000 })
    assert.equal(file.rowCount, rows.length)
    assert.deepEqual(await parquetFileInfo(file.bytes), { rowGroups: 3, rows: rows.length })
    const back: Record<string, unknown>[] = []
    for await (const row of readParquetRows(file.bytes)) back.push(row)
    assert.equal(back.length, rows.length)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!
      const b = back[i]!
      assert.deepEqual({ ...b, b: b.b === null ? null : [...(b.b as Uint8Array)] }, { ...r, b: r.b === null ? null : [...(r.b as Uint8Array)] }, `row ${i}`)
    }
  })

  void test('compact reading: the same values as the default one for every column type, longs and times as numbers', async () => {
    const rows = makeRows(2_500)
    // A long beyond 2^53 in one row group: that column reads as longAs says there, numbers in the others.
    rows[1_700]!.n = 2n ** 60n + 3n
    const file = await encodeParquetFile(columns, rows, { rowGroupRows: 1_000 })
    for (const longAs of ['number', 'bigint'] as const) {
      if (longAs === 'number') rows[1_700]!.n = null
      const bytes = longAs === 'number' ? (await encodeParquetFile(columns, rows, { rowGroupRows: 1_000 })).bytes : file.bytes
      const plain: ParquetBatch[] = []
      for await (const b of readParquetBatches(bytes, { longAs, binaryViews: true })) plain.push(b)
      const compact: ParquetBatch[] = []
      for await (const b of readParquetBatches(bytes, { longAs, binaryViews: true, compact: true })) compact.push(b)
      assert.equal(compact.length, plain.length)
      for (let g = 0; g < plain.length; g++) {
        const [p, c] = [plain[g]!, compact[g]!]
        assert.deepEqual(c.types, p.types)
        for (const name of Object.keys(p.columns)) {
          const expected = p.columns[name]!.map((v) => (typeof v === 'bigint' && (g !== 1 || name !== 'n') ? Number(v) : v))
          assert.deepEqual(c.columns[name], expected, `${longAs}, row group ${g}, column ${name}`)
        }
        const kinds = new Set(c.columns.n!.filter((v) => v !== null).map((v) => typeof v))
        assert.deepEqual([...kinds], [longAs === 'bigint' && g === 1 ? 'bigint' : 'number'], `${longAs}, row group ${g}`)
      }
    }
  })

  void test('stats: counts and numeric bounds, NaN excluded', async () => {
    const rows = [
      { entity_key: 'a', as_of: 5_000, n: 7, x: Number.NaN, p: 3 },
      { entity_key: 'b', as_of: -2_000, n: null, x: -1.5, p: -4 },
      { entity_key: 'c', as_of: 9_000, n: -3, x: 2.25, p: null },
    ]
    const file = await encodeParquetFile(columns, rows)
    const [key, asOf, n, x, p] = file.stats
    assert.deepEqual([key!.valueCount, key!.nullCount, key!.min], [3, 0, undefined])
    assert.deepEqual([asOf!.min, asOf!.max], [-2_000_000n, 9_000_000n])
    assert.deepEqual([n!.nullCount, n!.min, n!.max], [1, -3n, 7n])
    assert.deepEqual([x!.nanCount, x!.min, x!.max], [1, -1.5, 2.25])
    assert.deepEqual([p!.nullCount, p!.min, p!.max], [1, -4, 3])
    assert.equal(file.columnSizes.length, columns.length)
    assert.ok(file.columnSizes.every((s) => s > 0))
  })

  void test('stats: signed zeros order −0 before +0, and all-NaN or all-null columns have no bounds', async () => {
    const bounds = async (xs: (number | null)[]) => {
      const file = await encodeParquetFile(columns, xs.map((x, i) => ({ entity_key: `k${i}`, as_of: i, x })))
      const x = file.stats[3]!
      return [x.min, x.max, x.nanCount, x.nullCount]
    }
    const sign = (v: unknown) => (typeof v === 'number' && v === 0 ? (Object.is(v, -0) ? '-0' : '+0') : v)
    const signs = async (xs: (number | null)[]) => (await bounds(xs)).map((v, i) => (i < 2 ? sign(v) : v))
    assert.deepEqual(await signs([0, -0]), ['-0', '+0', 0, 0])
    assert.deepEqual(await signs([-0, 0]), ['-0', '+0', 0, 0])
    assert.deepEqual(await signs([-0, -0, null]), ['-0', '-0', 0, 1])
    assert.deepEqual(await bounds([Number.NaN, Number.NaN]), [undefined, undefined, 2, 0])
    assert.deepEqual(await bounds([null, null]), [undefined, undefined, 0, 2])
    assert.deepEqual(await bounds([3, Number.NaN, -7.5, null, 1e300]), [-7.5, 1e300, 1, 1])
  })

  void test('64-bit columns: negative, 2^32 boundaries, ±(2^53−1), bigints and digit strings are exact', async () => {
    const big = 2n ** 62n + 12345n
    const longs: unknown[] = [0, -1, 1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), big, -big, '9007199254740993', null]
    const times = [0, -1, 1, 2 ** 32, -(2 ** 32) - 7, 1_705_314_600_123, -62_135_596_800_000, 8_640_000_000_000_000, 5, 6, 7, 8, 9]
    const rows = longs.map((n, i) => ({ entity_key: `k${i}`, as_of: times[i], n }))
    const file = await encodeParquetFile(columns, rows)
    const back: Record<string, unknown>[] = []
    for await (const row of readParquetRows(file.bytes, { longAs: 'bigint' })) back.push(row)
    const asBig = (v: unknown) => (v === null ? null : BigInt(v as number | bigint | string))
    assert.deepEqual(back.map((r) => asBig(r.n)), longs.map(asBig))
    assert.deepEqual(back.map((r) => r.as_of), times)
    const [, asOf, n] = file.stats
    assert.deepEqual([n!.min, n!.max], [-big, big])
    assert.deepEqual([asOf!.min, asOf!.max], [-62_135_596_800_000_000n, 8_640_000_000_000_000_000n])
  })

  void test('columnar input and projection', async () => {
    const cols = columns.slice(0, 3)
    const file = await encodeParquetColumns(cols, [['a', 'b'], [1, 2], ['9007199254740993', 4n]])
    const batches = []
    for await (const b of readParquetBatches(file.bytes, { columns: ['n'], longAs: 'bigint' })) batches.push(b)
    assert.deepEqual(batches.map((b) => b.columns), [{ n: [9007199254740993n, 4n] }])
    await assert.rejects(async () => {
      for await (const _ of readParquetRows(file.bytes)) void _
    }, /2\^53/)
  })

  void test('picked rows and a value array shared by two columns write the bytes of gathered copies', async () => {
    const rows = makeRows(3_000)
    // ASCII keys (one native encode of the column) beside the mixed ones of makeRows (value by value).
    const ascii = rows.map((_, i) => (i % 11 === 0 ? null : `k${i % 97}`))
    const cols: ParquetColumn[] = [...columns, { name: 'a1', type: 'string', fieldId: 13, required: false }, { name: 'a2', type: 'string', fieldId: 14, required: false }]
    const full = [...columns.map((c) => rows.map((r) => r[c.name] ?? null)), ascii, ascii]
    const at = Array.from({ length: 1_200 }, (_, i) => (i * 7) % rows.length).reverse()
    const gathered = full.map((values) => at.map((i) => values[i]))
    const reference = await encodeParquetColumns(cols, gathered, { worker: false })
    const picked = await encodeParquetColumns(cols, full, { worker: false }, at)
    assert.deepEqual(picked.bytes, reference.bytes)
    assert.deepEqual(picked.stats, reference.stats)
    const back: unknown[] = []
    for await (const b of readParquetBatches(picked.bytes, { columns: ['a2'] })) back.push(...(b.columns.a2 as unknown[]))
    assert.deepEqual(back, gathered.at(-1))
    assert.deepEqual(picked.stats.at(-1), { valueCount: 1_200, nullCount: at.filter((i) => i % 11 === 0).length, nanCount: 0, min: undefined, max: undefined })
    // A required column does not take the data of an optional one holding nulls: it is refused.
    const required: ParquetColumn[] = [cols.at(-2)!, { ...cols.at(-1)!, required: true }]
    await assert.rejects(encodeParquetColumns(required, [ascii, ascii]), (err: Error & { code?: string }) => err.code === 'SINK_REJECTED')
    await assert.rejects(encodeParquetColumns(cols, full, {}, [0, rows.length]), RangeError)
  })

  void test('strings are encoded one by one: lone surrogates at a boundary do not pair up', async () => {
    const cols: ParquetColumn[] = [{ name: 's', type: 'string', fieldId: 1, required: true }]
    const file = await encodeParquetColumns(cols, [['ab\uD83D', '\uDE42cd', 'plain']])
    const back = []
    for await (const r of readParquetRows(file.bytes)) back.push(r.s)
    assert.deepEqual(back, ['ab\uFFFD', '\uFFFDcd', 'plain'])
  })

  void test('bad values are rejected with a SinkWriteError naming the column', async () => {
    const bad: Record<string, unknown>[] = [
      { entity_key: null, as_of: 1 },
      { entity_key: 'a', as_of: 1.5 },
      { entity_key: 'a', as_of: 1, n: 'x' },
      { entity_key: 'a', as_of: 1, p: 2 ** 31 },
      { entity_key: 'a', as_of: 1, ld: [1, null] },
      { entity_key: 'a', as_of: 1, ls: 'notalist' },
      { entity_key: 'a', as_of: 1, b: 'str' },
    ]
    for (const row of bad) {
      await assert.rejects(encodeParquetFile(columns, [row]), (err: Error & { code?: string }) => err.name === 'SinkWriteError' && err.code === 'SINK_REJECTED')
    }
  })

  void test('a large encode lets the event loop run while it builds columns, and its bytes do not change', async () => {
    const rows = makeRows(60_000)
    const reference = await encodeParquetFile(columns, rows, { worker: false })
    const { value: file, turns } = await loopTurnsDuring(() => encodeParquetFile(columns, rows, { worker: false }))
    assert.ok(turns >= 2, `the loop ran ${turns} times during the encode`)
    assert.deepEqual(file.bytes, reference.bytes)
  })

  void test('empty files are valid', async () => {
    const file = await encodeParquetFile(columns, [])
    assert.equal((await parquetFileInfo(file.bytes)).rows, 0)
    const back = []
    for await (const r of readParquetRows(file.bytes)) back.push(r)
    assert.deepEqual(back, [])
  })
})
