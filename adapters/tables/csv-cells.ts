/**
 * CSV cells typed by the declared row's columns (ports/table-snapshots.ts): CSV has no types, so
 * a cell is read as its column's kind, and a cell that does not parse as that kind stays the
 * string it was — ingest then rejects its row (`schema_mismatch`) rather than guessing.
 * An empty cell is null; a quoted empty one (`""`) is the empty string in a text column (as
 * Postgres, DuckDB and Spark write one, a null being an empty cell) and null in the others, which
 * have no empty value (Python's csv module quoting every field writes None so).
 */
import { isoTimeMs } from '../../core/iso-time.ts'
import type { TableColumnKind } from '../../ports/table-snapshots.ts'

const INTEGER = /^[+-]?\d+$/
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

function integer(cell: string): number | bigint | string {
  if (!INTEGER.test(cell)) return cell
  const n = Number(cell)
  return Number.isSafeInteger(n) ? n : BigInt(cell)
}

/** ISO-8601 dates (midnight UTC) and times (UTC when no zone is given), or epoch milliseconds. */
function timestamp(cell: string): number | bigint | string {
  if (INTEGER.test(cell)) return integer(cell)
  return isoTimeMs(cell) ?? cell
}

function finiteOr(cell: string): number | string {
  const n = Number(cell)
  return Number.isFinite(n) ? n : cell
}

export function typeCell(cell: string, kind: TableColumnKind, quoted = false): unknown {
  if (cell === '') return quoted && (kind === 'string' || kind === 'other') ? '' : null
  switch (kind) {
    case 'long':
      return integer(cell)
    case 'double':
      // A literal beyond a double's range (1e400) is not Infinity, as changelog JSON refuses it too.
      return DECIMAL.test(cell) ? finiteOr(cell) : cell === 'NaN' ? Number.NaN : cell === 'Infinity' ? Infinity : cell === '-Infinity' ? -Infinity : cell
    case 'boolean': {
      // Postgres's COPY … CSV writes booleans as t and f; Spark, DuckDB and pandas as true and false.
      const lower = cell.toLowerCase()
      return lower === 'true' || lower === 't' ? true : lower === 'false' || lower === 'f' ? false : cell
    }
    case 'timestamp':
      return timestamp(cell)
    case 'string':
    case 'other':
      return cell
  }
}
