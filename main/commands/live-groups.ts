/**
 * The live groups of a store: a group whose live engine consumed a topic has checkpoints of it,
 * `checkpoints/<group>/<topic>/<partition>/ckpt-<seq>.json`. A `kfs replay` backfill checkpoints
 * under `<group>.backfill.<view>@<version>`, which is no live group.
 *
 * One live group per topic per store (docs/semantics.md §14): the raw archive of a topic and the
 * re-key internal topics are the store's, written by the engine that consumes the topic, so a second
 * group consuming it would archive and re-key every record a second time.
 */
import { ConfigError } from '../../core/errors.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { planRekeys, planSources } from '../../engine/plan-sources.ts'
import type { ObjectStore } from '../../ports/object-store.ts'

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
 * Throws (exit 1) when another live group has checkpoints of any topic `groupId` would consume,
 * naming the topic, the groups and the ways out; the same group again (a restart, another member)
 * passes.
 */
export async function requireSoleLiveGroup(store: ObjectStore, groupId: string, topics: readonly string[]): Promise<void> {
  const live = await liveGroupsByTopic(store)
  const clashes = topics.flatMap((topic) => {
    const others = (live.get(topic) ?? []).filter((g) => g !== groupId)
    return others.length === 0 ? [] : [{ topic, others }]
  })
  if (clashes.length === 0) return
  const what = clashes.map(({ topic, others }) => `${topic} is consumed by live group ${others.join(', ')}`).join('; ')
  const groups = [...new Set(clashes.flatMap((c) => c.others))]
  throw new ConfigError(
    `cannot run as group ${groupId}: ${what} on this store; a topic's raw archive and re-key internal topics are written by the one live group that consumes it, and a second group would write every record into them again; ` +
      `run with ${groups.map((g) => `--group ${g}`).join(' or ')} (members of one group share the partitions), or give this deployment its own store (KFS_DATA_DIR, or its own bucket/prefix and Kafka cluster)`,
  )
}
