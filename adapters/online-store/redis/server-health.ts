/**
 * What Redis says about rows it may have dropped on its own (ports/online-store.ts
 * OnlineStoreHealth), from one `INFO server stats`: `run_id` is new after every start of the
 * server — a restart without persistence, or a failover to a replica, which has its own — and
 * `evicted_keys` counts the keys `maxmemory` made it drop since it started.
 */
import { SourceError } from '../../../core/errors.ts'
import type { OnlineStoreHealth } from '../../../ports/online-store.ts'

/** `run_id` and `evicted_keys` of an INFO reply (`field:value` lines). */
export function healthOf(info: string): OnlineStoreHealth {
  const field = (name: string): string | undefined => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()
  const instance = field('run_id')
  if (instance === undefined) throw new SourceError('SOURCE_UNAVAILABLE', 'Redis INFO has no run_id')
  const evicted = Number(field('evicted_keys') ?? 0)
  return { instance, evictedKeys: Number.isFinite(evicted) ? evicted : 0 }
}
