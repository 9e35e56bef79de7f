/**
 * Reads whole topics as they stand now and keeps them: engine/topic-scan.ts (committed records
 * from each partition's first offset to the end measured at the start) collected per topic, with
 * an overall timeout. The result is a snapshot as of the start.
 */
import { FeatureStoreError } from '../../core/errors.ts'
import { scanTopics } from '../../engine/topic-scan.ts'
import type { EventLog, LogRecord } from '../../ports/event-log.ts'

export interface ReadToEndOptions {
  /** Prefix of the throw-away group's id; a random suffix keeps concurrent readers apart. */
  readonly groupPrefix: string
  /** Give up after this long (default 120 s): an open transaction that never ends, a broker gone. */
  readonly timeoutMs?: number
}

/** False when the topic does not exist (it is created on first use by whoever writes it). */
export async function topicExists(log: EventLog, topic: string): Promise<boolean> {
  try {
    return (await log.partitionCount(topic)) > 0
  } catch (err: unknown) {
    if (err instanceof FeatureStoreError && err.code === 'NOT_FOUND') return false
    throw err
  }
}

/** Every committed record of `topics` (those that exist), per topic in partition and offset order. */
export async function readToEnd(log: EventLog, topics: readonly string[], options: ReadToEndOptions): Promise<Map<string, LogRecord[]>> {
  const out = new Map<string, LogRecord[]>(topics.map((t) => [t, []]))
  const present: string[] = []
  for (const topic of topics) if (await topicExists(log, topic)) present.push(topic)
  if (present.length === 0) return out
  await scanTopics(log, present, (topic, records) => void out.get(topic)!.push(...records), { groupPrefix: options.groupPrefix, timeoutMs: options.timeoutMs ?? 120_000 })
  for (const records of out.values()) records.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1))
  return out
}
