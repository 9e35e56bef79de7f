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

/** ISO-8601 dates (midnight UTC) and times (UTC when no zone is given), or epoch milliseconds. */
function timestamp(cell: string): number | bigint | string {
  if (INTEGER.test(cell)) return integer(cell)
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

export function typeCell(cell: string, kind: TableColumnKind): unknown {
  if (cell === '') return null
  switch (kind) {
    case 'long':
      return integer(cell)
    case 'double':
      return DECIMAL.test(cell) ? Number(cell) : cell === 'NaN' ? Number.NaN : cell === 'Infinity' ? Infinity : cell === '-Infinity' ? -Infinity : cell
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
