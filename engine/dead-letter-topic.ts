/**
 * Dead letters go to a topic of the event log with the original key and bytes, and the reason and
 * origin in headers, so nothing refused is ever lost and it can be replayed after a fix.
 *
 * `kfs-source-topic/-partition/-offset` say where the refused record was read. A record a view
 * read from a re-key stage's internal topic also carries `kfs-origin-topic/-partition/-offset`:
 * the source record it was forwarded from, which is the one to look at and replay.
 */
import type { DeadLetter, DeadLetterSink } from '../ports/dead-letters.ts'
import type { EventLog, ProduceRecord } from '../ports/event-log.ts'

export const DEAD_LETTER_HEADERS = {
  reason: 'kfs-reason',
  detail: 'kfs-detail',
  topic: 'kfs-source-topic',
  partition: 'kfs-source-partition',
  offset: 'kfs-source-offset',
  view: 'kfs-view',
  viewVersion: 'kfs-view-version',
  originTopic: 'kfs-origin-topic',
  originPartition: 'kfs-origin-partition',
  originOffset: 'kfs-origin-offset',
} as const

/** The records a dead-letter topic holds for these letters (also produced transactionally by re-key stages). */
export function deadLetterRecords(letters: readonly DeadLetter[]): ProduceRecord[] {
  return letters.map((l) => ({
    key: l.key,
    value: l.value,
    headers: {
      [DEAD_LETTER_HEADERS.reason]: l.reason,
      [DEAD_LETTER_HEADERS.detail]: detailHeader(l.detail),
      [DEAD_LETTER_HEADERS.topic]: l.topic,
      [DEAD_LETTER_HEADERS.partition]: String(l.partition),
      [DEAD_LETTER_HEADERS.offset]: l.offset,
      ...(l.view ? { [DEAD_LETTER_HEADERS.view]: l.view } : {}),
      ...(l.view && l.viewVersion !== undefined ? { [DEAD_LETTER_HEADERS.viewVersion]: String(l.viewVersion) } : {}),
      ...(l.origin
        ? {
            [DEAD_LETTER_HEADERS.originTopic]: l.origin.topic,
            [DEAD_LETTER_HEADERS.originPartition]: String(l.origin.partition),
            [DEAD_LETTER_HEADERS.originOffset]: l.origin.offset,
          }
        : {}),
    },
  }))
}

export function createDeadLetterTopicSink(log: EventLog, topic: string): DeadLetterSink {
  let pending: Promise<unknown> = Promise.resolve()
  let created: Promise<void> | undefined
  return {
    async write(letters: readonly DeadLetter[]): Promise<void> {
      if (letters.length === 0) return
      const records = deadLetterRecords(letters)
      // A failed creation (broker down) must not be remembered: the next write tries again.
      created ??= log.createTopic(topic, 1).catch((err: unknown) => {
        created = undefined
        throw err
      })
      await created
      // Kafka refuses a produce request larger than the broker's message size limit (1 MB by default).
      pending = (async () => {
        for (const chunk of chunksOf(records)) await log.produce(topic, chunk)
      })()
      await pending
    },
    async flush(): Promise<void> {
      await pending
    },
  }
}

const CHUNK_BYTES = 256 * 1024

/** Consecutive slices of at most ~256 KiB of keys, values and headers (a larger record goes alone). */
export function chunksOf(records: readonly ProduceRecord[]): ProduceRecord[][] {
  const out: ProduceRecord[][] = []
  let current: ProduceRecord[] = []
  let bytes = 0
  for (const r of records) {
    let size = 64 + (r.value?.byteLength ?? 0) + (typeof r.key === 'string' ? r.key.length * 3 : (r.key?.byteLength ?? 0))
    for (const [k, v] of Object.entries(r.headers ?? {})) size += (k.length + v.length) * 3
    if (current.length > 0 && bytes + size > CHUNK_BYTES) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(r)
    bytes += size
  }
  if (current.length > 0) out.push(current)
  return out
}

/** The longest detail a header carries, in UTF-16 code units. */
export const MAX_DETAIL_UNITS = 1000

/** `detail` cut to MAX_DETAIL_UNITS, never between the two halves of a character (a lone half reads as U+FFFD). */
export function detailHeader(detail: string): string {
  if (detail.length <= MAX_DETAIL_UNITS) return detail
  const last = detail.charCodeAt(MAX_DETAIL_UNITS - 1)
  return detail.slice(0, last >= 0xd800 && last <= 0xdbff ? MAX_DETAIL_UNITS - 1 : MAX_DETAIL_UNITS)
}
