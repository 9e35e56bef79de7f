/**
 * What ingesting one table snapshot appends (docs/design.md §11), decided from the snapshot's
 * rows and what the source's log already holds, without touching either: pure, so a property
 * test can hold it against a brute-force reference.
 *
 * - A row is rejected, with a reason, when it has no primary key (`missing_key`), no or a bad
 *   event time (`missing_event_time`, `invalid_event_time`), a value not of the row schema's type
 *   (`schema_mismatch`), an image too large for a change record (`oversize`, ./row-size.ts), or
 *   the same (key, event time) as an earlier row of the snapshot with
 *   different content (`duplicate`: the earlier one stands).
 * - A (key, event time, row) already appended is unchanged; any other is appended once, as a
 *   change envelope: op `c` for a key never appended (or deleted), else `u` with the key's latest
 *   row as `before`; ts_ms = the row's event time; snapshot = the snapshot id.
 * - Appends are ordered by (event time, primary-key bytes), the deterministic order of §11.
 *
 * A schema change (a declared column missing from the snapshot, or of another kind) is not a
 * row's fault: `checkSnapshotColumns` throws before anything is planned.
 *
 * Built for millions of rows: `SnapshotPlanner` keeps the snapshot's valid rows column by column
 * (never the reader's row objects), fingerprints a row only when it must be compared (a repeated
 * (key, event time), or a key the log knows), and materialises an append's envelope only when it
 * is asked for, so `kfs ingest` encodes and produces chunk by chunk.
 */
import { SchemaError } from '../core/errors.ts'
import { ownValue } from '../core/own-property.ts'
import { withinTimeRange } from '../core/iso-time.ts'
import { outOfTimeRangeDetail } from '../operators/task/event-fields.ts'
import type { ChangeEnvelope } from '../features/change-envelope.ts'
import type { TableColumn, TableColumnBatch, TableRow } from '../ports/table-snapshots.ts'
import { orderByTimeThenKey } from './append-order.ts'
import { PlannerSlots, type SlotChunk } from './planner-slots.ts'
import type { LogState } from './log-state.ts'
import { avroValues, kindFits, type RowColumn } from './row-columns.ts'
import { MAX_ROW_IMAGE_BYTES, oversizeRows } from './row-size.ts'
import { describeValue, keyOf, type RowKeyEntity } from './row-keys.ts'

export const REJECT_REASONS = ['missing_key', 'missing_event_time', 'invalid_event_time', 'schema_mismatch', 'oversize', 'duplicate'] as const
export type RejectReason = (typeof REJECT_REASONS)[number]

export interface RejectedRow {
  /** 1-based, in the snapshot's row order (files in name order, rows in file order). */
  readonly row: number
  readonly reason: RejectReason
  readonly detail: string
}

export interface PlannedAppend {
  /** The canonical entity key of the row's primary key: the record's message key. */
  readonly key: string
  readonly envelope: ChangeEnvelope
}

export interface SnapshotPlan {
  readonly rowsRead: number
  readonly rejected: readonly RejectedRow[]
  /** Rows whose (key, event time, content) the log already holds, or repeating an earlier row of the snapshot. */
  readonly unchanged: number
  /** In (ts_ms, key bytes) order. */
  readonly appends: readonly PlannedAppend[]
}

export interface PlanInput {
  readonly columns: readonly RowColumn[]
  readonly primaryKey: readonly string[]
  /** The entity the rows are keyed by, whose key type a key must fit (./row-keys.ts); undefined: any value's text. */
  readonly entity?: RowKeyEntity
  readonly rowTimeField: string
  readonly snapshotId: string
  readonly log: LogState
  /** The snapshot's row count, when the reader knows it: the planner's tables are sized for it at once. */
  readonly expectedRows?: number
  /**
   * Told of each rejected row as it is found, with the declared columns' values as read (for a
   * rejects file): the values are gathered for rejected rows only, never for accepted ones.
   */
  readonly onRejected?: (rejected: RejectedRow, cells: Readonly<Record<string, unknown>>) => void
}

