/**
 * Contract of a ParquetCodec (ports/parquet-codec.ts): what training/ relies on when it reads
 * label files and writes the files a PointInTimeJoiner reads.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ParquetCodec, ParquetColumnSpec } from '../../ports/parquet-codec.ts'

const columns: ParquetColumnSpec[] = [
  { name: 's', type: 'string', required: true },
  { name: 'b', type: 'binary', required: false },
  { name: 'i', type: 'int', required: false },
  { name: 'l', type: 'long', required: false },
  { name: 'd', type: 'double', required: false },
  { name: 't', type: 'timestamptz', required: false },
  { name: 'f', type: 'boolean', required: false },
  { name: 'ls', type: 'list<string>', required: false },
  { name: 'll', type: 'list<long>', required: false },
  { name: 'ld', type: 'list<double>', required: false },
]

function values(rows: number): unknown[][] {
  const at = (i: number, every: number, v: unknown) => (i % every === 0 ? null : v)
  return [
    Array.from({ length: rows }, (_, i) => (i % 7 === 0 ? `ключ-${i}-🙂` : `k${i}`)),
    Array.from({ length: rows }, (_, i) => at(i, 3, new Uint8Array([i & 255, 0, 255]))),
    Array.from({ length: rows }, (_, i) => at(i, 4, i - 10)),
    Array.from({ length: rows }, (_, i) => at(i, 5, i * 1_000_003 - 2 ** 40)),
    Array.from({ length: rows }, (_, i) => at(i, 6, i === 1 ? -0 : i / 3)),
    Array.from({ length: rows }, (_, i) => at(i, 2, 1_700_000_000_000 + i * 1001)),
    Array.from({ length: rows }, (_, i) => at(i, 8, i % 2 === 0)),
    Array.from({ length: rows }, (_, i) => at(i, 9, Array.from({ length: i % 3 }, (_, j) => `s${j}`))),
    Array.from({ length: rows }, (_, i) => at(i, 10, Array.from({ length: i % 4 }, (_, j) => j * i))),
    Array.from({ length: rows }, (_, i) => at(i, 11, [i + 0.25, -1.5])),
  ]
}

async function readAll(codec: ParquetCodec, bytes: Uint8Array, only?: readonly string[]): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {}
  for await (const batch of codec.readBatches(bytes, only === undefined ? {} : { columns: only })) {
    for (const [name, column] of Object.entries(batch.columns)) {
      assert.equal(column.length, batch.numRows)
      ;(out[name] ??= []).push(...column)
    }
  }
  return out
}

const plain = (v: unknown): unknown => (v instanceof Uint8Array ? [...v] : v)

export function runParquetCodecContract(name: string, makeCodec: () => ParquetCodec): void {
  void describe(`parquet codec contract > ${name}`, () => {
    void test('every column type round-trips in row order, nulls included, across row groups', async () => {
      const codec = makeCodec()
      const written = values(2_500)
      const bytes = await codec.encode(columns, written, { rowGroupRows: 1_000 })
      assert.deepEqual(
        codec.columnTypes(bytes).map((c) => [c.name, c.type]),
        columns.map((c) => [c.name, c.type]),
      )
      const read = await readAll(codec, bytes)
      columns.forEach((c, i) => assert.deepEqual(read[c.name]!.map(plain), written[i]!.map(plain), c.name))
      assert.ok(Object.is(read.d![1], -0), '−0 stays −0')
    })

    void test('the same input gives the same bytes, whatever the compression asked', async () => {
      const codec = makeCodec()
      for (const compression of ['none', 'zstd', 'snappy'] as const) {
        const a = await codec.encode(columns, values(300), { compression })
        const b = await makeCodec().encode(columns, values(300), { compression })
        assert.deepEqual([...a], [...b], compression)
        assert.deepEqual((await readAll(codec, a)).s, values(300)[0])
      }
    })

    void test('readBatches decodes only the columns asked for', async () => {
      const codec = makeCodec()
      const bytes = await codec.encode(columns, values(50))
      const read = await readAll(codec, bytes, ['l', 's'])
      assert.deepEqual(Object.keys(read).sort(), ['l', 's'])
      assert.deepEqual(read.l, values(50)[3])
    })

    void test('readCompactBatches reads the values readBatches reads, with and without nulls, at the edges', async () => {
      const codec = makeCodec()
      assert.ok(codec.readCompactBatches !== undefined, 'this codec offers readCompactBatches')
      // Null-free numbers (the compact containers), ASCII text, and edges: −0, negative
      // timestamps, longs near ±2^53, non-ASCII text (read as readBatches does).
      const dense: ParquetColumnSpec[] = [
        { name: 'ascii', type: 'string', required: true },
        { name: 'text', type: 'string', required: true },
        { name: 'i', type: 'int', required: true },
        { name: 'l', type: 'long', required: true },
        { name: 'big', type: 'long', required: true },
        { name: 'd', type: 'double', required: true },
        { name: 't', type: 'timestamptz', required: true },
      ]
      const rows = 2_500
      const denseValues = [
        Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? '' : `acct-${i}-${'x'.repeat(i % 20)}`)),
        Array.from({ length: rows }, (_, i) => (i === 7 ? 'ключ' : `k${i}`)),
        Array.from({ length: rows }, (_, i) => i - 1000),
        Array.from({ length: rows }, (_, i) => i * 1_000_003 - 2 ** 40),
        Array.from({ length: rows }, (_, i) => (i % 2 === 0 ? 2 ** 53 - 1 - i : -(2 ** 53) + 1 + i)),
        Array.from({ length: rows }, (_, i) => (i === 1 ? -0 : i / 3 - 400)),
        Array.from({ length: rows }, (_, i) => -5_000_000 + i * 3_999),
      ]
      // Nullable numbers and booleans (the compact paths with a validity bitmap): −0, NaN, ±∞,
      // 32-bit edges, longs at the edge of the halves' range and at ±(2^53 − 1).
      const nullable: ParquetColumnSpec[] = [
        { name: 'i', type: 'int', required: false },
        { name: 'l', type: 'long', required: false },
        { name: 'edge', type: 'long', required: false },
        { name: 'd', type: 'double', required: false },
        { name: 'f', type: 'boolean', required: false },
        { name: 't', type: 'timestamptz', required: false },
      ]
      const doubles = [-0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), Number.MIN_VALUE, 0.1]
      const nullEvery = (every: number, value: (i: number) => unknown) => Array.from({ length: rows }, (_, i) => (i % every === 3 ? null : value(i)))
      const nullableValues = [
        nullEvery(4, (i) => (i % 2 === 0 ? 2 ** 31 - 1 - i : -(2 ** 31) + i)),
        nullEvery(5, (i) => (i % 2 === 0 ? 2 ** 53 - 2 ** 32 - 1 - i : -(2 ** 53) + 2 ** 32 + 1 + i)),
        nullEvery(6, (i) => (i % 2 === 0 ? 2 ** 53 - 1 - i : -(2 ** 53) + 1 + i)),
        nullEvery(3, (i) => doubles[i % doubles.length]! * (i % 7 === 0 ? 1 : i)),
        nullEvery(7, (i) => i % 3 === 0),
        nullEvery(2, (i) => -5_000_000_123 + i * 3_999_777),
      ]
      for (const [specs, written] of [
        [dense, denseValues],
        [columns, values(rows)],
        [nullable, nullableValues],
      ] as const) {
        const bytes = await codec.encode(specs, written, { rowGroupRows: 1_000 })
        const expected = await readAll(codec, bytes)
        const read: Record<string, unknown[]> = {}
        for await (const batch of codec.readCompactBatches!(bytes))
          for (const [name, column] of Object.entries(batch.columns)) {
            assert.equal(column.length, batch.numRows)
            for (let i = 0; i < column.length; i++) (read[name] ??= []).push(column[i])
          }
        // Strict: −0 stays −0 (Object.is on numbers).
        for (const c of specs) assert.deepEqual(read[c.name]!.map(plain), expected[c.name]!.map(plain), c.name)
      }
    })

    void test('mismatched value arrays, a null in a required column and an ill-typed value reject', async () => {
      const codec = makeCodec()
      const two: ParquetColumnSpec[] = [
        { name: 'a', type: 'long', required: true },
        { name: 'b', type: 'string', required: false },
      ]
      await assert.rejects(codec.encode(two, [[1, 2]]), RangeError)
      await assert.rejects(codec.encode(two, [[1, 2], ['x']]), RangeError)
      await assert.rejects(codec.encode(two, [[1, null], ['x', 'y']]))
      await assert.rejects(codec.encode(two, [[1, 2.5], ['x', 'y']]))
      await assert.rejects(readAll(codec, new TextEncoder().encode('not a parquet file')))
    })
  })
}
