/**
 * An in-memory online store that forgets on cue: `forget('flush')` drops every row (FLUSHALL),
 * `forget('restart')` too and takes a new server identity (a restart without persistence, or a
 * failover to an empty replica), `evict(share)` drops that share of the views' rows and counts
 * them as evicted (maxmemory). Writes are conditional on as_of as the real stores' are
 * (ports/online-semantics.ts); TTLs are not modelled (tests use rows well within theirs).
 * `beforeSync` lets a test lose the rows during a checkpoint's online sync.
 */
import { newestRowPerKey } from '../../ports/online-semantics.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef } from '../../features/types.ts'
import type { OnlineRead, OnlineStore, OnlineStoreHealth, OnlineWriteResult } from '../../ports/online-store.ts'

const MARKER_PREFIX = 'kfs-online-marker@'

export class ForgetfulOnlineStore implements OnlineStore {
  readonly #rows = new Map<string, { asOfMs: number; values: readonly FeatureValue[]; view: FeatureViewDef }>()
  #instance = 1
  #evictedKeys = 0
  /** Called when the engine syncs before a checkpoint's publish. */
  beforeSync: (() => void) | undefined

  forget(how: 'flush' | 'restart'): void {
    this.#rows.clear()
    if (how === 'restart') this.#instance++
  }

  /** Drops every `1/every`-th row of the views (never the marker: a store evicts what is least used), counted as evicted. */
  evict(every: number): number {
    let i = 0
    let dropped = 0
    for (const key of [...this.#rows.keys()]) {
      if (key.startsWith(MARKER_PREFIX) || i++ % every !== 0) continue
      this.#rows.delete(key)
      dropped++
    }
    this.#evictedKeys += dropped
    return dropped
  }

  async writeRows(view: FeatureViewDef, rows: readonly FeatureRow[]): Promise<OnlineWriteResult> {
    await Promise.resolve()
    let written = 0
    for (const row of newestRowPerKey(rows)) {
      const key = `${view.name}@${view.version}|${row.entityKey}`
      const stored = this.#rows.get(key)
      if (stored !== undefined && row.asOfMs < stored.asOfMs) continue
      this.#rows.set(key, { asOfMs: row.asOfMs, values: row.values, view })
      written++
    }
    return { written, stale: rows.length - written }
  }

  async readRows(
    lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string; readonly features: readonly string[] }[],
  ): Promise<OnlineRead[]> {
    await Promise.resolve()
    return lookups.map(({ view, entityKey, features }) => {
      const stored = this.#rows.get(`${view.name}@${view.version}|${entityKey}`)
      if (stored === undefined) return { status: 'MISSING', asOfMs: null, values: features.map(() => null) }
      const names = view.features.map((f) => f.name)
      return { status: 'PRESENT', asOfMs: stored.asOfMs, values: features.map((f) => stored.values[names.indexOf(f)] ?? null) }
    })
  }

  async sync(): Promise<void> {
    await Promise.resolve()
    this.beforeSync?.()
  }

  async health(): Promise<OnlineStoreHealth> {
    await Promise.resolve()
    return { instance: `run-${this.#instance}`, evictedKeys: this.#evictedKeys }
  }

  async close(): Promise<void> {}
}