/** The snapshot's columns the declared row does not know (ignored); throws on a schema change. */
export function checkSnapshotColumns(declared: readonly RowColumn[], snapshot: readonly TableColumn[], where: string): readonly string[] {
  const byName = new Map(snapshot.map((c) => [c.name, c]))
  const problems: string[] = []
  for (const c of declared) {
    const found = byName.get(c.name)
    if (found === undefined) problems.push(`column ${c.name} (${c.kind}) is missing`)
    else if (!kindFits(c.kind, found.kind))
      problems.push(
        c.kind === 'other' && found.kind === 'timestamp'
          ? `column ${c.name} is a timestamp (read as epoch milliseconds), declared ${c.logicalType ?? 'another type'}: declare it as { type: 'long', logicalType: 'timestamp-millis' }`
          : `column ${c.name} is ${found.kind}, declared ${c.kind}`,
      )
  }
  if (problems.length > 0)
    throw new SchemaError(
      'SCHEMA_INCOMPATIBLE',
      `the snapshot at ${where} does not have the source's row schema: ${problems.join('; ')}; nothing was appended (change the source's row schema, or fix the table)`,
    )
  const known = new Set(declared.map((c) => c.name))
  return snapshot.filter((c) => !known.has(c.name)).map((c) => c.name)
}

const NO_VALUES: ArrayLike<unknown> = []

/**
 * Per row of a batch, the first declared column whose value is not of its type (−1: none).
 * Column by column, so each check runs as one tight loop; later columns first, so the first wins.
 */
function firstBadColumns(columns: readonly RowColumn[], values: readonly ArrayLike<unknown>[], n: number): Int32Array {
  const bad = new Int32Array(n).fill(-1)
  for (let c = columns.length - 1; c >= 0; c--) {
    const { nullable, isValid, avro } = columns[c]!
    const column = values[c]!
    // The common types checked inline, a loop each: one `isValid` call site for every column was a
    // polymorphic call per value. A value the inline test does not accept takes the column's check.
    if (avro === 'string') {
      for (let r = 0; r < n; r++) {
        const v = column[r]
        if (typeof v !== 'string' && (v === null || v === undefined ? !nullable : !isValid(v))) bad[r] = c
      }
    } else if (avro === 'double') {
      for (let r = 0; r < n; r++) {
        const v = column[r]
        if (typeof v !== 'number' && (v === null || v === undefined ? !nullable : !isValid(v))) bad[r] = c
      }
    } else if (avro === 'long') {
      for (let r = 0; r < n; r++) {
        const v = column[r]
        if (!(typeof v === 'number' && Number.isSafeInteger(v)) && (v === null || v === undefined ? !nullable : !isValid(v))) bad[r] = c
      }
    } else
      for (let r = 0; r < n; r++) {
        const v = column[r]
        if (v === null || v === undefined ? !nullable : !isValid(v)) bad[r] = c
      }
  }
  return bad
}

/** The appends of a plan in order, each envelope built when asked for (see SnapshotPlanner). */
export interface PlannedAppends {
  readonly rowsRead: number
  readonly rejected: readonly RejectedRow[]
  readonly unchanged: number
  readonly length: number
  /** The append at `position` (0 ≤ position < length) of the (ts_ms, key bytes) order. */
  at(position: number): PlannedAppend
  /**
   * The same appends without envelope objects, for writers that encode from the rows' columns:
   * the append at `position` is slot `slots[position]` — key `keys[slot]`, ts_ms `ts[slot]`,
   * the row `rowAt(slot)` — and its before image `beforeAt(position)`: a slot, a row of the log,
   * or undefined for none (op `c`).
   */
  readonly slots: Int32Array
  readonly keys: readonly string[]
  readonly ts: ArrayLike<number>
  readonly snapshotId: string
  beforeAt(position: number): number | TableRow | undefined
  rowAt(slot: number): TableRow
}

/**
 * Plans a snapshot fed batch by batch (`addColumns`, or `add` for row objects), then `finish`es
 * against the log's state. Valid rows live in one slot each (./planner-slots.ts). Slots of one
 * key are chained newest first, which finds a repeated (key, event time) without a second index
 * and tells which keys have more than one row.
 */
export class SnapshotPlanner {
  readonly #input: PlanInput
  readonly #slots: PlannerSlots
  readonly #rejected: RejectedRow[] = []
  #unchanged = 0
  #rowsRead = 0

