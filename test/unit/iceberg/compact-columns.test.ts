/** adapters/offline/parquet/compact-columns.ts: µs timestamps floored to ms exactly (as the reader's bigint path), and the fallbacks. */
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

void test('a long beyond the exact range, a null among numbers and non-ASCII text take the fallback', () => {
  const big = arrow.makeData({ type: new arrow.Int64(), length: 2, data: BigInt64Array.from([1n, 2n ** 53n]) })
  assert.equal(
    decodeCompact(big, () => FALLBACK),
    FALLBACK,
  )
  const nulled = arrow.vectorFromArray([1.5, null, 2.5], new arrow.Float64()).data[0]!
  assert.equal(
    decodeCompact(nulled, () => FALLBACK),
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
