/**
 * Steps 1–2 of a partition's checkpoint (partition-slot.ts has the order and why): stage the cut's
 * data files for every table, write each view's operator state (a delta or a full base), and build
 * the record that step 3 publishes. Nothing here is visible to readers or restores until that
 * publish; the slot decides what a failure or a fence means for its buffers.
 */
import { CheckpointError } from '../core/errors.ts'
import { retry, type RetryOptions } from '../core/retry.ts'
import type { FeatureViewDef } from '../features/types.ts'
import type { OfflineSink, StagedFiles } from '../ports/offline.ts'
import type { CheckpointStore, PartitionCheckpoint, ViewCheckpoint } from './checkpoint-store.ts'
import { StateChains, stateRefOf, type StateChain, type StateCut } from './state-chain.ts'
import type { OfflineRowBuffer } from './offline-row-buffer.ts'
import type { ArchiveRowBuffer } from './archive-row-buffer.ts'
import type { LastRecord } from './last-record.ts'

/** What a checkpoint took between two records: its rows, archive, operator states and position. */
export interface CheckpointCut {
  readonly seq: number
  readonly startedAtMs: number
  /** When the checkpoint before this one started: restored if this one fails before its publish. */
  readonly previousCheckpointAtMs: number
  readonly rows: OfflineRowBuffer[]
  readonly archive: ArchiveRowBuffer
  readonly states: StateCut[]
  readonly rowsAtNextOffset: number[]
  readonly nextOffset: string
  /** The last record before `nextOffset` the slot processed (undefined: none since its restore said). */
  readonly lastRecord: LastRecord | undefined
  readonly watermarkMs: number
}

export function viewId(view: Pick<FeatureViewDef, 'name' | 'version'>): string {
  return `${view.name}@${view.version}`
}

/** Stages `cut`'s files and writes its states, each step retried; the record to publish and the written chains. */
export async function stageCheckpoint(
  cut: CheckpointCut,
  where: {
    readonly topic: string
    readonly partition: number
    readonly views: readonly FeatureViewDef[]
    readonly archive: boolean
  },
  deps: { readonly offline: OfflineSink; readonly checkpoints: CheckpointStore },
  options: RetryOptions,
): Promise<{ record: PartitionCheckpoint; chains: StateChain[] }> {
  const { offline, checkpoints } = deps
  const { topic, partition, views } = where
  const { seq } = cut
  const staged: StagedFiles[] = []
  // The archive first: its commits are made in this order (roll-forward.ts), so a feature table that
  // holds a checkpoint means the archive holds every record and idle marker the slot applied up to
  // it — which a slot restored from an older record catches its views up from (restore-point.ts);
  // live would not read those idle markers again.
  if (where.archive) staged.push(await retry(() => offline.stageArchiveRows(topic, cut.archive), { ...options, what: `staging the archive rows of ${topic}/${partition}` }))
  // Every table gets a commit at every checkpoint, empty or not, so all tables of a partition carry
  // the same checkpoint markers and can be compared at the same cut (verify-parity).
  for (let v = 0; v < views.length; v++) {
    const what = `staging the feature rows of ${views[v]!.name} (${topic}/${partition})`
    if (views[v]!.offline) staged.push(await retry(() => offline.stageFeatureRows(views[v]!, cut.rows[v]!), { ...options, what }))
  }
  const chains = await StateChains.write(cut.states, {
    writeBase: (bytes) => retry(() => checkpoints.writeState(topic, partition, seq, bytes), { ...options, what: `writing the operator state of ${topic}/${partition}` }),
    writeDelta: (base, index, bytes) =>
      retry(() => checkpoints.writeDelta(topic, partition, seq, base, index, bytes), { ...options, what: `writing an operator-state delta of ${topic}/${partition}` }),
  })
  const saved = chains.map((chain, v) => {
    const rows = cut.rowsAtNextOffset[v] ?? 0
    return { view: viewId(views[v]!), state: stateRefOf(chain), ...(rows > 0 ? { rowsAtNextOffset: rows } : {}) }
  })
  const wm = cut.watermarkMs
  const record: PartitionCheckpoint = {
    seq,
    topic,
    partition,
    nextOffset: cut.nextOffset,
    ...(cut.lastRecord === undefined ? {} : { lastRecord: cut.lastRecord }),
    watermarkMs: Number.isFinite(wm) ? wm : null,
    views: saved,
    staged,
    createdAtMs: cut.startedAtMs,
  }
  return { record, chains }
}

/** `restore()`, its CHECKPOINT_CORRUPT naming the blobs it read (the snapshot's own message cannot). */
export function restoreNamed<T>(saved: ViewCheckpoint, restore: () => T): T {
  try {
    return restore()
  } catch (err: unknown) {
    if (!(err instanceof CheckpointError) || err.code !== 'CHECKPOINT_CORRUPT') throw err
    const ref = saved.state ?? { base: saved.stateKey, deltas: [] }
    const blobs = [ref.base, ...ref.deltas].join(', ')
    throw new CheckpointError(
      'CHECKPOINT_CORRUPT',
      `${err.message} (view ${saved.view}, from ${blobs}): restore them from a copy`,
      { cause: err, context: { ...err.context, view: saved.view } },
    )
  }
}
