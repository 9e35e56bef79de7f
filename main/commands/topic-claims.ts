/**
 * The claim of a topic by its one live group (docs/semantics.md §14): `claims/<topic>.json`, created
 * with create-only semantics (ObjectStore.putIfAbsent: link(2) locally, `If-None-Match: *` on S3)
 * before the live engine writes anything. Of two groups starting at the same moment, both can find
 * no checkpoint of the other; only one of their creates of the claim succeeds, and the other reads
 * the winner's name from it and is refused. The group named in a claim — a restart, a rolling
 * deploy, another member — passes.
 *
 * A claim with `retiredAtMs` is what `kfs groups retire` leaves of a group that had checkpoints of
 * the topic: the archive holds what that group read, and a group starting over would archive every
 * record again, so no group passes it.
 *
 * Stores from before claims: a topic with no claim whose checkpoints belong to another group is
 * refused as before (./live-groups.ts); the group that has them claims the topic on its next start.
 */
import { randomUUID } from 'node:crypto'
import { ConfigError } from '../../core/errors.ts'
import { parseStoredJson } from '../../core/stored-json.ts'
import type { ObjectStore } from '../../ports/object-store.ts'

export const CLAIMS_PREFIX = 'claims/'

export interface TopicClaim {
  readonly topic: string
  readonly group: string
  readonly claimedAtMs: number
  /** Tells this start's create from another's (a create whose answer was lost is read back). */
  readonly token: string
  /** Set by `kfs groups retire` for a topic the group had checkpoints of: no group passes it. */
  readonly retiredAtMs?: number
}

export function claimKey(topic: string): string {
  return `${CLAIMS_PREFIX}${encodeURIComponent(topic)}.json`
}

function isClaim(v: unknown): v is TopicClaim {
  if (typeof v !== 'object' || v === null) return false
  const c = v as Record<string, unknown>
  return (
    typeof c.topic === 'string' &&
    typeof c.group === 'string' &&
    Number.isSafeInteger(c.claimedAtMs) &&
    typeof c.token === 'string' &&
    (c.retiredAtMs === undefined || Number.isSafeInteger(c.retiredAtMs))
  )
}

export function encodeClaim(claim: TopicClaim): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(claim)}\n`)
}

/** The claim stored at `key`; damage (not JSON, another shape) is a ConfigError naming the key and the way out. */
export async function readClaimAt(store: ObjectStore, key: string): Promise<TopicClaim | undefined> {
  const bytes = await store.get(key)
  if (bytes === undefined) return undefined
  return parseStoredJson<TopicClaim>(new TextDecoder().decode(bytes), {
    what: `topic claim ${key}`,
    path: key,
    shape: 'a topic claim ({"topic", "group", "claimedAtMs", "token"})',
    isValid: isClaim,
    advice: 'restore it from a copy, or delete it when the group that consumes the topic is known (kfs groups)',
    error: (message, options) => new ConfigError(message, options),
  })
}

/** The claim of `topic`; one stored for another spelling of it (a store blind to case) is refused, naming both. */
export async function readClaim(store: ObjectStore, topic: string): Promise<TopicClaim | undefined> {
  const key = claimKey(topic)
  const claim = await readClaimAt(store, key)
  if (claim !== undefined && claim.topic !== topic) {
    throw new ConfigError(
      `topic claim ${key} for topic '${topic}' is the claim of topic '${claim.topic}': the object store does not tell upper from lower case, so the two topics' claims would mix; use one spelling, or names that differ in more than case`,
      { context: { topic, stored: claim.topic, path: key } },
    )
  }
  return claim
}

/** Every claim of the store, by topic. */
export async function listClaims(store: ObjectStore): Promise<TopicClaim[]> {
  const keys = (await store.list(CLAIMS_PREFIX)).filter((k) => k.endsWith('.json'))
  const claims = await Promise.all(keys.map((k) => readClaimAt(store, k)))
  return claims.filter((c): c is TopicClaim => c !== undefined)
}

/** Why a start may not have a topic: the claim's group, a retired group's archive, or (before claims) others' checkpoints. */
export type Clash =
  | { readonly topic: string; readonly kind: 'claimed'; readonly groups: readonly string[] }
  | { readonly topic: string; readonly kind: 'retired'; readonly groups: readonly string[]; readonly retiredAtMs: number }
  | { readonly topic: string; readonly kind: 'checkpoints'; readonly groups: readonly string[] }

type Outcome = { readonly kind: 'held' } | { readonly kind: 'created'; readonly token: string } | Clash

/**
 * What `claim` (as just read; undefined: none) says of `groupId` starting over `topic`: a clash,
 * `held` (its own claim), or `free` — no claim, and no other group's checkpoints (`othersCheckpointed`,
 * a store from before claims). The one rule the up-front check and the claim's create both apply.
 */
export function judgeClaim(
  topic: string,
  claim: TopicClaim | undefined,
  groupId: string,
  othersCheckpointed: readonly string[],
): Clash | { readonly kind: 'held' } | { readonly kind: 'free' } {
  if (claim?.retiredAtMs !== undefined) return { topic, kind: 'retired', groups: [claim.group], retiredAtMs: claim.retiredAtMs }
  if (claim !== undefined) return claim.group === groupId ? { kind: 'held' } : { topic, kind: 'claimed', groups: [claim.group] }
  if (othersCheckpointed.length > 0) return { topic, kind: 'checkpoints', groups: othersCheckpointed }
  return { kind: 'free' }
}

