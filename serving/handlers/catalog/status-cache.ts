/**
 * A catalog status provider that answers from memory and refreshes behind the page: backfill
 * states (one registry read per view version) when older than `backfillEveryMs`, dead letters
 * (a read of the dead-letter topic: the costly part, though `kfs serve` reads only what is new since
 * the last read) when older than `deadLettersEveryMs`.
 * A page load that finds a part stale starts its refresh and is answered with what is known, so
 * no page waits on the registry or the event log and an idle server reads nothing. A failed
 * refresh keeps the last known values (reported through `onError`) and is retried when stale.
 */
import { deadLettersByView, viewId, type CatalogBackfill, type CatalogProgress, type CatalogTableStats, type CatalogStatus, type CatalogStatusProvider, type DeadLetterFacts } from './status.ts'

export interface StatusSources {
  readonly views: readonly { readonly name: string; readonly version: number; readonly source: { readonly topic: string } }[]
  /** The view version's backfill (registry getBackfillStatus); undefined = unknown. */
  backfill(view: string, version: number): Promise<CatalogBackfill | undefined>
  /**
   * The view version's offline table in numbers (its metadata: newest as_of, rows, nulls per
   * feature), read with the backfill states; the newest as_of covers rows that landed before this
   * server started listening.
   */
  tableStats?(view: string, version: number): Promise<CatalogTableStats | undefined>
  /** The engine's checkpoints and lag on the view's topic, read with the backfill states. */
  progress?(view: string, version: number): Promise<Omit<CatalogProgress, 'readAtMs'> | undefined>
  /** Every dead letter; absent = dead letters are not shown. */
  deadLetters?(): Promise<Iterable<DeadLetterFacts>>
  nowMs(): number
  readonly backfillEveryMs?: number
  readonly deadLettersEveryMs?: number
  onError?(part: 'backfill' | 'progress' | 'dead letters', err: unknown): void
}

export interface CachedStatus {
  readonly provider: CatalogStatusProvider
  /** Refreshes every part now (at start, and in tests); resolves when both are done. */
  refresh(): Promise<void>
}

/** What a part last read, and when. */
interface Read<T> {
  readonly data: T
  readonly readAtMs: number
}

/** A part refreshed at most one at a time; a stale part starts its refresh when asked for. */
function part<T>(load: () => Promise<T>, everyMs: number, nowMs: () => number, onError: (err: unknown) => void) {
  let last: Read<T> | undefined
  let triedAtMs = -Infinity
  let running: Promise<void> | undefined
  const refresh = (): Promise<void> => {
    triedAtMs = nowMs() // a failure is retried once stale again, not on every page load
    return (running ??= load()
      .then(
        (data) => void (last = { data, readAtMs: nowMs() }),
        (err: unknown) => onError(err),
      )
      .finally(() => (running = undefined)))
  }
  return {
    refresh,
    current(): Read<T> | undefined {
      if (nowMs() - triedAtMs >= everyMs) void refresh()
      return last
    },
  }
}

export function cachedCatalogStatus(sources: StatusSources): CachedStatus {
  const onError = sources.onError ?? (() => {})
  const backfills = part(
    async () => {
      const { tableStats, progress } = sources
      const readAtMs = sources.nowMs()
      const [states, newest, progresses] = await Promise.all([
        Promise.all(sources.views.map((v) => sources.backfill(v.name, v.version))),
        Promise.all(sources.views.map((v) => tableStats?.(v.name, v.version))),
        // One view's progress failing (its topic unreadable) must not hide every view's backfill state.
        Promise.all(
          sources.views.map((v) =>
            progress?.(v.name, v.version).catch((err: unknown) => {
              onError('progress', err)
              return undefined
            }),
          ),
        ),
      ])
      return new Map(
        sources.views.map((v, i) => {
          const p = progresses[i]
          const t = newest[i]
          return [
            viewId(v),
            {
              backfill: states[i],
              newestAsOfMs: t?.newestAsOfMs,
              table: t === undefined ? undefined : { rows: t.rows, nullsByFeature: t.nullsByFeature },
              progress: p === undefined ? undefined : { ...p, readAtMs },
            },
          ]
        }),
      )
    },
    sources.backfillEveryMs ?? 15_000,
    sources.nowMs,
    (err) => onError('backfill', err),
  )
  const loadLetters = sources.deadLetters
  const letters = loadLetters
    ? part(async () => deadLettersByView(await loadLetters(), sources.views), sources.deadLettersEveryMs ?? 300_000, sources.nowMs, (err) =>
        onError('dead letters', err),
      )
    : undefined
  return {
    provider(): CatalogStatus {
      const states = backfills.current()?.data
      const counts = letters?.current()
      const views: CatalogStatus['views'] = Object.fromEntries(
        sources.views.map((v) => {
          const { backfill, newestAsOfMs, table, progress } = states?.get(viewId(v)) ?? {}
          const byReason = counts?.data.get(viewId(v))
          return [
            viewId(v),
            {
              ...(backfill === undefined ? {} : { backfill }),
              ...(newestAsOfMs === undefined ? {} : { newestAsOfMs }),
              ...(progress === undefined ? {} : { progress }),
              ...(table === undefined ? {} : { table }),
              ...(byReason === undefined ? {} : { deadLetters: { byReason, readAtMs: counts!.readAtMs } }),
            },
          ]
        }),
      )
      return { views }
    },
    async refresh() {
      await Promise.all([backfills.refresh(), letters?.refresh()])
    },
  }
}
