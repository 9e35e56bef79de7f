/**
 * Optional in-process cache for hot keys: whole rows of chosen views, kept at most `ttlMs` and at
 * most `maxEntries` (least recently used first out). Off unless configured. A landed row seen on
 * the change feed evicts its entry, so staleness is bounded by `ttlMs` even when a read that was
 * already in flight refills the entry with the previous row.
 */
import type { FeatureValue } from '../features/types.ts'

export interface HotCacheOptions {
  readonly ttlMs: number
  readonly maxEntries: number
  /** View names to cache; all views when absent. */
  readonly views?: readonly string[]
}

export interface CachedRow {
  readonly asOfMs: number | null
  /** All features of the view, in the view's order. */
  readonly values: readonly FeatureValue[]
}

interface Entry {
  readonly row: CachedRow
  readonly expiresAtMs: number
}

export class HotCache {
  readonly #ttlMs: number
  readonly #maxEntries: number
  readonly #views: ReadonlySet<string> | undefined
  readonly #entries = new Map<string, Entry>()
  hits = 0
  misses = 0

  constructor(options: HotCacheOptions) {
    this.#ttlMs = options.ttlMs
    this.#maxEntries = Math.max(1, Math.floor(options.maxEntries))
    this.#views = options.views ? new Set(options.views) : undefined
  }

  enabledFor(view: string): boolean {
    return this.#views === undefined || this.#views.has(view)
  }

  get size(): number {
    return this.#entries.size
  }

  get(key: string, nowMs: number): CachedRow | undefined {
    const entry = this.#entries.get(key)
    if (!entry || entry.expiresAtMs <= nowMs) {
      if (entry) this.#entries.delete(key)
      this.misses++
      return undefined
    }
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    this.hits++
    return entry.row
  }

  set(key: string, row: CachedRow, nowMs: number): void {
    this.#entries.delete(key)
    this.#entries.set(key, { row, expiresAtMs: nowMs + this.#ttlMs })
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
  }

  delete(key: string): void {
    this.#entries.delete(key)
  }

  static key(view: string, version: number, entityKey: string): string {
    return `${view}@${version}|${entityKey}`
  }
}
