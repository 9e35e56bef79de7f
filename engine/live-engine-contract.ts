/**
 * What the live engine (live-engine.ts) is given and what it gives: its options and its handle.
 */
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { FeatureViewDef, SourceDef } from '../features/types.ts'
import type { Decoder } from '../schemas/decoder.ts'
import type { DeadLetterSink } from '../ports/dead-letters.ts'
import type { EventLog } from '../ports/event-log.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { OfflineSink } from '../ports/offline.ts'
import type { OnlineStore } from '../ports/online-store.ts'
import type { FeatureRowReader } from '../ports/feature-rows.ts'
import type { EngineStats } from './engine-stats.ts'
import type { RekeyOptions } from './plan-sources.ts'
import type { ChainPolicy } from './state-chain.ts'

export interface LiveEngineOptions {
  readonly log: EventLog
  readonly stateStore: ObjectStore
  readonly offline: OfflineSink
  readonly online: OnlineStore
  readonly deadLetters: DeadLetterSink
  readonly decoderFor: (source: SourceDef) => Decoder
  readonly views: readonly FeatureViewDef[]
  readonly groupId: string
  readonly clock: Clock
  readonly logger: Logger
  readonly checkpointIntervalMs?: number
  readonly checkpointMaxRecords?: number
  /** Rows a partition may queue for the online store while a write is in flight (delivery-queue.ts). */
  readonly maxQueuedOnlineRows?: number
  /** Wall-clock period of the housekeeping tick (idle markers, timed checkpoints). */
  readonly tickMs?: number
  /** Where a partition with no checkpoint starts, per topic (backfill hand-off); default offset 0. */
  readonly startOffsets?: (topic: string, partition: number) => Promise<string>
  /** Internal topics of re-keyed views: name prefix and partition count. */
  readonly rekey?: RekeyOptions
  /**
   * The topic `deadLetters` writes to, if it is one of this log's topics: re-key stages then
   * produce their dead letters inside their transactions (exactly once) instead of through the sink.
   */
  readonly deadLetterTopic?: string
  /** When a checkpoint writes a full operator-state base instead of a delta (default state-chain.ts's). */
  readonly chainPolicy?: ChainPolicy
  /**
   * Attempts of each checkpoint step before the checkpoint fails (default 10); a table commit's own
   * retries nest inside (the offline sink's). Tests of a fault outlasting them set fewer.
   */
  readonly checkpointStepAttempts?: number
  /**
   * How long stop() gives its final checkpoints (absent: no bound). Past it every checkpoint retry
   * ends — nothing is written after — and stop() rejects, naming the step given up; the last
   * published checkpoint stands (stop-deadline.ts). A running engine keeps its retry budgets.
   */
  readonly stopTimeoutMs?: number
  /**
   * The views' offline tables: given, the engine watches its online store for lost rows and reloads
   * them from these by itself (online-loss-watch.ts); absent, it does not watch.
   */
  readonly offlineRows?: Pick<FeatureRowReader, 'readLatestFeatureRows'>
  /** How often the online store is checked for lost rows (default: the checkpoint interval). */
  readonly onlineCheckIntervalMs?: number
  /** Rejects once the group no longer holds a topic (retired: docs/semantics.md §14); asked before each checkpoint publish. */
  readonly checkClaim?: (topic: string) => Promise<void>
}

export interface LiveEngine {
  readonly stats: EngineStats
  start(): Promise<void>
  /** Checkpoints every owned partition now (tests); rejects naming the partitions whose checkpoint failed. */
  checkpointAll(): Promise<void>
  /** Next offset per owned `topic/partition`. */
  positions(): Promise<Record<string, string>>
  /** Newest partition watermark per owned `topic/partition` (−∞ before any record). */
  watermarks(): Promise<Record<string, number>>
  /**
   * True when every owned partition of every consumed topic is read to its end, re-key stages
   * included. An internal topic's end offset counts transaction markers, which no consumer sees,
   * so its partitions count as read when their re-key stage is, the view stage is within one
   * offset of the end, and no record reached the partition for `quietMs`.
   */
  isCaughtUp(quietMs: number): Promise<boolean>
  /** The internal topics the engine fills (one per re-key stage). */
  readonly internalTopics: readonly string[]
  /**
   * Stops the re-key stages and the reader (each partition's final checkpoint, at revocation),
   * checkpoints what is still owned and flushes dead letters. Every step runs even when an earlier
   * one failed; then it rejects, naming each partition or step that failed (stop-failures.ts), if any
   * did: the rows after a failed final checkpoint were not published, and the next start processes
   * them again. Resolves only after a clean stop.
   */
  stop(): Promise<void>
  /** Resolves when a fatal error stops the engine; main/ exits non-zero on it. */
  readonly failed: Promise<Error>
  /** The fatal error, once there was one (a run that stopped cleanly afterwards still failed). */
  readonly failure: Error | undefined
}
