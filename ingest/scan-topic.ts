/**
 * Reads a table source's topic whole as it stands now, handing each partition's records to
 * `onRecords` in offset order, batch by batch, without keeping them (a table's log can be large):
 * engine/topic-scan.ts with a stall timeout, since the scan's length grows with the log.
 */
import type { EventLog, LogRecord } from '../ports/event-log.ts'
import { scanTopics } from '../engine/topic-scan.ts'

export interface ScanOptions {
  /** Prefix of the throw-away group's id; a random suffix keeps concurrent scans apart. */
  readonly groupPrefix: string
  /** Give up after this long without progress (default 120 s): an open transaction that never ends, a broker gone. */
  readonly stallTimeoutMs?: number
}

export async function scanTopic(log: EventLog, topic: string, onRecords: (records: readonly LogRecord[]) => Promise<void> | void, options: ScanOptions): Promise<void> {
  await scanTopics(log, [topic], (_, records) => onRecords(records), { groupPrefix: options.groupPrefix, stallTimeoutMs: options.stallTimeoutMs ?? 120_000 })
}
