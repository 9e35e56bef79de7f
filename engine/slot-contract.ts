/**
 * What a partition slot (partition-slot.ts) is given and gives: its dependencies, the partition and
 * views it runs, and the output of each call — the rows per view and the dead letters.
 */
import type { Clock } from '../core/clock.ts'
import type { Deadline } from '../core/deadline.ts'
import type { Logger } from '../core/logger.ts'
import type { FeatureRow, FeatureViewDef, SourceDef } from '../features/types.ts'
import type { Decoder } from '../schemas/decoder.ts'
import type { OfflineSink } from '../ports/offline.ts'
import type { DeadLetter } from '../ports/dead-letters.ts'
import type { CheckpointStore } from './checkpoint-store.ts'
import type { ChainPolicy } from './state-chain.ts'

export interface SlotDeps {
  readonly offline: OfflineSink
  readonly checkpoints: CheckpointStore
  readonly clock: Clock
  readonly logger: Logger
  /** When a checkpoint writes a full base instead of a delta (default DEFAULT_CHAIN_POLICY). */
  readonly chainPolicy?: ChainPolicy
  /** Attempts of each checkpoint step (stage, state, publish, the tables' commits) before the checkpoint fails (default 10). */
  readonly checkpointStepAttempts?: number
  /**
   * When the checkpoint's retries — each step's and, nested inside, a table commit's own — give up
   * with attempts left (core/deadline.ts): the live engine's stop deadline; absent: never.
   */
  readonly deadline?: Deadline
  /**
   * Each checkpoint's cut, as it is taken: its wall time (the event loop's stall) and this
   * thread's CPU time during it (ms; NaN where Node cannot tell).
   */
  readonly onCut?: (wallMs: number, cpuMs: number) => void
  /**
   * Resolves while the engine's group still holds `topic` (its claim names the group and is not
   * retired), rejects (non-retriable) once it does not: `kfs groups retire` retired the group, or
   * the claim was removed or taken (docs/semantics.md §14); the live engine also asks here whether
   * its topics still hold their declared partitions (./partition-watch.ts). Asked before each
   * checkpoint publish (./claim-guard.ts); absent (backfill, replay): never asked.
   */
  readonly checkClaim?: (topic: string) => Promise<void>
}

export interface SlotOptions {
  readonly topic: string
  readonly partition: number
  readonly source: SourceDef
  readonly views: readonly FeatureViewDef[]
  readonly decoder: Decoder
  /** Live consumption archives every record; replay and backfill read the archive instead. */
  readonly archive: boolean
  /**
   * Where a view that this partition's checkpoint does not know yet left its backfill (docs/design.md §8
   * hand-off): its state is adopted and caught up from the archive to the partition's position.
   */
  readonly backfillCheckpoints?: (view: FeatureViewDef) => CheckpointStore
  /**
   * A slot whose checkpoints never reach the tables (verify-parity's recomputation under a scratch
   * group, benchmarks): it starts with no checkpoint over tables that hold the partition without the
   * check of fresh-start-guard.ts, which refuses every other such start.
   */
  readonly scratch?: boolean
}

export interface SlotOutput {
  /** `rows[i]` belong to `views[i]`, in emission order (the operators' rows; `created_at` is only offline). */
  readonly rows: FeatureRow[][]
  readonly deadLetters: DeadLetter[]
  /** Records (not markers) taken by this call; a bundle counts its events (rekey-bundle.ts). */
  readonly records: number
}
