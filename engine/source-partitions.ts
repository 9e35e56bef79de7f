/**
 * A source's topic holds exactly the partitions its source declares (docs/semantics.md §10). kfs
 * keeps each entity's state in the partition slot its events arrive in, and a producer picks that
 * partition from the key and the topic's partition count: a topic with another count — created so,
 * or grown by an operator (kafka-topics.sh --alter, an admin client's createPartitions) — sends a
 * key's events to another partition than the one its state is in, where a second, partial state of
 * the entity grows. Its features are then wrong online and offline, replay reproduces them (the
 * archive is per partition too), and verify-parity cannot tell. kfs never adds partitions, so it
 * refuses such a topic, as Kafka Streams refuses a source topic whose partition count changed.
 *
 * Every topic a run reads is held to it: each view's source topic, a re-keyed view's internal topic
 * (kfs creates it with its count) and the source topic a re-key stage reads.
 */
import { InvariantViolation, SourceError } from '../core/errors.ts'
import type { FeatureViewDef, SourceDef } from '../features/types.ts'
import type { EventLog } from '../ports/event-log.ts'
import { isRekeyedSource, planRekeys, planSources, type RekeyOptions } from './plan-sources.ts'

/** How a count was found: `grown` while kfs ran (the topic passed at its start); `atLeast` when only an assignment told it. */
export interface PartitionCountFinding {
  readonly grown?: boolean
  readonly atLeast?: boolean
}

/** The refusal of `source`'s topic, found with `actual` partitions. */
export function partitionCountRefused(
  source: SourceDef,
  actual: number,
  finding: PartitionCountFinding = {},
): InvariantViolation {
  const { topic, partitions: declared } = source
  const has = `${finding.atLeast === true ? 'at least ' : ''}${actual}`
  const context = { topic, source: source.name, declared, actual }
  if (isRekeyedSource(source)) {
    return new InvariantViolation(
      `internal topic ${topic} has ${has} partitions, but kfs created it with ${declared} and never adds any: partitions added by hand move entities to other partitions of its re-keyed views, so kfs refuses it (docs/semantics.md §10); recreate it with ${declared} partitions`,
      { context },
    )
  }
  const declare = `declare partitions: ${actual} in source ${source.name} and kfs apply it (new versions of its views)`
  const moved = `events have moved: recreate the topic with ${declared} partitions and produce its events again, or produce them to a new topic and declare it as a new source`
  const way =
    actual < declared
      ? `the topic was created with fewer: ${declare}, or recreate the topic with ${declared} partitions`
      : finding.grown === true
        ? `partitions were added while kfs ran, so ${moved}`
        : `if it has had ${actual} partitions from its first event, ${declare}; if partitions were added (kafka-topics.sh --alter), ${moved}`
  return new InvariantViolation(
    `topic ${topic} has ${has} partitions, but source ${source.name} declares ${declared}: kfs keeps each entity's state in the partition its events arrive in, and another partition count sends them elsewhere, so kfs refuses the topic (docs/semantics.md §10); ${way}`,
    { context },
  )
}

/**
 * A partition past its topic's declared count in an assignment (the topic grew while kfs ran): its
 * refusal, with the topic's count as the log tells it now (at least the partitions assigned).
 */
export async function assignedPastDeclared(
  log: Pick<EventLog, 'partitionCount'>,
  sources: readonly SourceDef[],
  assigned: readonly { readonly topic: string; readonly partition: number }[],
): Promise<InvariantViolation | undefined> {
  for (const source of sources) {
    const seen = assigned.filter((a) => a.topic === source.topic).reduce((n, a) => Math.max(n, a.partition + 1), 0)
    if (seen <= source.partitions) continue
    const actual = await log.partitionCount(source.topic).catch(() => undefined)
    return partitionCountRefused(source, Math.max(actual ?? 0, seen), { grown: true, atLeast: actual === undefined })
  }
  return undefined
}

/** Refuses the first source whose topic exists with another partition count than declared; a topic not created yet passes. */
export async function requireDeclaredPartitions(
  log: Pick<EventLog, 'partitionCount'>,
  sources: readonly SourceDef[],
  finding: PartitionCountFinding = {},
): Promise<void> {
  for (const source of sources) {
    const actual = await log.partitionCount(source.topic).catch((err: unknown) => {
      if (err instanceof SourceError && err.code === 'NOT_FOUND') return undefined
      throw err
    })
    if (actual !== undefined && actual !== source.partitions) throw partitionCountRefused(source, actual, finding)
  }
}

/**
 * The sources whose topics running `views` reads, re-key stages' sources first: each view's as
 * consumed, and the declared source of each re-keyed one; one per topic.
 */
export function sourcesReadBy(views: readonly FeatureViewDef[], rekey?: RekeyOptions): SourceDef[] {
  const byTopic = new Map<string, SourceDef>()
  for (const source of [...planRekeys(views, rekey).map((r) => r.source), ...planSources(views, rekey).map((p) => p.source)])
    byTopic.set(source.topic, source)
  return [...byTopic.values()]
}