  constructor(input: PlanInput) {
    this.#input = input
    this.#slots = new PlannerSlots(input.expectedRows)
  }

  /** Slots so far: the rows that may be appended, each once, in snapshot order. */
  get slotCount(): number {
    return this.#slots.count
  }

  get keys(): readonly string[] {
    return this.#slots.keys
  }

  /** Each slot's event time (a view: re-read it after adding rows). */
  get ts(): ArrayLike<number> {
    return this.#slots.ts
  }

  /** Where the slots' values are: slot `start + i` is row `rows[i]` of `columns` (declared columns, in order). */
  get chunks(): readonly SlotChunk[] {
    return this.#slots.chunks
  }

  /** Rows as objects (CSV, Iceberg, tests): the same as their columns through addColumns. */
  add(rows: Iterable<TableRow>): void {
    const list = Array.isArray(rows) ? (rows as readonly TableRow[]) : [...rows]
    const { columns, primaryKey, rowTimeField } = this.#input
    const byName: Record<string, unknown[]> = {}
    // Own lookups: a column named `constructor` or `toString` is not the one every object inherits.
    for (const name of [...columns.map((c) => c.name), ...primaryKey, rowTimeField])
      if (!Object.hasOwn(byName, name)) byName[name] = list.map((row) => ownValue(row, name))
    this.addColumns({ numRows: list.length, columns: byName })
  }

