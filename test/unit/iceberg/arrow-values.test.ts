/**
 * adapters/offline/parquet/arrow-values.ts: a slice of a column (Arrow's `Data#slice`, which cuts
 * the value and offset buffers but not the validity bitmap or a boolean's bits) reads as the same
 * span of the whole column, for every type the reader decodes, with nulls on both sides of a cut.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as arrow from 'apache-arrow'
import { decodeArrowValues } from '../../../adapters/offline/parquet/arrow-values.ts'

const N = 19
const isNull = (i: number): boolean => i % 4 === 1 || i === 8
/** Null bitmap with bit i clear where isNull(i). */
function bitmap(n: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(n / 8))
  for (let i = 0; i < n; i++) if (!isNull(i)) bits[i >> 3]! |= 1 << (i & 7)
  return bits
}
const nulls = Array.from({ length: N }, (_, i) => (isNull(i) ? 1 : 0) as number).reduce((a, b) => a + b, 0)
const withNulls = <T>(make: (i: number) => T): (T | null)[] => Array.from({ length: N }, (_, i) => (isNull(i) ? null : make(i)))

/** A column of each type the reader decodes, and the JS values it must read as. */
function columns(): { name: string; data: arrow.Data; expected: unknown[] }[] {
  const micros = Array.from({ length: N }, (_, i) => BigInt(i * 1_234_567 - 9_000_001))
  const timestamps = arrow.makeData({ type: new arrow.TimestampMicrosecond(), length: N, nullCount: nulls, nullBitmap: bitmap(N), data: BigInt64Array.from(micros) })
  const days = arrow.makeData({ type: new arrow.DateDay(), length: N, nullCount: nulls, nullBitmap: bitmap(N), data: Int32Array.from({ length: N }, (_, i) => i * 31 - 200) })
  const floorMs = (v: bigint): number => Number(v % 1000n !== 0n && v < 0n ? v / 1000n - 1n : v / 1000n)
  return [
    { name: 'utf8', data: arrow.vectorFromArray(withNulls((i) => `v${i}é`), new arrow.Utf8()).data[0]!, expected: withNulls((i) => `v${i}é`) },
    { name: 'binary', data: arrow.vectorFromArray(withNulls((i) => Uint8Array.of(i, i + 1)), new arrow.Binary()).data[0]!, expected: withNulls((i) => Uint8Array.of(i, i + 1)) },
    { name: 'int32', data: arrow.vectorFromArray(withNulls((i) => i * 7 - 50), new arrow.Int32()).data[0]!, expected: withNulls((i) => i * 7 - 50) },
    { name: 'int64', data: arrow.vectorFromArray(withNulls((i) => BigInt(i) * 1_000_000_007n), new arrow.Int64()).data[0]!, expected: withNulls((i) => i * 1_000_000_007) },
    { name: 'float64', data: arrow.vectorFromArray(withNulls((i) => i / 3), new arrow.Float64()).data[0]!, expected: withNulls((i) => i / 3) },
    { name: 'bool', data: arrow.vectorFromArray(withNulls((i) => i % 3 === 0), new arrow.Bool()).data[0]!, expected: withNulls((i) => i % 3 === 0) },
    { name: 'timestamp µs', data: timestamps, expected: micros.map((v, i) => (isNull(i) ? null : floorMs(v))) },
    { name: 'date', data: days, expected: withNulls((i) => (i * 31 - 200) * 86_400_000) },
    {
      name: 'list<long>',
      data: arrow.vectorFromArray(withNulls((i) => Array.from({ length: i % 3 }, (_, k) => BigInt(i * 10 + k))), new arrow.List(new arrow.Field('item', new arrow.Int64(), true))).data[0]!,
      expected: withNulls((i) => Array.from({ length: i % 3 }, (_, k) => i * 10 + k)),
    },
  ]
}

void test('a whole column reads as its values, nulls in place', () => {
  for (const { name, data, expected } of columns()) assert.deepEqual(decodeArrowValues(data, name, 'number'), expected, name)
})

void test('a slice reads as the same span of the whole column, wherever it is cut', () => {
  const cuts: [number, number][] = [
    [0, N],
    [1, N - 1],
    [3, 6],
    [7, 9],
    [8, 1],
    [9, 10],
    [N - 1, 1],
    [5, 0],
  ]
  let checked = 0
  for (const { name, data, expected } of columns())
    for (const [offset, length] of cuts) {
      const slice = data.slice(offset, length)
      assert.equal(slice.offset, data.offset + offset, `${name}: Arrow keeps the slice's offset`)
      assert.deepEqual(decodeArrowValues(slice, name, 'number'), expected.slice(offset, offset + length), `${name} [${offset}, +${length})`)
      checked++
    }
  assert.equal(checked, 9 * cuts.length)
})

void test('a long beyond 2^53 is an error as a number, exact as a bigint, in a slice too', () => {
  const data = arrow.vectorFromArray([1n, 2n ** 53n + 1n, 3n], new arrow.Int64()).data[0]!.slice(1, 2)
  assert.throws(() => decodeArrowValues(data, 'big', 'number'), /int64 beyond 2\^53/)
  assert.deepEqual(decodeArrowValues(data, 'big', 'bigint'), [2n ** 53n + 1n, 3n])
})

void test('binary values: copies by default, views into the batch bytes when asked; the same values either way, in a slice too', () => {
  const { data, expected } = columns().find((c) => c.name === 'binary')!
  for (const [offset, length] of [
    [0, N],
    [3, 9],
  ] as const) {
    const slice = data.slice(offset, length)
    const bytes = slice.values as Uint8Array
    const copies = decodeArrowValues(slice, 'binary', 'number') as (Uint8Array | null)[]
    const views = decodeArrowValues(slice, 'binary', 'number', 0, slice.length, true) as (Uint8Array | null)[]
    assert.deepEqual(views, expected.slice(offset, offset + length))
    assert.deepEqual(copies, views)
    const present = views.filter((v): v is Uint8Array => v !== null)
    assert.ok(present.length > 0)
    for (const v of present) assert.equal(v.buffer, bytes.buffer, 'a view shares the batch bytes')
    for (const c of copies) if (c !== null) assert.notEqual(c.buffer, bytes.buffer, 'a copy owns its bytes')
  }
})
