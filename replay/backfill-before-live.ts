/**
 * Backfill before live (docs/design.md §8, docs/semantics.md §14): every view's backfill is settled before
 * the live engine runs it. A view whose topic has archived history is backfilled from the archive
 * (replay/backfill.ts) under its own checkpoint group, and the live engine adopts its state and
 * catches it up to the live position (engine/backfill-hand-off.ts); a view with none is complete
 * at once and starts live from the beginning. The registry records each view's status — running,
 * then complete with the offsets it is complete through — which training sets check.
 *
 * The CLI wires the stores (`BackfillEnvironment`) and reports progress; the decisions are here.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { RetryOptions } from '../core/retry.ts'
import type { FeatureViewDef, SourceDef } from '../features/types.ts'
import { consumedView } from '../engine/plan-sources.ts'
import { archiveSource } from '../engine/sources/archive-source.ts'
import type { DeadLetterSink } from '../ports/dead-letters.ts'
import type { TopicPartitionOffset } from '../ports/event-log.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { OfflineSink } from '../ports/offline.ts'
import type { OnlineStore } from '../ports/online-store.ts'
import type { BackfillStatus, Registry } from '../registry/index.ts'
import type { Decoder } from '../schemas/decoder.ts'
import { backfillView, type BackfillOptions, type BackfillResult } from './backfill.ts'

/** The stores a backfill reads and writes. */
export interface BackfillEnvironment {
  readonly offline: OfflineSink
  /** Where the backfill's checkpoints and operator states go (beside the live engine's). */
  readonly stateStore: ObjectStore
  readonly decoderFor: (source: SourceDef) => Decoder
  readonly clock: Clock
  /** The online store, opened only once a view is actually backfilled. */
  readonly online: () => Promise<OnlineStore>
  /** Where a backfilled view's own refusals go (the live engine's dead-letter sink), opened likewise. */
  readonly deadLetters: () => Promise<DeadLetterSink>
}

export type BackfillRegistry = Pick<Registry, 'getBackfillStatus' | 'setBackfillStatus'>

/** Attempts of one read of a backfill (engine/retried-reads.ts) before it fails naming what it read. */
export const BACKFILL_READ_ATTEMPTS = 10

/**
 * The bound on a backfill's reads — archive, checkpoints, writer schemas, its status — as the
 * checkpoint steps of the live engine are bounded (engine/partition-slot.ts): ten attempts, backing
 * off up to 2 s, 5–11 s of waiting in all (a read inside a checkpoint step is asked again with the
 * step, up to ten times that); a fault that outlasts it fails the backfill naming what it read,
 * and a re-run resumes from its last checkpoint.
 */
export function backfillReadRetry(clock: Clock, logger: Logger): RetryOptions {
  return {
    clock,
    attempts: BACKFILL_READ_ATTEMPTS,
    maxDelayMs: 2_000,
    onRetry: (err: unknown, attempt: number) => logger.warn({ err, attempt }, 'backfill read retried'),
  }
}

/**
 * Settles the backfill of every view before it goes live: a view with archived history is
 * backfilled from the archive (the engine then adopts its state); a view with none is complete.
 * A re-keyed view's history is the archive of its internal topic (docs/design.md §2), so it is backfilled
 * as the engine consumes it (`consumedView`).
 */
export async function settleBackfills(
  declared: readonly FeatureViewDef[],
  registry: BackfillRegistry,
  env: BackfillEnvironment,
  groupId: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<void> {
  for (const view of declared.map((v) => consumedView(v))) {
    const status = await registry.getBackfillStatus(view.name, view.version)
    if (status?.state === 'complete') continue
    const end = await archiveSource(env.offline, view.source.topic).ends()
    if (Object.keys(end.ends).length === 0) {
      await registry.setBackfillStatus(view.name, view.version, {
        state: 'complete',
        completeThrough: [],
        detail: 'no archived history: live from the start',
      })
      continue
    }
    progress(`backfilling ${view.name} v${view.version} from the archive of ${view.source.topic}…`)
    const result = await backfillRecorded(registry, env, {
      view,
      liveGroupId: groupId,
      online: await env.online(),
      logger,
    })
    progress(`backfilled ${view.name} v${view.version}: ${result.records} records → ${result.rows} rows${result.deadLetters > 0 ? `, ${result.deadLetters} dead letters` : ''}`)
  }
}

/**
 * Backfills one view, recording its status in the registry: running, then complete with the
 * offsets it is complete through (what the live hand-off starts from).
 */
export async function backfillRecorded(
  registry: BackfillRegistry,
  env: BackfillEnvironment,
  options: Omit<BackfillOptions, 'offline' | 'stateStore' | 'decoder' | 'clock' | 'deadLetters'>,
): Promise<BackfillResult> {
  const { view, logger } = options
  await writeStatus(registry, view, { state: 'running', completeThrough: [] }, logger)
  const result = await backfillView({
    ...options,
    offline: env.offline,
    stateStore: env.stateStore,
    decoder: env.decoderFor(view.source),
    deadLetters: await env.deadLetters(),
    clock: env.clock,
  })
  const completeThrough = Object.entries(result.completeThrough).map(([p, offset]) => ({
    topic: view.source.topic,
    partition: Number(p),
    offset,
  }))
  const detail = `archive snapshot ${result.archiveSnapshotId}; ${result.records} records, ${result.rows} rows, ${result.deadLetters} dead letters`
  await writeStatus(registry, view, { state: 'complete', completeThrough, detail }, logger)
  return result
}

type StatusWrite = Parameters<BackfillRegistry['setBackfillStatus']>[2] & { readonly completeThrough: readonly TopicPartitionOffset[] }

/**
 * Writes the view's status; when the write fails, reads it back (read-your-write): a write that
 * landed and only lost its answer (a timeout) is a success — reporting the backfill failed would
 * send the operator to a re-run with nothing left to do. The status read back counts as landed
 * when it says what was written (state, offsets, detail): whoever wrote it, the registry is then as
 * this backfill needs it. A failed read-back is no answer, and the write's own failure is thrown.
 */
async function writeStatus(registry: BackfillRegistry, view: FeatureViewDef, status: StatusWrite, logger: Logger): Promise<void> {
  try {
    await registry.setBackfillStatus(view.name, view.version, status)
  } catch (err: unknown) {
    const at = `${view.name}@${view.version}`
    let stored: BackfillStatus | undefined
    try {
      stored = await registry.getBackfillStatus(view.name, view.version)
    } catch (readErr: unknown) {
      logger.warn({ err: readErr, view: at }, 'backfill status could not be read back after its write failed')
      throw err
    }
    const landed =
      stored?.state === status.state &&
      stored.detail === status.detail &&
      isDeepStrictEqual(stored.completeThrough, status.completeThrough)
    if (!landed) throw err
    logger.warn({ err, view: at, state: status.state }, 'backfill status write failed, yet the status read back is the one written')
  }
}
