/**
 * Reads a request's (view, entity) lookups with exactly one store call (one Redis round trip),
 * consulting the hot-key cache first for views that have it. Cached views read whole rows so any
 * later feature subset can be answered from the cache.
 */
import type { FeatureValue, FeatureViewDef } from '../features/types.ts'
import type { OnlineRead, OnlineStatus, OnlineStore } from '../ports/online-store.ts'
import { HotCache, type CachedRow } from './hot-cache.ts'

export interface Lookup {
  readonly view: FeatureViewDef
  readonly entityKey: string
  readonly features: readonly string[]
}

export interface ReaderDeps {
  readonly store: Pick<OnlineStore, 'readRows'>
  readonly cache?: HotCache | undefined
}

/** Same boundary as the stores and the point-in-time join: valid while `as_of > now − ttl`. */
function statusAt(asOfMs: number | null, view: FeatureViewDef, nowMs: number): OnlineStatus {
  if (asOfMs === null) return 'MISSING'
  return asOfMs <= nowMs - view.ttlMs ? 'OUTSIDE_TTL' : 'PRESENT'
}

function fromCached(row: CachedRow, lookup: Lookup, nowMs: number): OnlineRead {
  const status = statusAt(row.asOfMs, lookup.view, nowMs)
  const all = lookup.view.features
  const values: FeatureValue[] = lookup.features.map((f) => {
    if (status !== 'PRESENT') return null
    return row.values[all.findIndex((d) => d.name === f)] ?? null
  })
  return { status, asOfMs: row.asOfMs, values }
}

export async function readLookups(lookups: readonly Lookup[], deps: ReaderDeps, nowMs: number): Promise<OnlineRead[]> {
  const { cache } = deps
  if (!cache) return deps.store.readRows(lookups, nowMs)
  const out = new Array<OnlineRead | undefined>(lookups.length)
  const misses: { index: number; lookup: Lookup; key: string | undefined }[] = []
  lookups.forEach((lookup, index) => {
    if (!cache.enabledFor(lookup.view.name)) {
      misses.push({ index, lookup, key: undefined })
      return
    }
    const key = HotCache.key(lookup.view.name, lookup.view.version, lookup.entityKey)
    const hit = cache.get(key, nowMs)
    if (hit) out[index] = fromCached(hit, lookup, nowMs)
    else misses.push({ index, lookup: { ...lookup, features: lookup.view.features.map((f) => f.name) }, key })
  })
  if (misses.length > 0) {
    const reads = await deps.store.readRows(
      misses.map((m) => m.lookup),
      nowMs,
    )
    misses.forEach((m, i) => {
      const read = reads[i]!
      if (m.key === undefined) {
        out[m.index] = read
        return
      }
      const row: CachedRow = { asOfMs: read.asOfMs, values: read.values }
      cache.set(m.key, row, nowMs)
      out[m.index] = fromCached(row, lookups[m.index]!, nowMs)
    })
  }
  return out as OnlineRead[]
}
