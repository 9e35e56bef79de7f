/**
 * The live groups of a store: a group whose live engine consumed a topic has checkpoints of it,
 * `checkpoints/<group>/<topic>/<partition>/ckpt-<seq>.json`. A `kfs replay` backfill checkpoints
 * under `<group>.backfill.<view>@<version>`, which is no live group.
 *
 * One live group per topic per store (docs/semantics.md §14): the raw archive of a topic and the
 * re-key internal topics are the store's, written by the engine that consumes the topic, so a second
 * group consuming it would archive and re-key every record a second time. Which group that is, is
 * decided by the topic's claim (./topic-claims.ts); stores from before claims, by the checkpoints.
 */
import { ConfigError } from '../../core/errors.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { planRekeys, planSources } from '../../engine/plan-sources.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { claimTopics, judgeClaim, readClaim, type Clash, type TopicClaim } from './topic-claims.ts'

/** Each topic that live engines checkpointed, with their groups (sorted). */
export async function liveGroupsByTopic(store: ObjectStore): Promise<Map<string, string[]>> {
  const byTopic = new Map<string, Set<string>>()
  for (const key of await store.list('checkpoints/')) {
    if (!/\/ckpt-\d+\.json$/.test(key)) continue
    const [, group, topic] = key.split('/').map((part) => decodeURIComponent(part))
    if (!group || !topic || group.includes('.backfill.')) continue
    byTopic.set(topic, (byTopic.get(topic) ?? new Set<string>()).add(group))
  }
  return new Map([...byTopic].map(([topic, groups]) => [topic, [...groups].sort()]))
}

/** Every topic the live engine reads for `views`: their sources, and the internal topics of re-keyed views. */
export function consumedTopics(views: readonly FeatureViewDef[]): string[] {
  const topics = new Set([...planSources(views).map((p) => p.topic), ...planRekeys(views).map((r) => r.source.topic)])
  return [...topics].sort()
}

/**
 * Claims every topic `groupId` would consume (./topic-claims.ts), or throws (exit 1, before
 * anything is written) when another live group has one — by its claim, or, on a store from before
 * claims, by its checkpoints — or a retired group's archive holds it, naming each topic, the groups
 * and the ways out. The same group again (a restart, another member) passes. Every clash found up
 * front is named at once; a start that loses a simultaneous start's race names the winner.
 */
export async function requireSoleLiveGroup(
  store: ObjectStore,
  groupId: string,
  topics: readonly string[],
  nowMs: number,
): Promise<void> {
  const checkpointedBy = await liveGroupsByTopic(store)
  const clashes: Clash[] = []
  const read = new Map<string, TopicClaim | undefined>()
  for (const topic of [...new Set(topics)].sort()) {
    const claim = await readClaim(store, topic)
    read.set(topic, claim)
    const judged = judgeClaim(topic, claim, groupId, (checkpointedBy.get(topic) ?? []).filter((g) => g !== groupId))
    if (judged.kind !== 'held' && judged.kind !== 'free') clashes.push(judged)
  }
  const lost = clashes.length > 0 ? undefined : await claimTopics(store, groupId, topics, checkpointedBy, nowMs, read)
  if (lost !== undefined) clashes.push(lost)
  if (clashes.length > 0) throw refusal(groupId, clashes)
}

function refusal(groupId: string, clashes: readonly Clash[]): ConfigError {
  const retired = new Map<string, string[]>()
  for (const c of clashes) {
    if (c.kind !== 'retired') continue
    const by = `group ${c.groups.join(', ')} read before it was retired (${new Date(c.retiredAtMs).toISOString()})`
    retired.set(by, [...(retired.get(by) ?? []), c.topic])
  }
  const what = [
    ...clashes.flatMap((c) => (c.kind === 'retired' ? [] : [`${c.topic} is consumed by live group ${c.groups.join(', ')}`])),
    ...[...retired].map(
      ([by, topics]) =>
        `the archive${topics.length > 1 ? 's' : ''} of ${topics.join(', ')} hold${topics.length > 1 ? '' : 's'} what ${by}, and a group starting over would archive every record again`,
    ),
  ].join('; ')
  const live = [...new Set(clashes.flatMap((c) => (c.kind === 'retired' ? [] : c.groups)))]
  const ways = [
    ...(live.length > 0
      ? [`run with ${live.map((g) => `--group ${g}`).join(' or ')} (members of one group share the partitions)`]
      : []),
    'give this deployment its own store (KFS_DATA_DIR, or its own bucket/prefix and Kafka cluster)',
  ]
  const why =
    live.length > 0
      ? "; a topic's raw archive and re-key internal topics are written by the one live group that consumes it, and a second group would write every record into them again"
      : ''
  const retire =
    live.length > 0
      ? "; kfs groups lists each topic's group (kfs groups retire removes one that stopped for good, and frees only the topics it never checkpointed: their archives hold what it read)"
      : ''
  return new ConfigError(`cannot run as group ${groupId}: ${what} on this store${why}; ${ways.join(', or ')}${retire}`)
}
