/**
 * Bundle format versions (engine/rekey-bundle-format.ts): version 2, written now, reads back to
 * exactly the events written — random events of every shape, whole bundles and as a transaction's
 * bundles cut at the caps — and version 1, which internal topics written before hold, still reads:
 * the bytes the old encoder wrote, and random events through a test copy of it, to the same events
 * as version 2. Version 2 spells origin headers in a few bytes an event.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { partitionForKey } from '../../../core/murmur2.ts'
import { BUNDLE_BYTES, BUNDLE_VERSION, bundleForwards, encodeBundle, readBundle } from '../../../engine/rekey-bundle.ts'
import type { ProduceRecord } from '../../../ports/event-log.ts'
import { V1_FIXTURE, V1_FIXTURE_EVENTS, encodeBundleV1 } from '../../support/bundle-v1.ts'
import { prng } from '../../support/scenario.ts'

const rand = prng(2_207)
const pick = (n: number) => Math.floor(rand() * n)
const oneOf = <T>(items: readonly T[]): T => items[pick(items.length)]!
const text = (max: number) =>
  Array.from({ length: pick(max + 1) }, () => oneOf(['a', 'é', '€', '𝄞', '\u0000', ' ', '7', '-'])).join('')
const bytes = (max: number) => Uint8Array.from({ length: pick(max + 1) }, () => pick(256))

const NAMES = [
  '',
  'kfs-source-topic',
  'kfs-source-partition',
  'kfs-source-offset',
  'kfs-change-role',
  'constructor',
  'toString',
  '0',
  '17',
  '\u0000',
  'é𝄞',
  'x'.repeat(300),
]
const VALUES = [
  '',
  '0',
  '7',
  '007',
  '-1',
  '1e3',
  ' 1',
  '+5',
  '999999999999999',
  '1000000000000000',
  '9007199254740993',
  'clicks',
  'retract',
  'é€𝄞',
  'y'.repeat(300),
]

function randomHeaders(): Record<string, string> | undefined {
  const shape = pick(6)
  if (shape === 0) return undefined
  if (shape === 1) return {}
  if (shape === 2)
    return { 'kfs-source-topic': 'clicks', 'kfs-source-partition': String(pick(4)), 'kfs-source-offset': String(pick(1_000_000)) }
  const headers: Record<string, string> = {}
  for (let h = pick(shape === 5 ? 40 : 6); h > 0; h--) {
    const name = rand() < 0.6 ? oneOf(NAMES) : text(8)
    headers[name] = rand() < 0.5 ? oneOf(VALUES) : rand() < 0.5 ? String(pick(2 ** 40)) : text(20)
  }
  return headers
}

function randomEvent(maxValue = 200): ProduceRecord {
  const keyShape = pick(5)
  const key =
    keyShape === 0 ? null : keyShape === 1 ? '' : keyShape === 2 ? text(16) : keyShape === 3 ? bytes(16) : new Uint8Array(0)
  const valueShape = pick(4)
  const value =
    valueShape === 0
      ? null
      : valueShape === 1
        ? new Uint8Array(0)
        : valueShape === 2
          ? bytes(maxValue)
          : new TextEncoder().encode(text(maxValue))
  const headers = randomHeaders()
  return headers === undefined ? { key, value } : { key, value, headers }
}

const hex = (b: Uint8Array | string | null) =>
  b === null ? null : Buffer.from(typeof b === 'string' ? Buffer.from(b, 'utf8') : b).toString('hex')
/** What a reader must give back for `events`: keys and values as bytes, headers as text (none: {}). */
const expected = (events: readonly ProduceRecord[]) =>
  events.map((e) => ({ key: hex(e.key), value: hex(e.value), headers: e.headers ?? {} }))

function read(value: Uint8Array) {
  const result = readBundle({ offset: '12', key: null, value, timestampMs: 1_700_000_000_000, headers: {} })
  assert.ok(result.ok, result.ok ? '' : result.detail)
  return result.events.map((e) => ({ key: hex(e.key), value: hex(e.value), headers: e.headers }))
}

