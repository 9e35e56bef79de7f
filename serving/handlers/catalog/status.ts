/**
 * What the catalog page shows live, beside the static registry (docs/design.md §5, §8): per view
 * version its newest `as_of` seen online, its backfill state and its dead letters by reason.
 *
 * Freshness is kept cheaply from the server's own change feed (one `max` per landed row) rather
 * than by reading the online store per view: a read per key is not cheap for many keys, and the
 * feed already brings every row that lands. A view with no row landed since the server started
 * shows "no rows seen" unless the status provider knows better (e.g. a checkpoint's newest as_of).
 */
import type { OnlineChange } from '../../../ports/online-semantics.ts'

/** A view version's id on the page and in the status: `name@version`. */
export function viewId(view: { readonly name: string; readonly version: number }): string {
  return `${view.name}@${view.version}`
}

export interface CatalogBackfill {
  /** pending, running or complete (registry/records.ts BackfillStatus). */
  readonly state: string
  readonly updatedAtMs: number
}

export interface CatalogDeadLetters {
  /** Letters by reason (late, undecodable, …) attributed to this view. */
  readonly byReason: Readonly<Record<string, number>>
  /** When the dead-letter topic was last read (the counts are as of then). */
  readonly readAtMs: number
}

export interface CatalogViewStatus {
  readonly backfill?: CatalogBackfill
  readonly deadLetters?: CatalogDeadLetters
  /** Newest as_of the provider knows of (merged with the server's own by max). */
  readonly newestAsOfMs?: number
  /** The engine's progress on the topic the view reads: its last checkpoint, and records still to read. */
  readonly progress?: CatalogProgress
  /** The offline table's rows and each feature's nulls (its metadata's column statistics). */
  readonly table?: { readonly rows: number; readonly nullsByFeature: Readonly<Record<string, number>> }
}

export interface CatalogTableStats {
  readonly newestAsOfMs?: number
  readonly rows: number
  readonly nullsByFeature: Readonly<Record<string, number>>
}

export interface CatalogProgress {
  /** When the oldest of the partitions' latest checkpoints was taken; undefined: none yet. */
  readonly lastCheckpointMs: number | undefined
  /** Records between the checkpoints and the partitions' ends (what a restart would re-read). */
  readonly lagRecords: number
  /** When this was read. */
  readonly readAtMs: number
}

/** By view id (`name@version`); a view absent from the map shows "unknown". */
export interface CatalogStatus {
  readonly views: Readonly<Record<string, CatalogViewStatus>>
}

/** Supplies the catalog's live status; called on every page load, so it should answer from memory. */
export type CatalogStatusProvider = () => Promise<CatalogStatus> | CatalogStatus

/** The newest as_of per view version among the rows the change feed announced. */
export class NewestAsOf {
  readonly #newest = new Map<string, number>()

  /** The change-feed listener's tap: one map lookup per landed row. */
  observe(change: Pick<OnlineChange, 'view' | 'version' | 'asOfMs'>): void {
    const id = viewId({ name: change.view, version: change.version })
    const prev = this.#newest.get(id)
    if (prev === undefined || change.asOfMs > prev) this.#newest.set(id, change.asOfMs)
  }

  of(id: string): number | undefined {
    return this.#newest.get(id)
  }
}

export interface Freshness {
  /** now − newest as_of; undefined when no row was seen. */
  readonly ageMs: number | undefined
  readonly newestAsOfMs: number | undefined
  readonly breached: boolean
}

/** Freshness against the view's SLA: breached when the newest row is older than the SLA (none seen = not judged). */
export function freshnessOf(newestAsOfMs: number | undefined, nowMs: number, slaMs: number): Freshness {
  if (newestAsOfMs === undefined) return { ageMs: undefined, newestAsOfMs, breached: false }
  const ageMs = Math.max(0, nowMs - newestAsOfMs)
  return { ageMs, newestAsOfMs, breached: ageMs > slaMs }
}

/** The newer of two optional times. */
export function newest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.max(a, b)
}

/** The fields of a dead letter the counts need (replay/dead-letters/dead-letter-entry.ts has them all). */
export interface DeadLetterFacts {
  readonly reason: string
  /** The one view that refused it, when only one did. */
  readonly view: string | undefined
  /** The source topic of the refused record. */
  readonly topic: string
}

/**
 * Letters by reason per view id: a letter naming its view counts for that view's versions served;
 * one naming none counts for every served view reading its topic (each of them refused it).
 */
export function deadLettersByView(
  letters: Iterable<DeadLetterFacts>,
  views: readonly { readonly name: string; readonly version: number; readonly source: { readonly topic: string } }[],
): Map<string, Record<string, number>> {
  const counts = new Map<string, Record<string, number>>()
  for (const v of views) counts.set(viewId(v), {})
  for (const letter of letters) {
    const refusers = views.filter((v) => (letter.view === undefined ? v.source.topic === letter.topic : v.name === letter.view))
    for (const v of refusers) {
      const byReason = counts.get(viewId(v))!
      byReason[letter.reason] = (byReason[letter.reason] ?? 0) + 1
    }
  }
  return counts
}