  addColumns(batch: TableColumnBatch): void {
    const { columns, primaryKey, rowTimeField } = this.#input
    const slots = this.#slots
    const n = batch.numRows
    const valuesOf = (name: string): ArrayLike<unknown> => ownValue(batch.columns, name) ?? NO_VALUES
    const declared = columns.map((c) => avroValues(c, valuesOf(c.name), n))
    const bad = firstBadColumns(columns, declared, n)
    const oversize = oversizeRows(columns, declared, n, (r) => bad[r]! < 0)
    const keyColumns = primaryKey.map(valuesOf)
    const times = valuesOf(rowTimeField)
    const onRejected = this.#input.onRejected
    // Row r's rejection; its values gathered only for a listener, and only now (accepted rows pay nothing).
    const reject = (r: number, rejected: RejectedRow): void => {
      this.#rejected.push(rejected)
      if (onRejected === undefined) return
      const cells: Record<string, unknown> = {}
      for (const c of columns) cells[c.name] = valuesOf(c.name)[r] ?? null
      onRejected(rejected, cells)
    }
    slots.beginBatch(declared, n)
    for (let r = 0; r < n; r++) {
      const rowNumber = ++this.#rowsRead
      const key = keyOf(primaryKey, keyColumns, r, this.#input.entity)
      if (typeof key !== 'string') {
        reject(r, { row: rowNumber, ...key })
        continue
      }
      const t = times[r]
      if (t === null || t === undefined) {
        reject(r, { row: rowNumber, reason: 'missing_event_time', detail: `event-time column ${rowTimeField} is null` })
        continue
      }
      if (typeof t !== 'number' || !Number.isSafeInteger(t)) {
        reject(r, { row: rowNumber, reason: 'invalid_event_time', detail: `event-time column ${rowTimeField} holds ${describeValue(t)}, not epoch milliseconds` })
        continue
      }
      // The engine's rule for every event time (operators/task/event-fields.ts), so a row appended
      // here is never dead-lettered by the views for its time.
      if (!withinTimeRange(t)) {
        reject(r, { row: rowNumber, reason: 'invalid_event_time', detail: `event-time column ${outOfTimeRangeDetail(rowTimeField, t)}` })
        continue
      }
      if (bad[r]! >= 0) {
        const c = columns[bad[r]!]!
        reject(r, {
          row: rowNumber,
          reason: 'schema_mismatch',
          detail: `column ${c.name} holds ${describeValue(declared[bad[r]!]![r] ?? null)}, not ${c.nullable ? 'null or ' : ''}${c.avro === 'other' ? 'its declared type' : c.avro}`,
        })
        continue
      }
      const bytes = oversize.get(r)
      if (bytes !== undefined) {
        reject(r, {
          row: rowNumber,
          reason: 'oversize',
          detail: `the row's values take ${bytes} bytes, over the ${MAX_ROW_IMAGE_BYTES} a change record can carry (it may hold the row twice, before and after, within the log's 1 MiB record limit)`,
        })
        continue
      }
      const head = slots.heads.lookup(key)
      let same = head
      while (same >= 0 && slots.timeOf(same) !== t) same = slots.sameKey(same)
      if (same >= 0) {
        // A repeat of an earlier row's (key, event time): the earlier one stands.
        if (this.#fingerprint((c) => slots.valueAt(c, same)) === this.#fingerprint((c) => declared[c]![r] ?? null)) this.#unchanged++
        else reject(r, { row: rowNumber, reason: 'duplicate', detail: `an earlier row has the same primary key and ${rowTimeField} with other values` })
        continue
      }
      slots.add(key, t, head, r)
    }
  }

  finish(): PlannedAppends {
    const { log, columns, snapshotId } = this.#input
    const slots = this.#slots
    const keys = slots.keys
    const ts = slots.ts
    const consultLog = log.size > 0
    const candidates = new Int32Array(keys.length)
    let count = 0
    // Chunk by chunk, so a slot's values are read where they are without looking the chunk up.
    for (const chunk of slots.chunks) {
      for (let i = 0; i < chunk.count; i++) {
        const slot = chunk.start + i
        const key = keys[slot]!
        const row = chunk.rows[i]!
        if (consultLog && log.knows(key) && log.holds(key, ts[slot]!, this.#fingerprint((c) => chunk.columns[c]![row] ?? null))) this.#unchanged++
        else candidates[count++] = slot
      }
    }
    const order = orderByTimeThenKey(candidates.subarray(0, count), ts, keys)
    // The latest row per key as the plan goes: the log's, then each planned append in its turn.
    // Only keys with several slots can meet their own appends; the others' prior is the log's.
    const planned = new Map<string, { t: number; slot: number }>()
    const befores = new Map<number, TableRow | number>()
    for (let position = 0; position < order.length; position++) {
      const slot = order[position]!
      const key = keys[slot]!
      const t = ts[slot]!
      const mine = slots.isShared(slot) ? planned.get(key) : undefined
      if (mine !== undefined) {
        befores.set(position, mine.slot)
        if (t >= mine.t) planned.set(key, { t, slot })
        continue
      }
      const prior = consultLog ? log.latest(key) : undefined
      if (prior?.row != null) befores.set(position, prior.row)
      if (slots.isShared(slot) && (prior === undefined || t >= prior.t)) planned.set(key, { t, slot })
    }
    const rowAt = (slot: number): TableRow => {
      const row: Record<string, unknown> = {}
      for (let c = 0; c < columns.length; c++) row[columns[c]!.name] = slots.valueAt(c, slot)
      return row
    }
    return {
      rowsRead: this.#rowsRead,
      rejected: this.#rejected,
      unchanged: this.#unchanged,
      length: order.length,
      at(position: number): PlannedAppend {
        const slot = order[position]!
        const prior = befores.get(position)
        const before = prior === undefined ? null : typeof prior === 'number' ? rowAt(prior) : prior
        return { key: keys[slot]!, envelope: { op: before === null ? 'c' : 'u', before, after: rowAt(slot), ts_ms: ts[slot]!, snapshot: snapshotId } }
      },
      slots: order,
      keys,
      ts,
      snapshotId,
      beforeAt: (position) => befores.get(position),
      rowAt,
    }
  }

  /** The canonical text of the declared columns' values `valueOf(column index)` (as rowFingerprint). */
  #fingerprint(valueOf: (column: number) => unknown): string {
    const columns = this.#input.columns
    let text = ''
    for (let c = 0; c < columns.length; c++) text += `${columns[c]!.canonical(valueOf(c))}\u0000`
    return text
  }
}

/** The whole plan at once (tests; `kfs ingest` uses SnapshotPlanner and builds envelopes per chunk). */
export function planSnapshot(input: PlanInput, rows: Iterable<TableRow>): SnapshotPlan {
  const planner = new SnapshotPlanner(input)
  planner.add(rows)
  const plan = planner.finish()
  return { rowsRead: plan.rowsRead, rejected: plan.rejected, unchanged: plan.unchanged, appends: Array.from({ length: plan.length }, (_, i) => plan.at(i)) }
}
