/**
 * One `apply` at a time per registry. An apply checks its definitions against what is published
 * (a new version keeps what unpinned services read, one source per topic, …) and then writes; two
 * at once could both pass against the same registry and both write, leaving it inconsistent. So
 * an apply holds the object `registry/apply.lock` from before its checks to after its writes.
 *
 * How, with what the ObjectStore port allows: the lock is created with `putIfAbsent` (local:
 * link(2); S3: If-None-Match), naming its owner — pid and start time (a reused pid is not the
 * owner), host, when it was taken, and a token that tells two holders in one process apart. A
 * lock whose owner is gone is stale and taken over: on the owner's host when that process no
 * longer runs (as the embedded log's directory LOCK, adapters/local-disk/directory-lock.ts),
 * elsewhere — where no process can be asked — once its lease has run out; one that does not read is
 * stale too. A held lock is waited for, up to a bound, then the apply fails naming the holder.
 *
 * What it does not give: the port has no conditional delete, so a stale lock is removed by
 * comparing it and then deleting it, and two processes taking over the same stale lock in that
 * instant could both win. A lock is stale only after a crash, so that needs a crash and two
 * applies at once. The lease must outlast an apply (seconds): a holder on another host is
 * assumed alive for all of it.
 */
import { randomUUID } from 'node:crypto'
import type { Clock } from '../core/clock.ts'
import { FeatureStoreError } from '../core/errors.ts'
import type { ObjectStore } from '../ports/object-store.ts'

export const APPLY_LOCK_KEY = 'registry/apply.lock'

/** Who holds the lock. */
export interface LockOwner {
  readonly pid: number
  /** The process's start time where the host tells it; '' otherwise. */
  readonly startTime: string
  /** '' when unknown: then only the lease ends the lock. */
  readonly host: string
  readonly acquiredAtMs: number
  readonly token: string
}

export interface ApplyLockOptions {
  /** This process, as its lock names it. Default: nothing known (pid 0, no host): only the lease ends it. */
  readonly self?: Pick<LockOwner, 'pid' | 'startTime' | 'host'>
  /** Whether a process of this host still runs; default: assumed to (only the lease ends its lock). */
  readonly isRunning?: (pid: number, startTime: string) => boolean
  /** How long a lock whose owner cannot be asked is held. Default 10 minutes. */
  readonly leaseMs?: number
  /** How long an apply waits for a held lock before it fails. Default 60 s. */
  readonly waitMs?: number
  readonly pollMs?: number
}

export interface ApplyLock {
  /** Resolves once this apply holds the registry, with the release; fails naming the holder after the wait. */
  acquire(): Promise<() => Promise<void>>
}

export function objectStoreApplyLock(store: ObjectStore, clock: Clock, options: ApplyLockOptions = {}): ApplyLock {
  const self = options.self ?? { pid: 0, startTime: '', host: '' }
  const isRunning = options.isRunning ?? (() => true)
  const leaseMs = options.leaseMs ?? 10 * 60_000
  const waitMs = options.waitMs ?? 60_000
  const pollMs = options.pollMs ?? 200

  function isStale(owner: LockOwner | undefined, nowMs: number): boolean {
    if (owner === undefined) return true // does not read: nobody can be holding it
    if (self.host !== '' && owner.host === self.host && owner.pid > 0) return !isRunning(owner.pid, owner.startTime)
    return nowMs - owner.acquiredAtMs > leaseMs
  }

  return {
    async acquire() {
      const startedMs = clock.nowMs()
      for (;;) {
        const mine: LockOwner = { ...self, acquiredAtMs: clock.nowMs(), token: randomUUID() }
        const body = Buffer.from(JSON.stringify(mine))
        if (await store.putIfAbsent(APPLY_LOCK_KEY, body)) return () => release(store, body)
        const held = await store.get(APPLY_LOCK_KEY)
        if (held === undefined) continue // released meanwhile
        const owner = parseOwner(held)
        const nowMs = clock.nowMs()
        if (isStale(owner, nowMs)) {
          // Only the lock judged stale: not one another process took since.
          const again = await store.get(APPLY_LOCK_KEY)
          if (again !== undefined && Buffer.from(again).equals(Buffer.from(held))) await store.delete(APPLY_LOCK_KEY)
          continue
        }
        if (nowMs - startedMs >= waitMs) throw heldError(store, owner!, nowMs - startedMs)
        await clock.sleep(pollMs)
      }
    },
  }
}

async function release(store: ObjectStore, body: Buffer): Promise<void> {
  // Not a lock another apply took over (ours judged stale): that one is theirs.
  const held = await store.get(APPLY_LOCK_KEY)
  if (held !== undefined && Buffer.from(held).equals(body)) await store.delete(APPLY_LOCK_KEY)
}

function parseOwner(bytes: Uint8Array): LockOwner | undefined {
  try {
    const o = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<LockOwner>
    const ok =
      Number.isSafeInteger(o.pid) &&
      typeof o.startTime === 'string' &&
      typeof o.host === 'string' &&
      Number.isFinite(o.acquiredAtMs) &&
      typeof o.token === 'string'
    return ok ? (o as LockOwner) : undefined
  } catch {
    return undefined
  }
}

function heldError(store: ObjectStore, owner: LockOwner, waitedMs: number): FeatureStoreError {
  const who = owner.pid > 0 ? `process ${owner.pid}${owner.host === '' ? '' : ` on ${owner.host}`}` : 'another process'
  return new FeatureStoreError(
    'COMMIT_CONFLICT',
    `another kfs apply (${who}, since ${new Date(owner.acquiredAtMs).toISOString()}) is publishing to the registry; waited ${Math.round(waitedMs / 1000)} s for it: run kfs apply again once it has finished (if no apply is running, remove ${store.uriOf(APPLY_LOCK_KEY)})`,
    { context: { lock: store.uriOf(APPLY_LOCK_KEY), heldByPid: owner.pid, heldByHost: owner.host } },
  )
}
