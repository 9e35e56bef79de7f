/**
 * The rows the embedded online store holds in memory, as its writer (embedded-online-store.ts) and
 * its serving followers (embedded-online-follower.ts) both keep them: rows by `<view>:<version>|<entity>`,
 * expiry on the injected clock (a row past `expiresAtMs` is gone), reads with the statuses of
 * online-semantics.ts, and the change listeners a landed row is told to — by the writer when a
 * write lands, by a follower when it picks up a row the writer landed.
 */
import type { Clock } from '../../../core/clock.ts'
import { SourceError } from '../../../core/errors.ts'
import type { FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import { StoredRowUnreadable, type OnlineRead } from '../../../ports/online-store.ts'
import {
  entityKeyRefusal,
  missingRead,
  statusOf,
  type OnlineChange,
  type OnlineChangeListener,
} from '../../../ports/online-semantics.ts'
import { StoredTextRead } from '../redis/stored-text-read.ts'
import { DELETED_FIELD } from '../redis/row-layout.ts'
import { decodeValue } from '../redis/value-codec.ts'

export interface StoredRow {
  readonly asOfMs: number
  /** Encoded non-null fields, as in the Redis hash. */
  readonly fields: ReadonlyMap<string, string>
  expiresAtMs: number
}

export function viewKey(view: FeatureViewDef): string {
  return `${view.name}:${view.version}`
}

/** The view key and entity key of a stored row's key (a view's name and version hold no `|`; an entity key may). */
function splitKey(key: string): [string, string] {
  const at = key.indexOf('|')
  return [key.slice(0, at), key.slice(at + 1)]
}

export function sameFields(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}

export class RowTable {
  readonly rows = new Map<string, StoredRow>()
  readonly #clock: Clock
  /** Per view key: the view as subscribed (to decode a row a follower picks up) and its listeners. */
  readonly #listeners = new Map<string, { view: FeatureViewDef; listeners: Set<OnlineChangeListener> }>()
  #writesSinceSweep = 0

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** The row under `key` unless it expired (then it is dropped). */
  live(key: string, nowMs: number): StoredRow | undefined {
    const stored = this.rows.get(key)
    if (stored && stored.expiresAtMs <= nowMs) {
      this.rows.delete(key)
      return undefined
    }
    return stored
  }

  sweep(nowMs: number): void {
    this.#writesSinceSweep = 0
    for (const [key, r] of this.rows) if (r.expiresAtMs <= nowMs) this.rows.delete(key)
  }

  /** Counts rows written: expired rows nobody reads again are swept every 10,000. */
  counted(rows: number, nowMs: number): void {
    this.#writesSinceSweep += rows
    if (this.#writesSinceSweep > 10_000) this.sweep(nowMs)
  }

  read(
    lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string; readonly features: readonly string[] }[],
    nowMs: number,
  ): OnlineRead[] {
    const clockMs = this.#clock.nowMs()
    return lookups.map(({ view, entityKey, features }) => {
      // As Redis: a key core's rule refuses names no entity (ports/online-semantics.ts).
      const badKey = entityKeyRefusal(view, entityKey)
      if (badKey !== undefined) throw new SourceError('BAD_REQUEST', `${view.name}: ${badKey}`, { context: { view: view.name } })
      const types = features.map((f) => {
        const def = view.features.find((d) => d.name === f)
        if (!def)
          throw new SourceError('NOT_FOUND', `view ${view.name} has no feature ${f}`, {
            context: { view: view.name, feature: f },
          })
        return def.type
      })
      const stored = this.live(`${viewKey(view)}|${entityKey}`, clockMs)
      // A tombstone (docs/design.md §11) answers MISSING; it stays stored so older rows cannot land.
      if (!stored || stored.fields.has(DELETED_FIELD)) return missingRead(features.length)
      const status = statusOf(stored.asOfMs, view, nowMs)
      if (status !== 'PRESENT') return { status, asOfMs: stored.asOfMs, values: features.map(() => null) }
      return new StoredTextRead(
        stored.asOfMs,
        features.map((f) => stored.fields.get(f)),
        0,
        types,
        { view: view.name, features },
      )
    })
  }

  subscribe(views: readonly FeatureViewDef[], listener: OnlineChangeListener): () => Promise<void> {
    const keys = views.map(viewKey)
    views.forEach((view, i) => {
      let entry = this.#listeners.get(keys[i]!)
      if (!entry) this.#listeners.set(keys[i]!, (entry = { view, listeners: new Set() }))
      entry.listeners.add(listener)
    })
    return async () => {
      for (const k of keys) this.#listeners.get(k)?.listeners.delete(listener)
    }
  }

  /** Whether a listener of the view keyed `vk` may be told of a row (the writer decodes none otherwise). */
  listening(vk: string): boolean {
    return (this.#listeners.get(vk)?.listeners.size ?? 0) > 0
  }

  clearListeners(): void {
    this.#listeners.clear()
  }

  /** Tells the listeners of `key`'s view that `row` landed (none listening: nothing to decode). */
  notify(key: string, row: StoredRow): void {
    const [vk, entityKey] = splitKey(key)
    const entry = this.#listeners.get(vk)
    if (entry === undefined || entry.listeners.size === 0) return
    const { view } = entry
    const values: Record<string, FeatureValue> = {}
    try {
      // From the stored text, as Redis's change feed decodes it: a lone surrogate as U+FFFD, a long's -0 as 0.
      for (const f of view.features) values[f.name] = decodeValue(row.fields.get(f.name), f.type)
    } catch (err: unknown) {
      // A text that is not a value of its type (a damaged or hand-edited file): there is no value to
      // push, and a read of the row says so (StoredRowUnreadable). Throwing here would fail the
      // follower's whole poll at this row, every poll, and freeze every row after it.
      if (err instanceof StoredRowUnreadable) return
      throw err
    }
    const change: OnlineChange = {
      view: view.name,
      version: view.version,
      entityKey,
      asOfMs: row.asOfMs,
      values,
      ...(row.fields.has(DELETED_FIELD) ? { deleted: true as const } : {}),
    }
    for (const l of entry.listeners) {
      // A subscriber's failure is its own; it must not fail the write that already landed.
      try {
        l(change)
      } catch {
        /* ignored by design */
      }
    }
  }

  /**
   * Takes `row` as the writer landed it (a follower picking up the writer's rows, in their order):
   * the listeners hear of it unless it only refreshed the row held (same as_of and values), as
   * the writer's own listeners do.
   */
  absorb(key: string, row: StoredRow, nowMs: number): void {
    if (row.expiresAtMs <= nowMs) {
      this.rows.delete(key)
      return
    }
    const held = this.live(key, nowMs)
    this.rows.set(key, row)
    if (held && held.asOfMs === row.asOfMs && sameFields(held.fields, row.fields)) return
    this.notify(key, row)
  }

  /** Holds exactly `rows` (a follower reloading a file the writer replaced), telling the listeners of each row that differs from the one held. */
  replaceAll(rows: ReadonlyMap<string, StoredRow>, nowMs: number): void {
    const before = new Map(this.rows)
    this.rows.clear()
    for (const [key, row] of rows) {
      if (row.expiresAtMs <= nowMs) continue
      this.rows.set(key, row)
      const held = before.get(key)
      if (held && held.expiresAtMs > nowMs && held.asOfMs === row.asOfMs && sameFields(held.fields, row.fields)) continue
      this.notify(key, row)
    }
  }
}
