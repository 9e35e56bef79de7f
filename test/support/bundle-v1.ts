/**
 * Bundle format version 1 as the re-key stage wrote it before version 2 (engine/rekey-bundle-format.ts),
 * kept for tests only: internal topics written then must still read. `V1_FIXTURE` is a bundle the
 * old encoder itself wrote (4ee3a31); `encodeBundleV1` writes the same bytes for any events, so the
 * tests can compare both versions on random events.
 */
import type { ProduceRecord } from '../../ports/event-log.ts'

export function encodeBundleV1(events: readonly ProduceRecord[]): Uint8Array {
  const parts: Buffer[] = [Buffer.from([0xff, 0x6b, 0x66, 0x62, 1]), u32(events.length)]
  const lengthPrefixed = (bytes: Uint8Array | string | null, width: (n: number) => Buffer) => {
    if (bytes === null) return parts.push(i32(-1))
    const b = Buffer.from(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes)
    parts.push(width(b.length), b)
  }
  for (const e of events) {
    lengthPrefixed(e.key, i32)
    lengthPrefixed(e.value, i32)
    const headers = Object.entries(e.headers ?? {})
    const count = Buffer.alloc(2)
    count.writeUInt16BE(headers.length)
    parts.push(count)
    for (const [name, value] of headers) {
      lengthPrefixed(name, u32)
      lengthPrefixed(value, u32)
    }
  }
  return new Uint8Array(Buffer.concat(parts))
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

function i32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

/** The events of `V1_FIXTURE`, as `encodeBundle` took them at 4ee3a31. */
export const V1_FIXTURE_EVENTS: readonly ProduceRecord[] = [
  {
    key: 'u42',
    value: new Uint8Array([0, 0, 0, 0, 7, 2, 0x75, 0x34]),
    headers: { 'kfs-source-topic': 'clicks', 'kfs-source-partition': '3', 'kfs-source-offset': '1041' },
  },
  {
    key: 'u42',
    value: new Uint8Array([0, 0, 0, 0, 7, 2]),
    headers: {
      'kfs-source-topic': 'clicks',
      'kfs-source-partition': '0',
      'kfs-source-offset': '0',
      'kfs-change-role': 'retract',
    },
  },
  { key: null, value: null },
  { key: '', value: new Uint8Array(0), headers: {} },
  {
    key: 'émile 𝄞',
    value: new TextEncoder().encode('{"op":"c"}'),
    headers: {
      'trace-id': 'a-€',
      naïve: '',
      'kfs-source-topic': 'clicks',
      'kfs-source-partition': '3',
      'kfs-source-offset': '9007199254740993',
    },
  },
  { key: new Uint8Array([0xff, 0, 0x80]), value: new Uint8Array([1]), headers: { '': 'empty name', n: '007', m: '-1' } },
]

/** `encodeBundle(V1_FIXTURE_EVENTS)` at 4ee3a31, the last commit that wrote version 1. */
export const V1_FIXTURE = Buffer.from(
  'ff6b66620100000006000000037534320000000800000000070275340003000000106b66732d736f757263652d746f70696300000006636c69636b73' +
    '000000146b66732d736f757263652d706172746974696f6e0000000133000000116b66732d736f757263652d6f66667365740000000431303431' +
    '00000003753432000000060000000007020004000000106b66732d736f757263652d746f70696300000006636c69636b73000000146b66732d73' +
    '6f757263652d706172746974696f6e0000000130000000116b66732d736f757263652d6f666673657400000001300000000f6b66732d6368616e' +
    '67652d726f6c650000000772657472616374ffffffffffffffff0000000000000000000000000000000bc3a96d696c6520f09d849e0000000a7b22' +
    '6f70223a2263227d00050000000874726163652d696400000005612de282ac000000066e61c3af766500000000000000106b66732d736f757263' +
    '652d746f70696300000006636c69636b73000000146b66732d736f757263652d706172746974696f6e0000000133000000116b66732d736f7572' +
    '63652d6f6666736574000000103930303731393932353437343039393300000003ff008000000001010003000000000000000a656d707479206e' +
    '616d65000000016e00000003303037000000016d000000022d31',
  'hex',
)
