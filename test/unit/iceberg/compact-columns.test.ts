/** adapters/offline/parquet/compact-columns.ts: every fast path reads what Arrow (and the reader) reads — nulls, −0, NaN, edges — and the fallbacks. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as arrow from 'apache-arrow'
import { decodeCompact } from '../../../adapters/offline/parquet/compact-columns.ts'

const FALLBACK = ['fallback']
const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n !== b < 0n ? a / b - 1n : a / b)

void test('µs timestamps read as epoch ms floored toward −∞, whatever their sign and remainder', () => {
  const micros = [
    0n,
    1n,
    -1n,
    999n,
    1000n,
    -999n,
    -1000n,
    -1001n,
    1_700_000_000_123_456n,
    -1_700_000_000_123_456n,
    2n ** 52n + 777n,
    -(2n ** 52n) - 777n,
    9_007_194_959_773_695n,
  ]
  const data = arrow.makeData({ type: new arrow.TimestampMicrosecond(), length: micros.length, data: BigInt64Array.from(micros) })
  const read = decodeCompact(data, () => FALLBACK)
  assert.notEqual(read, FALLBACK)
  assert.deepEqual(
    [...read],
    micros.map((v) => Number(floorDiv(v, 1000n))),
  )
})

void test('a long beyond the exact range and non-ASCII text take the fallback', () => {
  const big = arrow.makeData({ type: new arrow.Int64(), length: 2, data: BigInt64Array.from([1n, 2n ** 53n]) })
  assert.equal(
    decodeCompact(big, () => FALLBACK),
    FALLBACK,
  )
  const text = arrow.vectorFromArray(['a', 'ключ'], new arrow.Utf8()).data[0]!
  assert.equal(
    decodeCompact(text, () => FALLBACK),
    FALLBACK,
  )
  const ascii = arrow.vectorFromArray(['a', null, '', 'bc'], new arrow.Utf8()).data[0]!
  assert.deepEqual(
    decodeCompact(ascii, () => FALLBACK),
    ['a', null, '', 'bc'],
  )
})

/** Values as Arrow's own vector reads them (null, number, boolean), for a column of `type`. */
function arrowReads(data: arrow.Data): unknown[] {
  const vector = arrow.makeVector(data)
  return Array.from({ length: data.length }, (_, i) => vector.get(i) ?? null)
}

/** Object.is per value, so −0 and NaN count. */
function assertSameValues(actual: ArrayLike<unknown>, expected: readonly unknown[], what: string): void {
  assert.equal(actual.length, expected.length, what)
  for (let i = 0; i < expected.length; i++) assert.ok(Object.is(actual[i], expected[i]), `${what} [${i}]: ${String(actual[i])} ≠ ${String(expected[i])}`)
}

void test('floats, doubles, small ints and booleans read as Arrow reads them, with and without nulls, at an offset', () => {
  const doubles = [1.5, -0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), Number.MIN_VALUE, 1e308, 0.1, 7, -3.25]
  const cases: [string, arrow.DataType, unknown[]][] = [
    ['float64', new arrow.Float64(), doubles],
    ['float32', new arrow.Float32(), doubles.map((v) => Math.fround(v))],
    ['int32', new arrow.Int32(), [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 42, 7, -7, 100, -100, 3, 5]],
    ['int16', new arrow.Int16(), [0, 1, -1, 32767, -32768, 42, 7, -7, 100, -100, 3, 5]],
    ['int8', new arrow.Int8(), [0, 1, -1, 127, -128, 42, 7, -7, 100, -100, 3, 5]],
    ['uint8', new arrow.Uint8(), [0, 1, 255, 128, 42, 7, 9, 10, 11, 12, 13, 14]],
    ['uint16', new arrow.Uint16(), [0, 1, 65535, 32768, 42, 7, 9, 10, 11, 12, 13, 14]],
    ['uint32', new arrow.Uint32(), [0, 1, 2 ** 32 - 1, 2 ** 31, 42, 7, 9, 10, 11, 12, 13, 14]],
    ['bool', new arrow.Bool(), [true, false, false, true, true, true, false, true, false, false, true, true]],
  ]
  for (const [name, type, dense] of cases) {
    const sparse = dense.map((v, i) => (i % 3 === 1 ? null : v))
    for (const [label, values] of [
      ['no nulls', dense],
      ['nulls', sparse],
    ] as const) {
      const data = arrow.vectorFromArray(values, type).data[0]!
      assert.equal(data.nullCount, label === 'nulls' ? 4 : 0)
      const read = decodeCompact(data, () => FALLBACK)
      assert.notEqual(read, FALLBACK, `${name} ${label}`)
      assertSameValues(read, values, `${name} ${label}`)
      assertSameValues(read, arrowReads(data), `${name} ${label} as Arrow`)
      // A slice starts inside a byte of the validity bitmap (and of a boolean's bits).
      const sliced = data.slice(3, 7)
      assertSameValues(decodeCompact(sliced, () => FALLBACK), values.slice(3, 10), `${name} ${label} sliced`)
    }
  }
})

