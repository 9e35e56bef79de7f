/**
 * CSV cells typed by the declared row's columns (ports/table-snapshots.ts): CSV has no types, so
 * a cell is read as its column's kind, and a cell that does not parse as that kind stays the
 * string it was — ingest then rejects its row (`schema_mismatch`) rather than guessing.
 * An empty cell is null.
 */
import type { TableColumnKind } from '../../ports/table-snapshots.ts'

const INTEGER = /^[+-]?\d+$/
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i
const HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i

function integer(cell: string): number | bigint | string {
  if (!INTEGER.test(cell)) return cell
  const n = Number(cell)
  return Number.isSafeInteger(n) ? n : BigInt(cell)
}

/**
 * Whether the date's day is one its month has. Date.parse checks only day ≤ 31 and rolls the rest
 * over into the next month (2024-02-30 is 1 March), which would ingest another event time silently.
 */
function dayExists(cell: string): boolean {
  const day = Number(cell.slice(8, 10))
  // A day its month lacks rolls into the next month: the day comes back different. (setUTCFullYear,
  // not Date.UTC, which reads years 0–99 as 1900–1999.)
  const date = new Date(0)
  date.setUTCFullYear(Number(cell.slice(0, 4)), Number(cell.slice(5, 7)) - 1, day)
  return date.getUTCDate() === day
}

/** ISO-8601 dates (midnight UTC) and times (UTC when no zone is given), or epoch milliseconds. */
function timestamp(cell: string): number | bigint | string {
  if (INTEGER.test(cell)) return integer(cell)
  if ((DATE_ONLY.test(cell) || DATE_TIME.test(cell)) && !dayExists(cell)) return cell
  if (DATE_ONLY.test(cell)) {
    const ms = Date.parse(`${cell}T00:00:00Z`)
    return Number.isNaN(ms) ? cell : ms
  }
  if (!DATE_TIME.test(cell)) return cell
  // Up to milliseconds: Date.parse takes 3 fraction digits at most.
  const trimmed = cell.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1')
  const ms = Date.parse(HAS_ZONE.test(trimmed) ? trimmed : `${trimmed}Z`)
  return Number.isNaN(ms) ? cell : ms
}

function finiteOr(cell: string): number | string {
  const n = Number(cell)
  return Number.isFinite(n) ? n : cell
}

export function typeCell(cell: string, kind: TableColumnKind): unknown {
  if (cell === '') return null
  switch (kind) {
    case 'long':
      return integer(cell)
    case 'double':
      // A literal beyond a double's range (1e400) is not Infinity, as changelog JSON refuses it too.
      return DECIMAL.test(cell) ? finiteOr(cell) : cell === 'NaN' ? Number.NaN : cell === 'Infinity' ? Infinity : cell === '-Infinity' ? -Infinity : cell
    case 'boolean': {
      const lower = cell.toLowerCase()
      return lower === 'true' ? true : lower === 'false' ? false : cell
    }
    case 'timestamp':
      return timestamp(cell)
    case 'string':
    case 'other':
      return cell
  }
}
