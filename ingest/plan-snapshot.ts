/**
 * What ingesting one table snapshot appends (docs/design.md §11), decided from the snapshot's
 * rows and what the source's log already holds, without touching either: pure, so a property
 * test can hold it against a brute-force reference.
 *
 * - A row is rejected, with a reason, when it has no primary key (`missing_key`), no or a bad
 *   event time (`missing_event_time`, `invalid_event_time`), a value not of the row schema's type
 *   (`schema_mismatch`), or the same (key, event time) as an earlier row of the snapshot with
 *   different content (`duplicate`: the earlier one stands).
 * - A (key, event time, row) already appended is unchanged; any other is appended once, as a
 *   change envelope: op `c` for a key never appended (or deleted), else `u` with the key's latest
 *   row as `before`; ts_ms = the row's event time; snapshot = the snapshot id.
 * - Appends are ordered by (event time, primary-key bytes), the deterministic order of §11.
 *
 * A schema change (a declared column missing from the snapshot, or of another kind) is not a
 * row's fault: `checkSnapshotColumns` throws before anything is planned.
 */
import { encodeEntityKey, invalidKeyPartReason } from '../core/entity-key.ts'
import { SchemaError } from '../core/errors.ts'
import type { ChangeEnvelope } from '../features/change-envelope.ts'
import { compareKeyBytes } from '../operators/task/key-order.ts'
import type { TableColumn, TableRow } from '../ports/table-snapshots.ts'
import { rowFingerprint, type LogState } from './log-state.ts'
import { kindFits, type RowColumn } from './row-columns.ts'

export const REJECT_REASONS = ['missing_key', 'missing_event_time', 'invalid_event_time', 'schema_mismatch', 'duplicate'] as const
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
  readonly rowTimeField: string
  readonly snapshotId: string
  readonly log: LogState
}

/** The snapshot's columns the declared row does not know (ignored); throws on a schema change. */
export function checkSnapshotColumns(declared: readonly RowColumn[], snapshot: readonly TableColumn[], where: string): readonly string[] {
  const byName = new Map(snapshot.map((c) => [c.name, c]))
  const problems: string[] = []
  for (const c of declared) {
    const found = byName.get(c.name)
    if (found === undefined) problems.push(`column ${c.name} (${c.kind}) is missing`)
    else if (!kindFits(c.kind, found.kind)) problems.push(`column ${c.name} is ${found.kind}, declared ${c.kind}`)
  }
  if (problems.length > 0)
    throw new SchemaError(
      'SCHEMA_INCOMPATIBLE',
      `the snapshot at ${where} does not have the source's row schema: ${problems.join('; ')}; nothing was appended (change the source's row schema, or fix the table)`,
    )
  const known = new Set(declared.map((c) => c.name))
  return snapshot.filter((c) => !known.has(c.name)).map((c) => c.name)
}

interface Candidate {
  readonly key: string
  readonly t: number
  readonly row: TableRow
}

function describe(value: unknown): string {
  return value === null || value === undefined ? 'null' : typeof value === 'string' ? `text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}` : typeof value
}

/** Why a row cannot be ingested, or its key, event time and declared-column image. */
function judge(input: PlanInput, row: TableRow): Omit<RejectedRow, 'row'> | Candidate {
  const parts: string[] = []
  for (const name of input.primaryKey) {
    const v = row[name]
    if (v === null || v === undefined) return { reason: 'missing_key', detail: `primary-key column ${name} is null` }
    const part = String(v)
    const bad = invalidKeyPartReason(part)
    if (bad !== undefined) return { reason: 'missing_key', detail: `primary-key column ${name} is ${bad}` }
    parts.push(part)
  }
  const t = row[input.rowTimeField]
  if (t === null || t === undefined) return { reason: 'missing_event_time', detail: `event-time column ${input.rowTimeField} is null` }
  if (typeof t !== 'number' || !Number.isSafeInteger(t))
    return { reason: 'invalid_event_time', detail: `event-time column ${input.rowTimeField} holds ${describe(t)}, not epoch milliseconds` }
  const image: Record<string, unknown> = {}
  for (const c of input.columns) {
    const v = row[c.name] ?? null
    if (v === null ? !c.nullable : !c.isValid(v))
      return { reason: 'schema_mismatch', detail: `column ${c.name} holds ${describe(v)}, not ${c.nullable ? 'null or ' : ''}${c.avro === 'other' ? 'its declared type' : c.avro}` }
    image[c.name] = v
  }
  return { key: encodeEntityKey(parts), t, row: image }
}

export function planSnapshot(input: PlanInput, rows: Iterable<TableRow>): SnapshotPlan {
  const rejected: RejectedRow[] = []
  // (key, t) → fingerprint of the first valid row of the snapshot with it.
  const seen = new Map<string, string>()
  const candidates: Candidate[] = []
  let unchanged = 0
  let n = 0
  for (const row of rows) {
    n++
    const verdict = judge(input, row)
    if ('reason' in verdict) {
      rejected.push({ row: n, ...verdict })
      continue
    }
    const fingerprint = rowFingerprint(input.columns, verdict.row)
    const at = `${verdict.key}\u0000${verdict.t}`
    const earlier = seen.get(at)
    if (earlier !== undefined) {
      if (earlier === fingerprint) unchanged++
      else rejected.push({ row: n, reason: 'duplicate', detail: `an earlier row has the same primary key and ${input.rowTimeField} with other values` })
      continue
    }
    seen.set(at, fingerprint)
    if (input.log.holds(verdict.key, verdict.t, fingerprint)) unchanged++
    else candidates.push(verdict)
  }
  candidates.sort((a, b) => a.t - b.t || compareKeyBytes(a.key, b.key))

  // The latest row per key as the plan goes: the log's, then each planned append in its turn.
  const latest = new Map<string, { t: number; row: TableRow | null }>()
  const appends = candidates.map(({ key, t, row }): PlannedAppend => {
    const prior = latest.get(key) ?? input.log.latest(key)
    if (prior === undefined || t >= prior.t) latest.set(key, { t, row })
    const before = prior?.row ?? null
    return { key, envelope: { op: before === null ? 'c' : 'u', before, after: row, ts_ms: t, snapshot: input.snapshotId } }
  })
  return { rowsRead: n, rejected, unchanged, appends }
}