void describe('bundle format version 2', () => {
  void test('random events of every shape read back exactly: null, empty and non-ASCII keys and values, no or many headers, odd names and numeric-looking values', () => {
    for (let round = 0; round < 300; round++) {
      const events = Array.from({ length: pick(60) }, () => randomEvent())
      const value = encodeBundle(events)
      assert.equal(value[4], BUNDLE_VERSION)
      assert.equal(BUNDLE_VERSION, 2)
      assert.deepStrictEqual(read(value), expected(events))
    }
  })

  void test("a transaction's bundles, cut at the caps by large values, read back to each partition's events in order", () => {
    for (let round = 0; round < 20; round++) {
      const forwards = Array.from({ length: 50 + pick(200) }, (_, i) => {
        const e = randomEvent(200)
        const value = i % 20 === 0 ? bytes(BUNDLE_BYTES * 1.5) : e.value
        return { ...e, key: typeof e.key === 'string' && e.key !== '' ? e.key : `k${pick(30)}`, value }
      })
      const bundles = bundleForwards(forwards, 3)
      assert.ok(bundles.length > 3, 'large values split bundles')
      for (const partition of [0, 1, 2]) {
        const mine = bundles.filter((b) => b.partition === partition)
        for (const b of mine)
          assert.ok(b.value!.length <= BUNDLE_BYTES || read(b.value!).length === 1, 'only a lone event passes the cap')
        assert.deepStrictEqual(
          mine.flatMap((b) => read(b.value!)),
          expected(forwards.filter((f) => partitionForKey(f.key!, 3) === partition)),
        )
      }
    }
  })

  void test('origin headers cost a few bytes an event: names and topic once a bundle, offsets as steps within their source partition', () => {
    const offsets = [1_000_000, 2_500_000, 40, 7]
    const events: ProduceRecord[] = Array.from({ length: 4_000 }, () => {
      const partition = pick(4)
      offsets[partition] = offsets[partition]! + 1 + pick(8)
      return {
        key: `i${pick(50_000)}`,
        value: bytes(40),
        headers: {
          'kfs-source-topic': 'bench-clicks-r1a2b3c4',
          'kfs-source-partition': String(partition),
          'kfs-source-offset': String(offsets[partition]),
        },
      }
    })
    const value = encodeBundle(events)
    assert.deepStrictEqual(read(value), expected(events))
    const own = events.reduce((n, e) => n + hex(e.key)!.length / 2 + e.value!.length, 0)
    const overhead = (value.length - own) / events.length
    assert.ok(overhead < 10, `${overhead.toFixed(2)} bytes an event beyond its key and value`)
    const v1Overhead = (encodeBundleV1(events).length - own) / events.length
    assert.ok(v1Overhead > 100, `version 1 spent ${v1Overhead.toFixed(2)} bytes an event`)
  })
})

void describe('bundle format version 1 (internal topics written before version 2)', () => {
  void test('the bytes the version 1 encoder wrote read to its events, the same as version 2 writes them', () => {
    assert.equal(V1_FIXTURE[4], 1)
    assert.deepStrictEqual(read(V1_FIXTURE), expected(V1_FIXTURE_EVENTS))
    assert.ok(
      Buffer.from(encodeBundleV1(V1_FIXTURE_EVENTS)).equals(V1_FIXTURE),
      "the tests' version 1 encoder writes the old encoder's bytes",
    )
    const v2 = encodeBundle(V1_FIXTURE_EVENTS)
    assert.deepStrictEqual(read(v2), read(V1_FIXTURE))
    assert.ok(v2.length < V1_FIXTURE.length / 1.5, `version 2: ${v2.length} bytes, version 1: ${V1_FIXTURE.length}`)
  })

  void test('random events read the same from version 1 and version 2', () => {
    for (let round = 0; round < 200; round++) {
      const events = Array.from({ length: pick(40) }, () => randomEvent())
      const fromV1 = read(encodeBundleV1(events))
      assert.deepStrictEqual(fromV1, expected(events))
      assert.deepStrictEqual(read(encodeBundle(events)), fromV1)
    }
  })

  void test('malformed version 1 bundles are { ok: false } with a reason: cuts, negative lengths, UTF-8', () => {
    const detailOf = (v: Uint8Array) => {
      const result = readBundle({ offset: '3', key: null, value: v, timestampMs: 0, headers: {} })
      assert.equal(result.ok, false, `malformed bundle of ${v.length} bytes read as ok`)
      return result.ok ? '' : result.detail
    }
    for (let cut = 4; cut < V1_FIXTURE.length; cut++) assert.match(detailOf(V1_FIXTURE.subarray(0, cut)), /cut short/)
    const negative = Buffer.from(encodeBundleV1([{ key: 'k', value: null }]))
    negative.writeInt32BE(-7, 9)
    assert.match(detailOf(negative), /negative length in event 0's key/)
    const badUtf8 = Buffer.from(encodeBundleV1([{ key: 'k', value: null, headers: { h: 'x' } }]))
    badUtf8[badUtf8.length - 1] = 0xff
    assert.match(detailOf(badUtf8), /not valid UTF-8/)
  })
})
