/**
 * The bundle codec of internal re-key topics (engine/rekey-bundle.ts, docs/semantics.md §16):
 * round trips of random events (keys, values and headers of any bytes, empty, null, huge),
 * malformed bundles read as `{ ok: false }` with a reason and never throw, a bundle is told from a
 * legacy record by its first bytes, order keys order like the events, and a transaction's forwards
 * become per-partition bundles cut at the caps — a function of the forwards alone — and go in
 * produce requests that keep each partition's bundles in order and under the broker's batch limit.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { partitionForKey } from '../../../core/murmur2.ts'
import { compareOffsets } from '../../../operators/aggregators/types.ts'
import {
  BUNDLE_BYTES,
  BUNDLE_EVENTS,
  REQUEST_BYTES,
  REQUEST_PARTITION_BYTES,
  bundleForwards,
  bundleRequests,
  encodeBundle,
  eventOrder,
  isBundle,
  readBundle,
  unbundle,
} from '../../../engine/rekey-bundle.ts'
import type { ProduceRecord } from '../../../ports/event-log.ts'
import type { SourceRecord } from '../../../ports/source.ts'
import { prng } from '../../support/scenario.ts'

const rand = prng(1_907)
const pick = (n: number) => Math.floor(rand() * n)
const text = (max: number) =>
  Array.from({ length: pick(max + 1) }, () => ['a', 'é', '€', '𝄞', 'kfs-', '\u0000', ' '][pick(7)]).join('')
const bytes = (max: number) => Uint8Array.from({ length: pick(max + 1) }, () => pick(256))

function randomEvent(): ProduceRecord {
  const headers: Record<string, string> = {}
  for (let h = pick(5); h > 0; h--) headers[`${text(6)}h${h}`] = text(12)
  return { key: rand() < 0.5 ? text(16) : bytes(16), value: rand() < 0.1 ? null : bytes(200), headers }
}

const at = (value: Uint8Array | null, offset = '41'): SourceRecord => ({
  offset,
  key: null,
  value,
  timestampMs: 1_700_000_000_000,
  headers: {},
})

function readOk(value: Uint8Array, offset = '41') {
  const read = readBundle({ ...at(value, offset), value })
  assert.ok(read.ok, read.ok ? '' : read.detail)
  return read.events
}

const keyBytes = (key: ProduceRecord['key']) => (typeof key === 'string' ? new TextEncoder().encode(key) : key)

void describe('bundle codec', () => {
  void test('round trip: random events keep key, value and headers, in order, at the bundle offset with their order keys', () => {
    for (let round = 0; round < 200; round++) {
      const events = Array.from({ length: 1 + pick(40) }, randomEvent)
      const value = encodeBundle(events)
      assert.ok(isBundle(value))
      const read = readOk(value)
      assert.equal(read.length, events.length)
      read.forEach((e, i) => {
        assert.deepEqual(e.key === null ? null : [...e.key], [...keyBytes(events[i]!.key)!])
        assert.deepEqual(e.value === null ? null : [...e.value], events[i]!.value === null ? null : [...events[i]!.value!])
        assert.deepEqual(e.headers, events[i]!.headers)
        assert.equal(e.offset, '41')
        assert.equal(e.order, eventOrder('41', i))
        assert.equal(e.timestampMs, 1_700_000_000_000)
      })
    }
  })

  void test('edge events: null key, empty and null values, no headers, a 2 MiB value, an empty bundle', () => {
    const huge = Uint8Array.from({ length: 2 * 1024 * 1024 }, (_, i) => i % 251)
    const events: ProduceRecord[] = [
      { key: null, value: new Uint8Array(0) },
      { key: '', value: null, headers: {} },
      { key: 'big', value: huge, headers: { 'kfs-change-role': 'add' } },
    ]
    const read = readOk(encodeBundle(events))
    assert.deepEqual(
      read.map((e) => [e.key === null ? null : [...e.key], e.value?.length ?? null, e.headers]),
      [
        [null, 0, {}],
        [[], null, {}],
        [[...new TextEncoder().encode('big')], huge.length, { 'kfs-change-role': 'add' }],
      ],
    )
    assert.ok(Buffer.from(huge).equals(read[2]!.value!))
    assert.deepEqual(readOk(encodeBundle([])), [])
  })

  void test('malformed bundles are { ok: false } with a reason, never a throw: every cut, trailing bytes, version, counts, references, varints, UTF-8', () => {
    const value = encodeBundle([
      randomEvent(),
      randomEvent(),
      { key: 'k', value: new Uint8Array([1, 2, 3]), headers: { a: 'b' } },
    ])
    const detailOf = (v: Uint8Array) => {
      const read = readBundle({ ...at(v), value: v })
      assert.equal(read.ok, false, `malformed bundle of ${v.length} bytes read as ok`)
      return read.ok ? '' : read.detail
    }
    for (let cut = 4; cut < value.length; cut++) assert.match(detailOf(value.subarray(0, cut)), /cut short/)
    assert.match(detailOf(Buffer.concat([value, new Uint8Array([0])])), /1 bytes after the bundle's 3 events/)
    const other = Buffer.from(value)
    other[4] = 3
    assert.match(detailOf(other), /version 3 is not known/)
    const many = Buffer.from(value)
    many.writeUInt32BE(0xffffffff, 5)
    assert.match(detailOf(many), /claims 4294967295 events/)
    // One event, null key and value, then its headers as given (version 2).
    const oneEvent = (...headerBytes: number[]) => new Uint8Array([0xff, 0x6b, 0x66, 0x62, 2, 0, 0, 0, 1, 0, 0, ...headerBytes])
    assert.equal(readBundle({ ...at(oneEvent(1, 0, 1, 0x68, 2 * 4 + 2, 0x61, 0x62)), value: oneEvent(1, 0, 1, 0x68, 2 * 4 + 2, 0x61, 0x62) }).ok, true)
    assert.match(detailOf(oneEvent(1, 5)), /refers to header name 5 of 0 in event 0/)
    assert.match(detailOf(oneEvent(1, 0, 1, 0x68, 3 * 4 + 1)), /refers to header value 3 of 0 in event 0's header h/)
    assert.match(detailOf(oneEvent(1, 0, 1, 0x68, 1 * 4 + 3)), /integer out of range in event 0's header h/)
    const varint = (n: number) => {
      const out = []
      for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80)
      return [...out, n]
    }
    assert.match(detailOf(oneEvent(1, 0, 1, 0x68, ...varint(2 * 10 ** 15 * 4 + 3))), /integer out of range/)
    assert.match(detailOf(oneEvent(1, 0, 1, 0x68, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)), /varint of 2\^53 or more/)
    assert.match(detailOf(oneEvent(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0)), /varint longer than 8 bytes in event 0's header count/)
    // The detail says which text was not UTF-8 (only the decode's error is read as bad input).
    assert.match(detailOf(oneEvent(1, 0, 1, 0xff, 0)), /event 0's new header name that is not valid UTF-8/)
    assert.match(detailOf(oneEvent(1, 0, 1, 0x68, 1 * 4 + 0, 0xc3)), /event 0's header h that is not valid UTF-8/)
    for (let round = 0; round < 300; round++) {
      const noisy = Buffer.from(value)
      for (let flips = 1 + pick(4); flips > 0; flips--) noisy[5 + pick(noisy.length - 5)] = pick(256)
      assert.doesNotThrow(() => readBundle({ ...at(noisy), value: noisy }))
    }
  })

  void test('a bundle is told from a legacy record by its first bytes: Confluent Avro and JSON values are not bundles', () => {
    assert.equal(isBundle(new Uint8Array([0x00, 0, 0, 0, 1, 2])), false)
    assert.equal(isBundle(new TextEncoder().encode('{"op":"c"}')), false)
    assert.equal(isBundle(new Uint8Array([0xff, 0x6b, 0x66])), false)
    assert.equal(isBundle(null), false)
    const legacy = at(new Uint8Array([0, 0, 0, 0, 1, 7]), '3')
    const bundle = at(
      encodeBundle([
        { key: 'a', value: new Uint8Array([1]) },
        { key: 'b', value: new Uint8Array([2]) },
      ]),
      '4',
    )
    const broken = at(new Uint8Array([0xff, 0x6b, 0x66, 0x62, 1, 0, 0, 0, 9]), '5')
    const out = unbundle([legacy, bundle, broken])
    assert.equal(out.events[0], legacy, 'a legacy record is passed through as it is')
    assert.deepEqual(
      out.events.slice(1).map((e) => [e.offset, e.order, [...e.value!]]),
      [
        ['4', '4000000', [1]],
        ['4', '4000001', [2]],
      ],
    )
    assert.deepEqual(
      out.malformed.map((m) => [m.record, m.detail]),
      [[broken, "bundle cut short in event 0's key at byte 9 of 9"]],
    )
    const plain = [legacy]
    assert.equal(unbundle(plain).events, plain, 'no bundle: the records themselves')
  })

  void test('order keys order like the events: across bundles, within one, after legacy offsets', () => {
    const keys = [
      '7',
      '8',
      eventOrder('9', 0),
      eventOrder('9', 1),
      eventOrder('9', 999_998),
      eventOrder('10', 0),
      eventOrder('99999', 3),
      eventOrder('100000', 0),
    ]
    for (let i = 1; i < keys.length; i++) assert.ok(compareOffsets(keys[i - 1]!, keys[i]!) < 0, `${keys[i - 1]} < ${keys[i]}`)
  })
})

void describe('bundles of a transaction', () => {
  const forward = (key: string, size = 10, i = 0): ProduceRecord => ({
    key,
    value: new Uint8Array(size).fill(i % 256),
    headers: { 'kfs-source-offset': String(i) },
  })

  void test('one bundle per internal partition holding its events in merge order, on the partition the log would pick for each key', () => {
    const forwards = Array.from({ length: 500 }, (_, i) =>
      forward(`item-${i % 37}${i % 5 === 0 ? 'é𝄞' : ''}${i % 7 === 0 ? 'x'.repeat(80) : ''}`, 10, i),
    )
    const records = bundleForwards(forwards, 4)
    assert.deepEqual(
      records.map((r) => r.partition),
      [0, 1, 2, 3],
    )
    for (const r of records) {
      assert.equal(r.key, null)
      const events = readOk(r.value!)
      for (const e of events) assert.equal(partitionForKey(e.key!, 4), r.partition)
      const expected = forwards
        .filter((f) => partitionForKey(f.key!, 4) === r.partition)
        .map((f) => f.headers!['kfs-source-offset'])
      assert.deepEqual(
        events.map((e) => e.headers['kfs-source-offset']),
        expected,
      )
    }
    assert.deepEqual(bundleForwards(forwards, 4), records, 'a function of the forwards alone')
  })

  void test('a bundle closes at the byte and event caps; an event larger than the byte cap goes alone', () => {
    const small = Array.from({ length: BUNDLE_EVENTS * 2 + 5 }, (): ProduceRecord => ({ key: 'k', value: new Uint8Array(1) }))
    assert.deepEqual(
      bundleForwards(small, 3).map((r) => readOk(r.value!).length),
      [BUNDLE_EVENTS, BUNDLE_EVENTS, 5],
    )
    const big = [
      forward('k', 1_000),
      forward('k', BUNDLE_BYTES + 1),
      forward('k', 1_000),
      ...Array.from({ length: 300 }, () => forward('k', 1_000)),
    ]
    const bundles = bundleForwards(big, 1)
    assert.ok(
      bundles.every((b) => b.value!.length <= BUNDLE_BYTES || readOk(b.value!).length === 1),
      'only a lone event passes the cap',
    )
    assert.deepEqual(bundles.map((b) => readOk(b.value!).length).slice(0, 2), [1, 1])
    assert.equal(
      bundles.reduce((n, b) => n + readOk(b.value!).length, 0),
      big.length,
    )
  })

  void test('produce requests: every bundle once, each partition in order, under the per-partition and request caps', () => {
    const bundle = (partition: number, bytes: number, tag: number): ProduceRecord => ({
      key: null,
      value: new Uint8Array(bytes).fill(tag % 256),
      partition,
    })
    const bundles = Array.from({ length: 400 }, (_, i) => bundle(pick(6), 1 + pick(BUNDLE_BYTES), i))
    bundles.splice(17, 0, bundle(2, REQUEST_PARTITION_BYTES + 5, 999))
    const requests = bundleRequests(bundles)
    assert.deepEqual(
      requests.flat().toSorted((a, b) => a.partition! - b.partition!),
      bundles.toSorted((a, b) => a.partition! - b.partition!),
      'every bundle once, and per partition in the order given',
    )
    for (const request of requests) {
      const bytesOf = (rs: readonly ProduceRecord[]) => rs.reduce((n, r) => n + r.value!.byteLength, 0)
      assert.ok(bytesOf(request) <= REQUEST_BYTES || request.length === 1, 'a request passes its cap only with one bundle')
      for (let p = 0; p < 6; p++) {
        const mine = request.filter((r) => r.partition === p)
        assert.ok(bytesOf(mine) <= REQUEST_PARTITION_BYTES || mine.length === 1, `partition ${p} passes its cap only with one bundle`)
      }
    }
    assert.ok(requests.length < bundles.length / 4, `${requests.length} requests for ${bundles.length} bundles: many bundles a request`)
    assert.deepEqual(bundleRequests([]), [])
  })
})
