/**
 * Topics read whole once, then only what is new: each read scans (engine/topic-scan.ts) from the
 * last record the previous read handed over, and keeps what `parse` made of every record, so a
 * reader that must show a topic whole (the catalog page's dead-letter counts) pays for a topic's
 * growth, not for its size, on every refresh.
 *
 * What it holds always equals a read of the whole topic as it stands:
 * - the record where the previous read stopped is read again and compared (timestamp, key, value,
 *   headers): when it is gone or another one — the topic deleted and created again, with fewer or
 *   more records than before — that partition is read again from its start (a topic created
 *   again whose record at that offset is the same record, timestamp included, is taken for the
 *   same topic: kfs's dead letters name their source record, so two never repeat each other);
 * - records the log deleted (retention: its start moved past them) are dropped;
 * - a partition added is read from its start, a partition gone is dropped, a topic gone holds nothing.
 */
import { createHash } from 'node:crypto'
import type { EventLog, LogRecord } from '../ports/event-log.ts'
import { scanTopics } from './topic-scan.ts'
import { FeatureStoreError } from '../core/errors.ts'

export interface FollowedTopic<T> {
  readonly topic: string
  /** What to keep of a record; undefined keeps nothing of it (it still counts as read). */
  readonly parse: (record: LogRecord) => T | undefined
}

interface PartitionHeld<T> {
  /** What was kept, in offset order. */
  held: { readonly offset: bigint; readonly item: T }[]
  /** The last record handed over, to recognise it on the next read. */
  last: { readonly offset: bigint; readonly print: string } | undefined
}

export interface ReadStats {
  /** Records handed over by the log in this read, per topic (the re-read record of each partition included). */
  readonly delivered: ReadonlyMap<string, number>
  /** Partitions read again from their start because the record where the last read stopped was gone or another one. */
  readonly restarted: number
}

/** A record's identity across reads: what a topic deleted and created again would not repeat. */
function fingerprint(r: LogRecord): string {
  const hash = createHash('sha256')
  const part = (bytes: Uint8Array | null): void => {
    hash.update(bytes === null ? '-1:' : `${bytes.length}:`)
    if (bytes !== null) hash.update(bytes)
  }
  hash.update(`${r.timestampMs}|`)
  part(r.key)
  part(r.value)
  hash.update(JSON.stringify(Object.entries(r.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
  return hash.digest('hex')
}

async function partitionsOf(log: EventLog, topic: string): Promise<number | undefined> {
  try {
    return await log.partitionCount(topic)
  } catch (err: unknown) {
    if (err instanceof FeatureStoreError && err.code === 'NOT_FOUND') return undefined
    throw err
  }
}

export class TopicFollower<T> {
  readonly #topics: readonly FollowedTopic<T>[]
  readonly #options: { readonly groupPrefix: string; readonly timeoutMs?: number }
  readonly #state = new Map<string, PartitionHeld<T>[]>()

  constructor(topics: readonly FollowedTopic<T>[], options: { readonly groupPrefix: string; readonly timeoutMs?: number }) {
    this.#topics = topics
    this.#options = options
    for (const { topic } of topics) this.#state.set(topic, [])
  }

  /** What is kept of `topic`'s records, per partition in offset order. */
  items(topic: string): T[] {
    return (this.#state.get(topic) ?? []).flatMap((p) => p.held.map((h) => h.item))
  }

  /** Reads what is new of every followed topic; see the module comment. */
  async read(log: EventLog): Promise<ReadStats> {
    const delivered = new Map<string, number>(this.#topics.map((t) => [t.topic, 0]))
    const present: string[] = []
    for (const { topic } of this.#topics) {
      const count = await partitionsOf(log, topic)
      const partitions = this.#state.get(topic)!
      if (count === undefined || count === 0) {
        partitions.length = 0
        continue
      }
      present.push(topic)
      partitions.length = Math.min(partitions.length, count)
      while (partitions.length < count) partitions.push({ held: [], last: undefined })
      const starts = await log.startOffsets(topic)
      partitions.forEach((p, i) => {
        const start = BigInt(starts[i] ?? '0')
        p.held = p.held.filter((h) => h.offset >= start)
        if (p.last !== undefined && p.last.offset < start) p.last = undefined
      })
    }
    if (present.length === 0) return { delivered, restarted: 0 }
    // The record each partition's last read stopped at, to be read again and recognised.
    const expected = new Map<string, { readonly offset: bigint; readonly print: string }>()
    for (const topic of present)
      this.#state.get(topic)!.forEach((p, i) => {
        if (p.last !== undefined) expected.set(`${i}/${topic}`, p.last)
      })
    const recognised = new Set<string>()
    const parse = new Map(this.#topics.map((t) => [t.topic, t.parse]))
    const take = (topic: string, records: readonly LogRecord[]): void => {
      delivered.set(topic, (delivered.get(topic) ?? 0) + records.length)
      const partitions = this.#state.get(topic)!
      for (const r of records) {
        const p = partitions[r.partition]
        if (p === undefined) continue // a partition added during the read: the next read takes it
        const offset = BigInt(r.offset)
        const print = fingerprint(r)
        const key = `${r.partition}/${topic}`
        const last = expected.get(key)
        // The first record of a partition read on is the one the last read stopped at, when the
        // topic is the same: until it is recognised nothing of the partition is kept, so a read
        // that fails midway never leaves records of two topics of one name mixed.
        if (last !== undefined && !recognised.has(key)) {
          if (offset === last.offset && print === last.print) recognised.add(key)
          continue
        }
        const item = parse.get(topic)!(r)
        if (item !== undefined) p.held.push({ offset, item })
        p.last = { offset, print }
      }
    }
    const scan = (from: (topic: string, partition: number) => bigint | undefined) =>
      scanTopics(log, present, take, {
        groupPrefix: this.#options.groupPrefix,
        ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }),
        from,
      })
    const scannedTo = await scan((topic, partition) => expected.get(`${partition}/${topic}`)?.offset)
    const changed = [...expected.keys()].filter((key) => !recognised.has(key))
    if (changed.length === 0) return { delivered, restarted: 0 }
    // Partitions whose last record is gone or another one: read again from their start, the
    // others from where the first scan stopped (what came since is new to them).
    expected.clear()
    for (const key of changed) {
      const slash = key.indexOf('/')
      this.#state.get(key.slice(slash + 1))![Number(key.slice(0, slash))] = { held: [], last: undefined }
    }
    const restart = new Set(changed)
    await scan((topic, partition) => (restart.has(`${partition}/${topic}`) ? undefined : scannedTo.get(topic)?.[partition]))
    return { delivered, restarted: changed.length }
  }
}
