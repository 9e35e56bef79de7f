/**
 * The live groups of a store as `kfs groups` shows them, and what `kfs groups retire` does to one
 * (docs/semantics.md §14). A group is known by its topic claims (./topic-claims.ts) and its
 * checkpoints (`checkpoints/<group>/<topic>/…/ckpt-<seq>.json`; its backfills' under
 * `<group>.backfill.<view>@<version>`).
 *
 * Retiring removes the group's checkpoints and its claims. A topic the group has checkpoints of
 * keeps a retired claim instead: its archive, re-key internal topic and feature tables hold what the
 * group read, so a group starting over the topic on this store would write every record into them
 * again — the damage the one-live-group rule exists to prevent. A topic it only claimed (a start
 * that failed or stopped before its first checkpoint) is freed.
 */
import { ConfigError } from '../../core/errors.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { claimKey, encodeClaim, listClaims, readClaim, type TopicClaim } from './topic-claims.ts'

export type TopicState = 'claimed' | 'retired' | 'unclaimed'

/** One topic of one group: its claim (none on a store from before claims) and its newest checkpoint. */
export interface GroupTopic {
  readonly topic: string
  readonly group: string
  readonly state: TopicState
  readonly claimedAtMs?: number
  readonly retiredAtMs?: number
  readonly lastCheckpointMs?: number
}

const BACKFILL = '.backfill.'

interface CheckpointObject {
  readonly key: string
  readonly group: string
  readonly topic: string
  readonly lastModifiedMs: number
  readonly isRecord: boolean
}

async function checkpointObjects(store: ObjectStore): Promise<CheckpointObject[]> {
  return (await store.listWithTimes('checkpoints/')).flatMap(({ key, lastModifiedMs }) => {
    const [, group, topic] = key.split('/').map((part) => decodeURIComponent(part))
    return group === undefined || topic === undefined
      ? []
      : [{ key, group, topic, lastModifiedMs, isRecord: /\/ckpt-\d+\.json$/.test(key) }]
  })
}

/** The live group a checkpoint group is, or belongs to (a backfill's). */
function liveGroupOf(group: string): string {
  const at = group.indexOf(BACKFILL)
  return at < 0 ? group : group.slice(0, at)
}

/** Every (topic, live group) of the store, by topic then group. */
export async function storeGroups(store: ObjectStore): Promise<GroupTopic[]> {
  const rows = new Map<string, { topic: string; group: string; claim?: TopicClaim; lastCheckpointMs?: number }>()
  const row = (topic: string, group: string): { topic: string; group: string; claim?: TopicClaim; lastCheckpointMs?: number } => {
    const key = JSON.stringify([topic, group])
    const found = rows.get(key) ?? { topic, group }
    rows.set(key, found)
    return found
  }
  for (const claim of await listClaims(store)) row(claim.topic, claim.group).claim = claim
  for (const o of await checkpointObjects(store)) {
    if (!o.isRecord || o.group.includes(BACKFILL)) continue
    const r = row(o.topic, o.group)
    r.lastCheckpointMs = Math.max(r.lastCheckpointMs ?? 0, o.lastModifiedMs)
  }
  return [...rows.values()]
    .map(({ topic, group, claim, lastCheckpointMs }) => ({
      topic,
      group,
      state:
        claim === undefined
          ? ('unclaimed' as const)
          : claim.retiredAtMs !== undefined
            ? ('retired' as const)
            : ('claimed' as const),
      ...(claim === undefined ? {} : { claimedAtMs: claim.claimedAtMs }),
      ...(claim?.retiredAtMs === undefined ? {} : { retiredAtMs: claim.retiredAtMs }),
      ...(lastCheckpointMs === undefined ? {} : { lastCheckpointMs }),
    }))
    .sort((a, b) => (a.topic === b.topic ? (a.group < b.group ? -1 : 1) : a.topic < b.topic ? -1 : 1))
}

/** What retiring a group would do: the topics it keeps retired, those it frees, the checkpoint objects it deletes. */
export interface RetirePlan {
  readonly group: string
  /** Topics the group has checkpoints of: their claims become retired claims. */
  readonly retire: readonly string[]
  /** Topics the group only claimed: their claims are deleted. */
  readonly free: readonly string[]
  /** Every object under the group's checkpoints and its backfills'. */
  readonly checkpointKeys: readonly string[]
  /** When the group last showed life: its newest checkpoint object or claim (undefined: none). */
  readonly lastActiveMs?: number
  /** Retired already, by an earlier retire: nothing left to do. */
  readonly alreadyRetired: boolean
}

/** The live groups of the store (claims and checkpoints), sorted. */
export async function knownGroups(store: ObjectStore): Promise<string[]> {
  return [...new Set((await storeGroups(store)).map((r) => r.group))].sort()
}

/** The plan to retire `group`, undefined when the store knows no such live group. */
export async function planRetire(store: ObjectStore, group: string): Promise<RetirePlan | undefined> {
  if (group.includes(BACKFILL)) return undefined
  const objects = (await checkpointObjects(store)).filter((o) => liveGroupOf(o.group) === group)
  const claims = (await listClaims(store)).filter((c) => c.group === group)
  if (objects.length === 0 && claims.length === 0) return undefined
  const checkpointed = new Set(objects.filter((o) => o.isRecord && o.group === group).map((o) => o.topic))
  const live = claims.filter((c) => c.retiredAtMs === undefined)
  const times = [...objects.map((o) => o.lastModifiedMs), ...live.map((c) => c.claimedAtMs)]
  return {
    group,
    retire: [...checkpointed].filter((t) => !claims.some((c) => c.topic === t && c.retiredAtMs !== undefined)).sort(),
    free: live
      .filter((c) => !checkpointed.has(c.topic))
      .map((c) => c.topic)
      .sort(),
    checkpointKeys: objects.map((o) => o.key),
    ...(times.length === 0 ? {} : { lastActiveMs: Math.max(...times) }),
    alreadyRetired: objects.length === 0 && live.length === 0,
  }
}

/**
 * Carries out `plan`: first the retired claims (so no moment passes in which a topic has neither
 * the group's checkpoints nor a claim that refuses a group starting over it), then the checkpoint
 * objects, then the claims of the topics it frees. A failure part-way leaves a plan a second retire
 * finishes. Another group's claim is never touched.
 */
export async function retireGroup(store: ObjectStore, plan: RetirePlan, nowMs: number): Promise<void> {
  for (const topic of plan.retire) {
    const claim = await readClaim(store, topic)
    if (claim !== undefined && claim.group !== plan.group) {
      throw new ConfigError(
        `cannot retire group ${plan.group}: it has checkpoints of ${topic}, whose claim is group ${claim.group}'s; two groups consumed ${topic} on this store (before claims) — see docs/semantics.md §14`,
      )
    }
    const retired: TopicClaim = {
      topic,
      group: plan.group,
      claimedAtMs: claim?.claimedAtMs ?? nowMs,
      token: claim?.token ?? 'retired',
      retiredAtMs: nowMs,
    }
    await store.put(claimKey(topic), encodeClaim(retired))
  }
  for (const key of plan.checkpointKeys) await store.delete(key)
  for (const topic of plan.free) {
    const claim = await readClaim(store, topic)
    if (claim?.group === plan.group && claim.retiredAtMs === undefined) await store.delete(claimKey(topic))
  }
}
