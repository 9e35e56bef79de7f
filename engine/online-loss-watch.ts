/**
 * The live engine's watch over its online store: it notices when the store lost rows it had
 * acknowledged — Redis restarted without persistence, flushed (FLUSHALL/FLUSHDB), evicting keys
 * under `maxmemory`, failed over to an empty or lagging replica; the embedded store's files
 * deleted — and makes the rows complete again by itself. Without it the engine goes on writing new
 * rows only, and every entity that gets no new event reads MISSING (or an older row) for good.
 *
 * Detection, at start and then every `checkIntervalMs` (one read, and one INFO on Redis):
 * - the group's marker (online-marker.ts) is missing, or names another generation (another member
 *   of the group planted it after a loss it saw), or is still `reloading` at start (a reload
 *   interrupted); the marker dies with the store's data, whatever the store;
 * - the store's health (ports/online-store.ts `health`, Redis only) changed: another `run_id` (a
 *   restart or failover, which may have lost the last writes even with persistence on), or more
 *   `evicted_keys` (some keys dropped; the marker may have survived them).
 *
 * Recovery (`recover`), in this order, which leaves no entity behind:
 * 1. the marker is written `<generation>/reloading` (a new generation after a lost marker), so a
 *    loss from now on is seen at step 5, and a process that dies before step 6 leaves a marker its
 *    successor reloads again for;
 * 2. from now on, every key the engine writes online is noted;
 * 3. every owned partition is checkpointed: each row processed before step 2 is in the offline
 *    tables now, including the rows of the last checkpoint that were only online;
 * 4. each computed view's latest offline rows are written back (online-reload.ts, conditional on
 *    as_of), except the noted keys: the engine wrote those after step 2 — after the loss — with a
 *    row at least as new and later in archive order, which is what the store held without the
 *    loss (a tie on as_of goes to the later row), so the reload leaves them alone. Every other key's
 *    latest row was processed before step 2, hence is in the table after step 3;
 * 5. the marker is read again: missing (lost again during the reload) — back to 1 with a new
 *    generation; planted anew by another member — back to 2 with its generation;
 * 6. the marker is written `<generation>` (complete).
 * Processing goes on meanwhile: freshness is kept, and reads of an entity reloaded or not yet
 * reloaded answer what they would have, or MISSING, never an older row than they would have.
 *
 * Views with no offline table (`offline: false`) cannot be reloaded: their rows come back as their
 * entities get new events, and the reload says so.
 */
import { randomUUID } from 'node:crypto'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { FeatureViewDef } from '../features/types.ts'
import type { FeatureRowReader } from '../ports/feature-rows.ts'
import type { OnlineStore, OnlineStoreHealth } from '../ports/online-store.ts'
import type { EngineStats } from './engine-stats.ts'
import type { LiveEngineOptions } from './live-engine-contract.ts'
import { OnlineMarker } from './online-marker.ts'
import { reloadOnlineFromOffline } from './online-reload.ts'

/** Why the watch reloaded (the `reason` label of kfs_online_store_losses_total). */
export type LossReason =
  'marker_missing' | 'marker_replaced' | 'reload_interrupted' | 'server_restarted' | 'keys_evicted' | 'lost_during_reload'

/** What the watch tells the engine's statistics. */
export type OnlineLossStats = Pick<
  EngineStats,
  'onlineLosses' | 'onlineReloadedRows' | 'onlineReloading' | 'onlineReloadFailures'
>

export interface OnlineLossWatchOptions {
  readonly online: OnlineStore
  /** The views' offline tables, read at their current snapshot. */
  readonly rows: Pick<FeatureRowReader, 'readLatestFeatureRows'>
  readonly views: readonly FeatureViewDef[]
  readonly groupId: string
  readonly clock: Clock
  readonly logger: Logger
  readonly stats: OnlineLossStats
  readonly checkIntervalMs: number
  /** Publishes every row processed so far to the offline tables (every owned partition's checkpoint); rejects when one failed. */
  readonly checkpointAll: () => Promise<void>
  /** A new generation id (test seam). */
  readonly newGeneration?: () => string
}

