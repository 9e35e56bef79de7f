/**
 * Bundles (docs/semantics.md §16): one record of an internal re-key topic carrying several re-keyed
 * events bound for the same internal partition, in merge order. The Kafka client's cost is per
 * record (encoding, headers, buffer copies) and per byte (CRC-32C, copies); a bundle pays the first
 * once for many events, and its format (rekey-bundle-format.ts, version 2) spells each header name
 * and repeated value once per bundle, so little of the second is spent beyond the events' own bytes.
 *
 * Each event keeps what a single internal record carried: its entity key, the ORIGINAL value bytes
 * and headers (origin `kfs-source-*`, `kfs-change-role`). A view unpacks a bundle into its events,
 * all at the bundle's offset, and processes them in bundle order — as it would the same events as
 * consecutive records. The value is the whole bundle: the archive, which keeps no headers, replays
 * it as it is; a bundle of either format version reads (rekey-bundle-reader.ts).
 */
import { InvariantViolation } from '../core/errors.ts'
import { murmur2 } from '../core/murmur2.ts'
import type { ProduceRecord } from '../ports/event-log.ts'
import type { SourceRecord } from '../ports/source.ts'
import { isBundle, type PartitionEvent } from './rekey-bundle-format.ts'
import { readBundle } from './rekey-bundle-reader.ts'
import { BundleWriter, writeUtf8 } from './rekey-bundle-writer.ts'

export { BUNDLE_VERSION, eventOrder, isBundle, type PartitionEvent } from './rekey-bundle-format.ts'
export { readBundle, type BundleRead } from './rekey-bundle-reader.ts'

/** A bundle closes before it passes this size (one larger event goes alone)… */
export const BUNDLE_BYTES = 128 * 1024
/** …or this many events. */
export const BUNDLE_EVENTS = 4_096

/** The bundle of `events` (their keys, values and headers; partitions and timestamps are not kept). */
export function encodeBundle(events: readonly ProduceRecord[]): Uint8Array {
  const writer = new BundleWriter()
  for (const e of events) writer.add(e)
  return writer.finish()
}

/**
 * The records a transaction produces for `forwards` (in merge order, each with a non-null key):
 * per internal partition (the key's, as the log's partitioner picks it), its events in order,
 * cut into bundles before they pass `BUNDLE_BYTES` or `BUNDLE_EVENTS`. A function of `forwards` alone.
 */
export function bundleForwards(forwards: readonly ProduceRecord[], partitions: number): ProduceRecord[] {
  const open = new Map<number, BundleWriter>()
  const out: ProduceRecord[] = []
  let keyBuf = Buffer.allocUnsafe(256)
  for (const event of forwards) {
    const key = event.key
    if (key === null) throw new InvariantViolation('a re-keyed event has no key')
    // A string key is encoded into a scratch buffer, hashed and copied from there (no array per event).
    let keyBytes: Uint8Array
    let keyLength: number
    if (typeof key === 'string') {
      if (key.length * 3 > keyBuf.length) keyBuf = Buffer.allocUnsafe(key.length * 3)
      keyBytes = keyBuf
      keyLength = writeUtf8(keyBuf, 0, key)
    } else {
      keyBytes = key
      keyLength = key.length
    }
    const partition = (murmur2(keyBytes, 0, keyLength) & 0x7fffffff) % partitions
    let writer = open.get(partition)
    if (writer === undefined || writer.count >= BUNDLE_EVENTS) {
      if (writer !== undefined) out.push({ key: null, value: writer.finish(), partition })
      writer = new BundleWriter()
      open.set(partition, writer)
    }
    writer.add(event, keyBytes, keyLength)
    if (writer.bytes > BUNDLE_BYTES && writer.count > 1) {
      out.push({ key: null, value: writer.finishWithoutLast(), partition })
      writer = new BundleWriter()
      writer.add(event, keyBytes, keyLength)
      open.set(partition, writer)
    }
  }
  for (const partition of [...open.keys()].sort((a, b) => a - b))
    out.push({ key: null, value: open.get(partition)!.finish(), partition })
  return out
}

/**
 * Bytes per internal partition in one produce request at most: the broker bounds each partition's
 * record batch by its message size limit (1 MiB by default), with room for the batch's framing.
 */
export const REQUEST_PARTITION_BYTES = 768 * 1024
/** Bytes per produce request at most, all partitions together. */
export const REQUEST_BYTES = 4 * 1024 * 1024

/**
 * The produce requests of a transaction's bundles (`bundleForwards`' output, in its order): each
 * request holds up to REQUEST_PARTITION_BYTES of bundles per internal partition and REQUEST_BYTES in
 * all, each partition's bundles in their order (a larger bundle — one oversized event — goes alone
 * for its partition). A transaction waits on each request's round trip in turn, and one bundle a
 * request cost a round trip per 128 KiB.
 */
export function bundleRequests(bundles: readonly ProduceRecord[]): ProduceRecord[][] {
  const requests: ProduceRecord[][] = []
  let current: ProduceRecord[] = []
  let total = 0
  const perPartition = new Map<number, number>()
  for (const bundle of bundles) {
    const bytes = bundle.value?.byteLength ?? 0
    const partition = bundle.partition ?? -1
    const held = perPartition.get(partition) ?? 0
    if (current.length > 0 && ((held > 0 && held + bytes > REQUEST_PARTITION_BYTES) || total + bytes > REQUEST_BYTES)) {
      requests.push(current)
      current = []
      total = 0
      perPartition.clear()
    }
    current.push(bundle)
    total += bytes
    perPartition.set(partition, (perPartition.get(partition) ?? 0) + bytes)
  }
  if (current.length > 0) requests.push(current)
  return requests
}

export interface Unbundled {
  /** Plain records as themselves, bundles as their events, in order. */
  readonly events: readonly PartitionEvent[]
  /** Bundles that did not read, with why: no event of theirs is in `events`. */
  readonly malformed: readonly { readonly record: SourceRecord; readonly detail: string }[]
}

/** The events of an internal topic's records (see the file comment); `records` itself when none is a bundle. */
export function unbundle(records: readonly SourceRecord[]): Unbundled {
  if (!records.some((r) => isBundle(r.value))) return { events: records, malformed: [] }
  const events: PartitionEvent[] = []
  const malformed: { record: SourceRecord; detail: string }[] = []
  for (const record of records) {
    if (!isBundle(record.value)) {
      events.push(record)
      continue
    }
    const read = readBundle(record as SourceRecord & { value: Uint8Array })
    if (read.ok) for (const e of read.events) events.push(e)
    else malformed.push({ record, detail: read.detail })
  }
  return { events, malformed }
}
