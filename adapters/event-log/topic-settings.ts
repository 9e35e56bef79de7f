/**
 * Topic settings both Kafka adapters share (kafka/ on kafkajs, platformatic/ on
 * @platformatic/kafka): the settings a created topic gets from the port's `TopicOptions`, and what
 * a topic's settings say about the records it may delete (`EventLog.retentionLimit`).
 */
import type { TopicOptions } from '../../ports/event-log.ts'

export const RETENTION_SETTINGS = ['cleanup.policy', 'retention.ms', 'retention.bytes'] as const

/** Kafka's settings for a topic created with `options`: none beyond the cluster's defaults unless compacted. */
export function topicSettings(options: TopicOptions | undefined): { name: string; value: string }[] {
  if (options?.compactAfterMs === undefined) return []
  return [
    { name: 'cleanup.policy', value: 'compact' },
    { name: 'min.compaction.lag.ms', value: String(Math.max(0, Math.floor(options.compactAfterMs))) },
  ]
}

/**
 * Undefined when a topic with these settings keeps each key's latest record for good: compacted
 * only, or deleting by neither time nor size. Otherwise the settings that delete, as Kafka names them.
 * A setting the broker did not report counts as its Kafka default (delete, 7 days, no size limit).
 */
export function retentionLimitOf(settings: ReadonlyMap<string, string | null | undefined>): string | undefined {
  const policy = settings.get('cleanup.policy') ?? 'delete'
  const policies = policy.split(',').map((p) => p.trim())
  if (!policies.includes('delete')) return undefined
  const ms = settings.get('retention.ms') ?? '604800000'
  const bytes = settings.get('retention.bytes') ?? '-1'
  if (Number(ms) < 0 && Number(bytes) < 0) return undefined
  return [
    `cleanup.policy=${policy}`,
    Number(ms) < 0 ? '' : `retention.ms=${ms}`,
    Number(bytes) < 0 ? '' : `retention.bytes=${bytes}`,
  ]
    .filter((s) => s !== '')
    .join(', ')
}