export interface OnlineLossWatch {
  /** The store the engine writes through: the same store, noting the keys written while a reload runs. */
  readonly online: OnlineStore
  /** The check before the engine consumes anything: a store that lost its rows while no engine ran is reloaded now. */
  start(): Promise<void>
  /** Starts a check in the background when one is due and none runs (the engine's tick calls it). */
  poll(nowMs: number): void
  /** Waits for a check or reload under way and starts no other. */
  stop(): Promise<void>
}

/** Tries of the check at start (about 10 s in all) before it is left to the periodic checks. */
const START_ATTEMPTS = 8

/** A reload that keeps losing its rows gives up after this many rounds; the next check tries again. */
const MAX_ROUNDS = 3

/**
 * Evictions alone reload at most this often. A Redis kept at `maxmemory` with an evicting policy
 * (or shared with another application whose keys it evicts) raises `evicted_keys` at every check:
 * a reload each time would read every table again and again, and its writes evict more. Deferred,
 * the loss stays pending (the gauge and the counter say so) and is reloaded once the gap passed.
 */
export const EVICTION_RELOAD_GAP_MS = 10 * 60_000

export function createOnlineLossWatch(options: OnlineLossWatchOptions): OnlineLossWatch {
  const { clock, logger, stats } = options
  const store = options.online
  const marker = new OnlineMarker(store, options.groupId)
  const newGeneration = options.newGeneration ?? (() => randomUUID())
  const reloadable = options.views.filter((v) => v.online && v.offline)
  const notReloadable = options.views.filter((v) => v.online && !v.offline).map((v) => `${v.name}@${v.version}`)
  /** The generation this process last saw complete or reloading; undefined until the first successful check. */
  let known: string | undefined
  let health: OnlineStoreHealth | undefined
  /** A loss seen whose reload has not finished: the next check reloads, whatever the marker says. */
  let pending: LossReason | undefined
  let noted: Set<string> | undefined
  let running: Promise<void> | undefined
  let lastCheckAtMs = Number.NEGATIVE_INFINITY
  let lastEvictionReloadAtMs = Number.NEGATIVE_INFINITY
  let stopped = false

  const noteKey = (view: FeatureViewDef, entityKey: string) => `${view.name}@${view.version}|${entityKey}`
  const online: OnlineStore = {
    writeRows(view, rows) {
      if (noted !== undefined) for (const row of rows) noted.add(noteKey(view, row.entityKey))
      return store.writeRows(view, rows)
    },
    readRows: (lookups, nowMs) => store.readRows(lookups, nowMs),
    ...(store.sync === undefined ? {} : { sync: () => store.sync!() }),
    close: () => store.close(),
  }

  /** The reason the store's health gives for a reload, if it changed since the last ask. */
  async function healthChange(): Promise<LossReason | undefined> {
    const now = await store.health?.()
    const before = health
    if (now !== undefined) health = now
    if (now === undefined || before === undefined) return undefined
    if (now.instance !== before.instance) return 'server_restarted'
    return now.evictedKeys > before.evictedKeys ? 'keys_evicted' : undefined
  }

  async function check(): Promise<void> {
    const changed = await healthChange()
    if (changed !== undefined) {
      // Counted and kept now: the baseline has moved on, and the reads below may still fail.
      stats.onlineLosses[changed] = (stats.onlineLosses[changed] ?? 0) + 1
      pending = changed
    }
    const state = await marker.read(clock.nowMs())
    // One loss is counted once, under the first reason seen (a restart: `server_restarted`, and no marker).
    const uncounted = pending === undefined
    if (!state.present) return recover('marker_missing', 'new', uncounted)
    if (known === undefined && state.reloading) return recover('reload_interrupted', state.generation, uncounted)
    if (known !== undefined && state.generation !== known) return recover('marker_replaced', state.generation, uncounted)
    known = state.generation
    // A health change, or a reload that failed: counted already.
    if (pending === 'keys_evicted') {
      const nowMs = clock.nowMs()
      if (nowMs - lastEvictionReloadAtMs < EVICTION_RELOAD_GAP_MS) return
      lastEvictionReloadAtMs = nowMs
    }
    if (pending !== undefined) return recover(pending, state.generation, false)
  }

  async function recover(reason: LossReason, from: string, counted = true): Promise<void> {
    const startedAtMs = clock.nowMs()
    // No marker at start is most likely the group's first run: a loss only if the reload finds rows to write back.
    const firstRun = known === undefined && reason === 'marker_missing'
    const count = () => (stats.onlineLosses[reason] = (stats.onlineLosses[reason] ?? 0) + 1)
    if (counted && !firstRun) count()
    stats.onlineReloading = true
    pending = reason
    const views = reloadable.map((v) => `${v.name}@${v.version}`)
    ;(firstRun ? logger.info.bind(logger) : logger.error.bind(logger))(
      { reason, group: options.groupId, views, notReloadable },
      firstRun
        ? 'online store holds no marker of this group (its first run, or the store lost its rows while no engine ran): reloading the views from the offline tables'
        : 'online store lost rows: reloading every view from the offline tables',
    )
    let generation = from === 'new' ? newGeneration() : from
    let written = 0
    let entities = 0
    try {
      for (let round = 1; ; round++) {
        known = generation
        await marker.write(generation, true, clock.nowMs())
        noted = new Set()
        await options.checkpointAll()
        for (const view of reloadable) {
          const result = await reloadOnlineFromOffline({
            view,
            online: store,
            rows: options.rows,
            nowMs: clock.nowMs(),
            skip: (entityKey) => noted!.has(noteKey(view, entityKey)),
          })
          written += result.written
          entities += result.entities
          stats.onlineReloadedRows += result.written
        }
        const after = await marker.read(clock.nowMs())
        if (after.present && after.generation === generation) break
        const again: LossReason = after.present ? 'marker_replaced' : 'lost_during_reload'
        stats.onlineLosses[again] = (stats.onlineLosses[again] ?? 0) + 1
        logger.error({ reason: again, round }, 'online store lost rows again during the reload: reloading again')
        if (round >= MAX_ROUNDS) throw new Error(`online store lost rows during ${round} reloads in a row`)
        generation = after.present ? after.generation : newGeneration()
      }
      await marker.write(generation, false, clock.nowMs())
      pending = undefined
      if (counted && firstRun && written > 0) count()
      const seconds = (clock.nowMs() - startedAtMs) / 1000
      ;(firstRun && written === 0 ? logger.info.bind(logger) : logger.warn.bind(logger))(
        { reason, views, entities, rows: written, seconds, notReloadable },
        `online store reloaded: ${written} rows of ${views.length} views in ${seconds.toFixed(1)} s`,
      )
    } catch (err: unknown) {
      // The marker still says `reloading` (or is gone): the next check reloads again.
      stats.onlineReloadFailures++
      logger.error({ err, reason }, 'online store reload failed; the next check tries again')
    } finally {
      noted = undefined
      stats.onlineReloading = false
    }
  }

  function run(what: () => Promise<void>): Promise<void> {
    const done = what()
      .catch((err: unknown) => logger.warn({ err }, 'online store check failed; trying again at the next one'))
      .finally(() => {
        if (running === done) running = undefined
      })
    running = done
    return done
  }

  return {
    online,
    async start() {
      lastCheckAtMs = clock.nowMs()
      // The store may not answer yet (a Redis client still connecting refuses commands): the
      // check at start is retried for a few seconds, so the marker's generation is known before
      // the first record — a loss seen later is then told from the group's first run.
      await run(async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await check()
          } catch (err: unknown) {
            if (stopped || attempt >= START_ATTEMPTS) throw err
            await clock.sleep(Math.min(100 * 2 ** attempt, 2_000))
          }
        }
      })
    },
    poll(nowMs) {
      if (stopped || running !== undefined || nowMs - lastCheckAtMs < options.checkIntervalMs) return
      lastCheckAtMs = nowMs
      void run(check)
    },
    async stop() {
      stopped = true
      await running
    },
  }
}

/** The live engine's watch, when it was given the offline tables to reload from (live-engine-contract.ts). */
export function watchOnlineLosses(
  options: LiveEngineOptions,
  engine: {
    readonly stats: OnlineLossStats
    readonly logger: Logger
    readonly intervalMs: number
    readonly checkpointAll: () => Promise<void>
  },
): OnlineLossWatch | undefined {
  if (options.offlineRows === undefined) return undefined
  return createOnlineLossWatch({
    online: options.online,
    rows: options.offlineRows,
    views: options.views,
    groupId: options.groupId,
    clock: options.clock,
    logger: engine.logger,
    stats: engine.stats,
    checkIntervalMs: options.onlineCheckIntervalMs ?? engine.intervalMs,
    checkpointAll: engine.checkpointAll,
  })
}
