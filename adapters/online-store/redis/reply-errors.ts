/**
 * What a failed Redis command means for the online store, decided once here for reads and writes
 * alike (never by a caller matching message text):
 *
 * - `noscript` — the server lost its scripts (a restart, SCRIPT FLUSH): load the script and send again.
 * - `transient` — a state Redis leaves by itself or by failover: no reply at all (a connection
 *   lost, a command timeout), or an error reply whose code says "not now": LOADING (a restart
 *   reading its data), BUSY (a script running long), TRYAGAIN / CLUSTERDOWN / MASTERDOWN / MOVED /
 *   ASK (a cluster resharding or failing over), READONLY (a replica promoted under us),
 *   NOREPLICAS, MISCONF (persistence failing: writes resume once it succeeds) and OOM (maxmemory:
 *   writes resume once memory is freed). Reads answer 503 and writes are retried.
 * - `wrongtype` — the key holds another type of value than the hash kfs writes: a row that is not
 *   kfs's, which no retry reads. A read answers it as an unreadable row; a write is refused.
 * - `refused` — any other error reply (NOPERM, NOAUTH, WRONGPASS, ERR …): Redis is up and
 *   answered, and will answer the same command the same way. Never retried.
 */
import { SourceError } from '../../../core/errors.ts'
import { StoredRowUnreadable } from '../../../ports/online-store.ts'
import type { ViewLayout } from './row-layout.ts'

export type RedisFailureKind = 'noscript' | 'transient' | 'wrongtype' | 'refused'

const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'LOADING',
  'BUSY',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'MOVED',
  'ASK',
  'READONLY',
  'NOREPLICAS',
  'MISCONF',
  'OOM',
])

/** An error Redis sent as its reply (ioredis's ReplyError), as opposed to no reply at all. */
export function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError'
}

/** The error code a reply starts with (`WRONGTYPE Operation against…` → WRONGTYPE). */
function replyCode(message: string): string {
  const space = message.indexOf(' ')
  return space === -1 ? message : message.slice(0, space)
}

export function redisFailureKind(err: unknown): RedisFailureKind {
  if (!isReplyError(err)) return 'transient'
  const code = replyCode(err.message)
  if (code === 'NOSCRIPT') return 'noscript'
  // A script's failing command keeps its code in Redis 7; older servers wrap it in ERR's text.
  if (code === 'WRONGTYPE' || err.message.includes('WRONGTYPE ')) return 'wrongtype'
  if (TRANSIENT_CODES.has(code)) return 'transient'
  return 'refused'
}

/**
 * A read that failed as `err` (reply-errors.ts says which kind): passing — SOURCE_UNAVAILABLE, a
 * 503 — or for good — StoredRowUnreadable: a key of another type (corrupt), or a read Redis refuses.
 * The view named is the lookups' when they are of one view (a batch's failure names no key).
 */
export function readFailure(err: unknown, prepared: readonly { readonly layout: ViewLayout }[]): SourceError {
  const text = err instanceof Error ? err.message : String(err)
  const kind = redisFailureKind(err)
  if (kind === 'transient' || kind === 'noscript')
    return new SourceError('SOURCE_UNAVAILABLE', `online store unavailable: ${text}`, { cause: err })
  const views = [...new Set(prepared.map((p) => p.layout.view.name))]
  const view = views.length === 1 ? views[0] : undefined
  const what = kind === 'wrongtype' ? 'a key holds another type of value than a kfs row' : 'Redis refused the read'
  return new StoredRowUnreadable(kind === 'wrongtype' ? 'corrupt' : 'refused', `${what} (views ${views.join(', ')}): ${text}`, {
    view,
    cause: err,
  })
}