/** Creates of a claim lost to a claim that was released before it could be read: tried again this often. */
const LOST_RACES = 8

/**
 * Claims `topic` for `groupId`, or says who has it. `othersCheckpointed` are the groups other than
 * this one with checkpoints of the topic (a store from before claims); `read`, the claim as the
 * caller just read it (`'unread'`: read it first).
 */
async function claimTopic(
  store: ObjectStore,
  groupId: string,
  topic: string,
  othersCheckpointed: readonly string[],
  nowMs: number,
  read: TopicClaim | undefined | 'unread',
): Promise<Outcome> {
  for (let attempt = 0; attempt < LOST_RACES; attempt++) {
    const claim = attempt === 0 && read !== 'unread' ? read : await readClaim(store, topic)
    const judged = judgeClaim(topic, claim, groupId, othersCheckpointed)
    if (judged.kind !== 'free') return judged
    const token = randomUUID()
    let created: boolean
    try {
      created = await store.putIfAbsent(claimKey(topic), encodeClaim({ topic, group: groupId, claimedAtMs: nowMs, token }))
    } catch (err: unknown) {
      // The answer may be lost while the create landed: the claim read back tells. A failed read
      // leaves the put's failure to report (a claim left behind names this group: see release).
      const back = await readClaim(store, topic).catch(() => undefined)
      if (back?.token === token) return { kind: 'created', token }
      throw err
    }
    if (created) return { kind: 'created', token }
    // Lost the race: the next turn reads the winner (or finds its claim released, and tries again).
  }
  throw new ConfigError(
    `cannot claim topic ${topic} for group ${groupId}: its claim was created and released ${LOST_RACES} times while this start read it; start again`,
  )
}

/** Deletes the claims this start created (it was refused, or failed, before it wrote anything). */
async function release(store: ObjectStore, created: readonly { topic: string; token: string }[]): Promise<void> {
  for (const { topic, token } of created) {
    try {
      if ((await readClaim(store, topic))?.token === token) await store.delete(claimKey(topic))
    } catch {
      // Left behind, it names this group: its next start passes it, `kfs groups retire` removes it.
    }
  }
}

/**
 * Claims every topic of `topics` for `groupId`, in sorted order (so of any starts that share
 * topics, one gets them all). Returns the clash of the first topic another group has, after
 * releasing the claims this call created; undefined when the group holds them all. A failing store
 * call rejects, also after releasing this call's claims. `read` holds the claims the caller has
 * just read, by topic (a topic absent from it is read first).
 */
export async function claimTopics(
  store: ObjectStore,
  groupId: string,
  topics: readonly string[],
  checkpointedBy: ReadonlyMap<string, readonly string[]>,
  nowMs: number,
  read: ReadonlyMap<string, TopicClaim | undefined> = new Map(),
): Promise<Clash | undefined> {
  const created: { topic: string; token: string }[] = []
  try {
    for (const topic of [...new Set(topics)].sort()) {
      const others = (checkpointedBy.get(topic) ?? []).filter((g) => g !== groupId)
      const outcome = await claimTopic(store, groupId, topic, others, nowMs, read.has(topic) ? read.get(topic) : 'unread')
      if (outcome.kind === 'created') created.push({ topic, token: outcome.token })
      else if (outcome.kind !== 'held') {
        await release(store, created)
        return outcome
      }
    }
    return undefined
  } catch (err: unknown) {
    await release(store, created)
    throw err
  }
}

/**
 * Rejects unless `groupId` still holds `topic`: its claim names the group and is not retired. The
 * running engine asks it before each checkpoint publish (engine/claim-guard.ts), so a member left
 * running by `kfs groups retire` stops instead of writing on (docs/semantics.md §14). `kfs run`
 * claimed every topic it reads before it wrote anything, so a claim that is gone was removed since:
 * a retire freed it (the group had not checkpointed the topic then), or it was deleted by hand.
 */
export async function requireClaimHeld(store: ObjectStore, groupId: string, topic: string): Promise<void> {
  const claim = await readClaim(store, topic)
  if (claim !== undefined && claim.group === groupId && claim.retiredAtMs === undefined) return
  const why =
    claim === undefined
      ? `its claim ${claimKey(topic)} is gone: kfs groups retire ${groupId} freed the topic (or the claim was deleted by hand)`
      : claim.retiredAtMs !== undefined
        ? `kfs groups retire retired group ${claim.group} at ${new Date(claim.retiredAtMs).toISOString()}`
        : `the topic is claimed by group ${claim.group} now`
  throw new ConfigError(
    `group ${groupId} no longer holds topic ${topic}: ${why}; this engine stops without publishing or committing anything more (kfs groups shows the topic's claim; docs/semantics.md §14)`,
    { context: { topic, group: groupId, ...(claim === undefined ? {} : { claimedBy: claim.group }) } },
  )
}
