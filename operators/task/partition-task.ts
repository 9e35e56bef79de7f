/**
 * The per-partition operator task (docs/design.md §2): every view reading one source partition, fed
 * records strictly in offset order, owning the partition watermark.
 *
 * Per record: (0) refused, without moving the watermark, when the time is missing or lies beyond
 * the source's future-skew bound (event-time-rule.ts); (1) late if time ≤ watermark −
 * allowedLateness (judged before the record);
 * (2) if accepted, each view filters, maps, keys, updates tiles and emits its event row;
 * (3) watermark ← max(watermark, time − outOfOrderness), or ← max(watermark, marker);
 * (4) each view fires its due boundaries in (boundary, key bytes) order.
 *
 * Guarantees: pure and deterministic — the output is a function of the input sequence (and of
 * the snapshot a task was restored from); no clock, no I/O, no randomness. Nothing is emitted
 * at end of input: a bounded replay produces the same rows as live because only archived
 * records and watermark markers drive emission (see docs/semantics.md).
 */
import { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { CheckpointError, DefinitionError } from '../../core/errors.ts'
import type { EventRecord, FeatureRow, FeatureViewDef, SourceDef } from '../../features/types.ts'
import { planView } from './plan.ts'
import { ViewRunner } from './view-runner.ts'
import { decodeViewState, encodeSampleEntries, encodeViewState, viewStateAccess } from './snapshot.ts'
import { TableChanges, type ChangeTracking } from './state-delta.ts'
import type { TaskDeadLetter, TaskOutput } from './output.ts'
import { isBeyondFutureSkew } from './event-time-rule.ts'
import type { ChangeRole, TaskViewRunner } from '../changes/runner.ts'
import { AttributeRunner } from '../changes/attribute-runner.ts'
import { CurrentStateRunner } from '../changes/current-state-runner.ts'
import { UNKNOWN_COMMIT_TIME } from '../../features/change-envelope.ts'

export type { ChangeRole } from '../changes/runner.ts'

export interface TaskEvent {
  readonly offset: string
  /** Event time (epoch ms) read from the source's event-time field; undefined when absent/invalid. */
  readonly eventTimeMs: number | undefined
  /**
   * The record's ingestion time (its log timestamp, archived with it): an event time more than the
   * source's `maxFutureSkewMs` beyond it is refused (event-time-rule.ts). Undefined: not judged.
   */
  readonly ingestionTimeMs?: number
  readonly event: EventRecord
  /**
   * Change sources re-keyed for a current-state view (docs/design.md §11): which part of the change
   * this copy carries to the group it was routed to — `retract` the before image from its group,
   * `add` the after image to its group; absent: the whole change (both parts, or one group).
   * `superseded`: a change older than its row's last one (the stage's row index), which no group
   * may apply — judged for its time (late, future) and moving the watermark as any record, it
   * changes no view (engine/rekey-records.ts, resolveByIndex).
   */
  readonly role?: ChangeRole | 'superseded'
  /**
   * With role `retract`: the group the re-key stage's row index says holds the row (the group of
   * its last after image), when the change's own images name no such group — an update without a
   * before image, or a key-only before image (docs/table-and-changelog-sources.md, "Partial images").
   */
  readonly heldGroup?: string
}

export interface PartitionTask {
  readonly views: readonly FeatureViewDef[]
  /** Current partition watermark (−Infinity before any record). */
  readonly watermarkMs: number
  processEvent(input: TaskEvent): TaskOutput
  /** An idle-advance marker from the archive or the idle detector. */
  processWatermarkMarker(watermarkMs: number): TaskOutput
  /** Number of keys holding state, per view (for metrics and tests). */
  keyCounts(): number[]
  /** The whole state (pure: tracking of changes for checkpoints is left alone). */
  snapshot(): Uint8Array
  /** `snapshot()` for a checkpoint: the next `checkpointDelta` holds the changes since this one. */
  checkpointFull(): Uint8Array
  /**
   * The changes since the last checkpoint (full or delta) or restore — the keys changed or removed —
   * as a delta `restorePartitionTask` applies onto the snapshot it extends; undefined when a view
   * lost track of its changes (take `checkpointFull` instead).
   */
  checkpointDelta(): Uint8Array | undefined
  /**
   * Runs the snapshot encoder over up to `maxKeys` keys' entries and throws the bytes away; state
   * and change tracking are left alone. Returns how many entries it wrote (0: no key yet). For the
   * engine to run that code before the first checkpoint's cut (partition-slot.ts): otherwise the
   * cut runs it cold, interpreted, over every key while the event loop waits.
   */
  warmUpSnapshot(maxKeys: number): number
}

export interface PartitionTaskOptions {
  readonly views: readonly FeatureViewDef[]
  readonly source: SourceDef
}

const MAGIC = [0x4b, 0x46, 0x53, 0x54] // "KFST"
const DELTA_MAGIC = [0x4b, 0x46, 0x53, 0x44] // "KFSD"
const DELTA_VERSION = 1
// Change views' state follows their own layout (operators/changes/); event views' is unchanged.
const FORMAT_VERSION = 1

/** An event view's ViewRunner behind the task's runner interface (a thin, monomorphic forward). */
class EventViewRunner implements TaskViewRunner {
  readonly #runner: ViewRunner
  readonly changes: ChangeTracking

  constructor(runner: ViewRunner) {
    this.#runner = runner
    this.changes = new TableChanges(viewStateAccess(runner), runner.table)
  }

  get keyCount(): number {
    return this.#runner.table.size
  }

  processEvent(offset: string, eventTimeMs: number, event: EventRecord, rows: FeatureRow[], dead: TaskDeadLetter[]): void {
    this.#runner.processEvent(offset, eventTimeMs, event, rows, dead)
  }

  fire(watermarkMs: number, rows: FeatureRow[]): void {
    this.#runner.fire(watermarkMs, rows)
  }

  encodeState(w: ByteWriter): void {
    encodeViewState(this.#runner, w)
  }

  decodeState(r: ByteReader): void {
    decodeViewState(this.#runner, r)
  }

  encodeSample(w: ByteWriter, maxKeys: number): number {
    return encodeSampleEntries(this.#runner, w, maxKeys)
  }
}

/** The runner of one view: by its change mode (docs/design.md §11); event views are planned (§2). */
function runnerOf(view: FeatureViewDef, source: SourceDef): TaskViewRunner {
  switch (view.changeMode) {
    case 'attributes':
      return new AttributeRunner(view, source.allowedLatenessMs)
    case 'current_state':
      return new CurrentStateRunner(view, source)
    case undefined:
      return new EventViewRunner(new ViewRunner(planView(view, source), source.allowedLatenessMs))
    default:
      throw new DefinitionError(`view ${view.name}: unknown changeMode ${String(view.changeMode)}`)
  }
}

class Task implements PartitionTask {
  readonly views: readonly FeatureViewDef[]
  readonly #source: SourceDef
  readonly #runners: TaskViewRunner[]
  #watermarkMs = -Infinity
  /**
   * The last snapshot's and delta's sizes: the next one's writer starts that large (+ 1/8), so a
   * cut's encoding does not grow its buffer by doubling and copying while the event loop waits.
   */
  #snapshotBytes = 1 << 16
  #deltaBytes = 1 << 12

  constructor(options: PartitionTaskOptions) {
    const { views, source } = options
    if (!(source.outOfOrdernessMs >= 0) || !(source.allowedLatenessMs >= 0)) {
      throw new DefinitionError(`source ${source.name}: outOfOrdernessMs and allowedLatenessMs must be ≥ 0`)
    }
    this.views = views
    this.#source = source
    this.#runners = views.map((v) => runnerOf(v, source))
  }

  get watermarkMs(): number {
    return this.#watermarkMs
  }

  processEvent(input: TaskEvent): TaskOutput {
    const rows: FeatureRow[][] = this.#runners.map(() => [])
    const deadLetters: TaskDeadLetter[] = []
    const t = input.eventTimeMs
    if (t === undefined || !Number.isSafeInteger(t)) {
      deadLetters.push({ offset: input.offset, reason: 'missing_event_time', detail: `no valid ${this.#source.eventTimeField}` })
      return { rows, deadLetters }
    }
    if (t === 0 && this.#source.changes?.kind === 'changelog') {
      deadLetters.push({ offset: input.offset, reason: 'missing_event_time', detail: UNKNOWN_COMMIT_TIME })
      return { rows, deadLetters }
    }
    const ingestedMs = input.ingestionTimeMs
    if (ingestedMs !== undefined && isBeyondFutureSkew(t, ingestedMs, this.#source.maxFutureSkewMs)) {
      deadLetters.push({
        offset: input.offset,
        reason: 'future_event_time',
        detail: `event time ${t} is ${t - ingestedMs} ms after the record's timestamp ${ingestedMs} (max future skew ${this.#source.maxFutureSkewMs} ms)`,
      })
      return { rows, deadLetters }
    }
    if (t <= this.#watermarkMs - this.#source.allowedLatenessMs) {
      deadLetters.push({ offset: input.offset, reason: 'late', detail: `event time ${t} ≤ watermark ${this.#watermarkMs} − allowed lateness` })
      return { rows, deadLetters }
    }
    const role = input.role
    if (role !== 'superseded')
      for (let i = 0; i < this.#runners.length; i++) {
        ;(this.#runners[i] as TaskViewRunner).processEvent(input.offset, t, input.event, rows[i] as FeatureRow[], deadLetters, role, input.heldGroup)
      }
    this.#advance(t - this.#source.outOfOrdernessMs, rows)
    return { rows, deadLetters }
  }

  processWatermarkMarker(watermarkMs: number): TaskOutput {
    const rows: FeatureRow[][] = this.#runners.map(() => [])
    // Times end at 2^53 − 1 (docs/semantics.md §1): an idle advance past it (a partition idle after
    // an event near it) would fire boundaries beyond it, rows no store can hold as_of.
    if (!Number.isNaN(watermarkMs)) this.#advance(Math.min(watermarkMs, Number.MAX_SAFE_INTEGER), rows)
    return { rows, deadLetters: [] }
  }

  #advance(candidateMs: number, rows: FeatureRow[][]): void {
    if (candidateMs > this.#watermarkMs) this.#watermarkMs = candidateMs
    for (let i = 0; i < this.#runners.length; i++) (this.#runners[i] as TaskViewRunner).fire(this.#watermarkMs, rows[i] as FeatureRow[])
  }

  keyCounts(): number[] {
    return this.#runners.map((r) => r.keyCount)
  }

  /**
   * Layout: "KFST", u8 version, f64 watermarkMs, uvarint view count, then per view its runner's
   * layout: event views that of snapshot.ts (plan fingerprint, keys in key-byte order with clock,
   * timer, tiles, lifetime), change views that of operators/changes/ (fingerprint, keys in
   * key-byte order). Which layout a view has follows from its definition, so none is tagged.
   */
  snapshot(): Uint8Array {
    const w = new ByteWriter(this.#snapshotBytes + (this.#snapshotBytes >>> 3))
    for (const b of MAGIC) w.u8(b)
    w.u8(FORMAT_VERSION)
    w.f64(this.#watermarkMs)
    w.uvarint(this.#runners.length)
    for (const runner of this.#runners) runner.encodeState(w)
    const bytes = w.take()
    this.#snapshotBytes = bytes.length
    return bytes
  }

  checkpointFull(): Uint8Array {
    const bytes = this.snapshot()
    for (const runner of this.#runners) runner.changes.forget()
    return bytes
  }

  warmUpSnapshot(maxKeys: number): number {
    let w: ByteWriter | undefined
    let n = 0
    for (const runner of this.#runners) if (runner.encodeSample !== undefined) n += runner.encodeSample((w ??= new ByteWriter(1 << 12)), maxKeys - n)
    return n
  }

  /** Layout: "KFSD", u8 version, f64 watermarkMs, uvarint view count, then per view its changes (state-delta.ts). */
  checkpointDelta(): Uint8Array | undefined {
    const w = new ByteWriter(this.#deltaBytes + (this.#deltaBytes >>> 3))
    for (const b of DELTA_MAGIC) w.u8(b)
    w.u8(DELTA_VERSION)
    w.f64(this.#watermarkMs)
    w.uvarint(this.#runners.length)
    let complete = true
    // Every runner is asked (each starts tracking afresh), even after one has lost track.
    for (const runner of this.#runners) if (!runner.changes.encode(w)) complete = false
    if (!complete) return undefined
    const bytes = w.take()
    this.#deltaBytes = bytes.length
    return bytes
  }

  restore(bytes: Uint8Array, deltas: readonly Uint8Array[]): void {
    const r = this.#open(bytes, MAGIC, FORMAT_VERSION, 'operator snapshot')
    for (const runner of this.#runners) runner.decodeState(r)
    if (!r.done) throw new CheckpointError('CHECKPOINT_CORRUPT', 'operator snapshot: trailing bytes')
    for (const delta of deltas) {
      const d = this.#open(delta, DELTA_MAGIC, DELTA_VERSION, 'checkpoint delta')
      for (const runner of this.#runners) runner.changes.decode(d)
      if (!d.done) throw new CheckpointError('CHECKPOINT_CORRUPT', 'checkpoint delta: trailing bytes')
    }
    for (const runner of this.#runners) runner.changes.forget()
  }

  /** Reads the header both layouts share (magic, version, watermark, view count). */
  #open(bytes: Uint8Array, magic: readonly number[], formatVersion: number, what: string): ByteReader {
    const r = new ByteReader(bytes)
    for (const b of magic) if (r.u8() !== b) throw new CheckpointError('CHECKPOINT_CORRUPT', `${what}: bad magic`)
    const version = r.u8()
    if (version !== formatVersion) throw new CheckpointError('CHECKPOINT_CORRUPT', `${what}: unknown format version ${version}`)
    this.#watermarkMs = r.f64()
    const n = r.uvarint()
    if (n !== this.#runners.length) throw new CheckpointError('CHECKPOINT_CORRUPT', `${what} holds ${n} views, the task has ${this.#runners.length}`)
    return r
  }
}

export function createPartitionTask(options: PartitionTaskOptions): PartitionTask {
  return new Task(options)
}

/** The task a full snapshot holds, with `deltas` (checkpointDelta's, in order) applied onto it. */
export function restorePartitionTask(views: readonly FeatureViewDef[], source: SourceDef, bytes: Uint8Array, deltas: readonly Uint8Array[] = []): PartitionTask {
  const task = new Task({ views, source })
  try {
    task.restore(bytes, deltas)
  } catch (err: unknown) {
    if (err instanceof CheckpointError) throw err
    throw new CheckpointError('CHECKPOINT_CORRUPT', 'operator snapshot is unreadable', { cause: err })
  }
  return task
}