void test('longs and µs timestamps with nulls: the exact range read by halves, a null slot never read', () => {
  const edge = 2 ** 53 - 2 ** 32 - 1 // the largest magnitude the halves take; beyond, the reader decides
  const longs = [0n, -1n, 1n, BigInt(edge), BigInt(-edge), 2n ** 32n, -(2n ** 32n), 2n ** 32n - 1n, 123_456_789_012n, -5n]
  const valid = [1, 0, 1, 1, 1, 0, 1, 1, 0, 1]
  const bitmap = new Uint8Array(2)
  valid.forEach((v, i) => (bitmap[i >> 3]! |= v << (i & 7)))
  // Null slots hold values beyond 2^53: a reader that looked at them would fall back.
  const stored = longs.map((v, i) => (valid[i] === 1 ? v : 2n ** 62n + BigInt(i)))
  const nulls = valid.filter((v) => v === 0).length
  const long = arrow.makeData({ type: new arrow.Int64(), length: longs.length, nullCount: nulls, nullBitmap: bitmap, data: BigInt64Array.from(stored) })
  const read = decodeCompact(long, () => FALLBACK)
  assert.notEqual(read, FALLBACK)
  assertSameValues(
    read,
    longs.map((v, i) => (valid[i] === 1 ? Number(v) : null)),
    'int64',
  )
  assertSameValues(decodeCompact(long.slice(2, 6), () => FALLBACK), [...read].slice(2, 8), 'int64 sliced')

  const micros = arrow.makeData({ type: new arrow.TimestampMicrosecond(), length: longs.length, nullCount: nulls, nullBitmap: bitmap, data: BigInt64Array.from(stored) })
  assertSameValues(
    decodeCompact(micros, () => FALLBACK),
    longs.map((v, i) => (valid[i] === 1 ? Number(floorDiv(v, 1000n)) : null)),
    'µs',
  )

  // A valid value beyond the range takes the reader's exact path (an error, or a bigint), nulls or not.
  const beyond = arrow.makeData({ type: new arrow.Int64(), length: 3, nullCount: 1, nullBitmap: new Uint8Array([0b101]), data: BigInt64Array.from([1n, 0n, 2n ** 53n]) })
  assert.equal(
    decodeCompact(beyond, () => FALLBACK),
    FALLBACK,
  )
})

void test('half floats, unsigned longs and binaries take the fallback', () => {
  const half = arrow.makeData({ type: new arrow.Float16(), length: 2, data: new Uint16Array([0x3c00, 0]) })
  const ulong = arrow.makeData({ type: new arrow.Uint64(), length: 1, data: BigUint64Array.from([1n]) })
  const binary = arrow.vectorFromArray([new Uint8Array([1])], new arrow.Binary()).data[0]!
  for (const data of [half, ulong, binary])
    assert.equal(
      decodeCompact(data, () => FALLBACK),
      FALLBACK,
      String(data.type),
    )
})

void test('ASCII text: repeated short values, long ones, empty ones and nulls read as Arrow reads them, high cardinality too', () => {
  const tiers = ['gold', 'silver', '', 'bronze', 'g', 'gold2', 'exactly12chr', 'thirteen-char', 'sil']
  const few = Array.from({ length: 5_000 }, (_, i) => (i % 11 === 5 ? null : tiers[(i * 7) % tiers.length]!))
  // Keys that never repeat: the lookup gives up after its first values and slices each.
  const many = Array.from({ length: 5_000 }, (_, i) => (i % 13 === 0 ? null : `k-${i.toString(36)}`))
  // Values that collide in the lookup's slots (same length, first, middle and last byte).
  const colliding = Array.from({ length: 3_000 }, (_, i) => ['abxyc', 'abzzc', 'abxzc', 'abyxc'][i % 4]!)
  for (const [name, values] of [
    ['few', few],
    ['many', many],
    ['colliding', colliding],
  ] as const) {
    const data = arrow.vectorFromArray(values, new arrow.Utf8()).data[0]!
    const read = decodeCompact(data, () => FALLBACK)
    assert.notEqual(read, FALLBACK, name)
    assertSameValues(read, values, name)
    assertSameValues(read, arrowReads(data), `${name} as Arrow`)
    assertSameValues(decodeCompact(data.slice(1_001, 1_500), () => FALLBACK), values.slice(1_001, 2_501), `${name} sliced`)
  }
})
