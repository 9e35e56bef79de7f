/**
 * Label files: the left side of a training set. CSV (RFC 4180: header row, quoted fields, CRLF or
 * LF) or Parquet, held in memory column by column (one JS array per column; the feature tables
 * are what must scale past memory, not the labels).
 *
 * Column types
 * - Parquet: the file's own types (string, long, int, double, boolean, timestamptz, lists).
 * - CSV: inferred per column over all rows — every non-empty value an integer → long, a number →
 *   double, `true`/`false` → boolean, otherwise string; an empty field is null. Entity join-key
 *   columns are always strings (`007` must stay `007`), whatever they look like.
 *
 * Label time: epoch milliseconds (a number, or a string of digits) or ISO-8601 text. ISO text
 * without a zone is read as UTC (never as the machine's local time); a Parquet timestamp column
 * works as is.
 */
import { createHash } from 'node:crypto'
import { FeatureStoreError } from '../core/errors.ts'
import type { ParquetCodec, ParquetColumnType } from '../ports/parquet-codec.ts'

export type LabelFormat = 'csv' | 'parquet'

export interface LabelColumn {
  readonly name: string
  readonly type: ParquetColumnType
}

export interface LabelTable {
  readonly format: LabelFormat
  /** Every column of the file, in file order. */
  readonly columns: readonly LabelColumn[]
  /** One array per column, in `columns` order; undefined for a column not asked for (Parquet). */
  readonly values: readonly (readonly unknown[] | undefined)[]
  readonly rowCount: number
  /** sha256 hex of the file's bytes. */
  readonly sha256: string
}

function badLabels(message: string, context: Record<string, string | number> = {}): FeatureStoreError {
  return new FeatureStoreError('BAD_REQUEST', message, { context })
}

export function labelFormatOf(path: string): LabelFormat {
  if (/\.parquet$/i.test(path)) return 'parquet'
  if (/\.csv$/i.test(path)) return 'csv'
  throw badLabels(`cannot tell the format of label file ${path}: name it *.csv or *.parquet`)
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export interface ReadLabelsOptions {
  /** CSV columns kept as strings whatever they look like (entity join keys). */
  readonly stringColumns?: readonly string[]
  /** Parquet: decode only these columns into JS (the others are carried by the engine). */
  readonly columns?: readonly string[]
}

/** Reads a label file; Parquet is decoded with `parquet` (CSV needs no codec). */
export async function readLabels(parquet: ParquetCodec, bytes: Uint8Array, format: LabelFormat, options: ReadLabelsOptions = {}): Promise<LabelTable> {
  const sha256 = sha256Hex(bytes)
  return format === 'csv' ? { ...parseCsvLabels(bytes, new Set(options.stringColumns ?? [])), sha256 } : { ...(await parquetLabels(parquet, bytes, options.columns)), sha256 }
}

async function parquetLabels(parquet: ParquetCodec, bytes: Uint8Array, wanted: readonly string[] | undefined): Promise<Omit<LabelTable, 'sha256'>> {
  const columns: LabelColumn[] = parquet.columnTypes(bytes).map(({ name, type }) => {
    if (type === undefined) throw badLabels(`label column ${name} has a Parquet type kfs cannot carry (use string, integer, double, boolean or timestamp)`, { column: name })
    return { name, type }
  })
  const read = columns.map((c) => wanted === undefined || wanted.includes(c.name))
  const values: (unknown[] | undefined)[] = columns.map((_, i) => (read[i] ? [] : undefined))
  let rowCount = 0
  const names = columns.filter((_, i) => read[i]).map((c) => c.name)
  for await (const batch of parquet.readBatches(bytes, { columns: names })) {
    columns.forEach((c, i) => {
      const dst = values[i]
      if (dst === undefined) return
      const src = batch.columns[c.name]!
      for (let r = 0; r < src.length; r++) dst.push(src[r])
    })
    rowCount += batch.numRows
  }
  return { format: 'parquet', columns, values, rowCount }
}

/** Splits CSV text into records of fields (RFC 4180). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = []
  let record: string[] = []
  let field = ''
  let i = 0
  const n = text.length
  let atFieldStart = true
  while (i < n) {
    const ch = text.charCodeAt(i)
    if (atFieldStart && ch === 34 /* " */) {
      // Quoted field: "" is an escaped quote; ends at a lone quote.
      i++
      for (;;) {
        const q = text.indexOf('"', i)
        if (q === -1) throw badLabels('CSV: a quoted field is never closed', { record: records.length + 1 })
        field += text.slice(i, q)
        if (text.charCodeAt(q + 1) === 34) {
          field += '"'
          i = q + 2
        } else {
          i = q + 1
          break
        }
      }
      atFieldStart = false
      continue
    }
    if (ch === 44 /* , */) {
      record.push(field)
      field = ''
      atFieldStart = true
      i++
    } else if (ch === 10 || ch === 13) {
      record.push(field)
      records.push(record)
      record = []
      field = ''
      atFieldStart = true
      i += ch === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1
    } else {
      // Unquoted run up to the next delimiter.
      let j = i
      while (j < n) {
        const c = text.charCodeAt(j)
        if (c === 44 || c === 10 || c === 13) break
        j++
      }
      field += text.slice(i, j)
      atFieldStart = false
      i = j
    }
  }
  if (!atFieldStart || field.length > 0 || record.length > 0) {
    record.push(field)
    records.push(record)
  }
  return records
}

const INTEGER = /^-?\d+$/
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/

function inferType(cells: readonly string[]): ParquetColumnType {
  let isLong = true
  let isDouble = true
  let isBoolean = true
  let any = false
  for (const c of cells) {
    if (c === '') continue
    any = true
    if (isLong && !(INTEGER.test(c) && Number.isSafeInteger(Number(c)))) isLong = false
    if (isDouble && !NUMBER.test(c)) isDouble = false
    if (isBoolean && c !== 'true' && c !== 'false') isBoolean = false
    if (!isLong && !isDouble && !isBoolean) return 'string'
  }
  if (!any) return 'string'
  return isLong ? 'long' : isDouble ? 'double' : isBoolean ? 'boolean' : 'string'
}

function parseCsvLabels(bytes: Uint8Array, stringColumns: ReadonlySet<string>): Omit<LabelTable, 'sha256'> {
  let text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const records = parseCsv(text)
  const header = records[0]
  if (header === undefined || header.length === 0) throw badLabels('the CSV label file is empty (it needs a header row)')
  const seen = new Set<string>()
  for (const name of header) {
    if (name === '') throw badLabels('CSV header has an empty column name')
    if (seen.has(name)) throw badLabels(`CSV header names column ${name} twice`, { column: name })
    seen.add(name)
  }
  // A trailing blank line parses as one empty field: not a row.
  const rows = records.slice(1).filter((r) => !(r.length === 1 && r[0] === ''))
  rows.forEach((r, i) => {
    if (r.length !== header.length) throw badLabels(`CSV row ${i + 2} has ${r.length} fields; the header has ${header.length}`, { row: i + 2 })
  })
  const columns: LabelColumn[] = []
  const values: unknown[][] = []
  header.forEach((name, c) => {
    const cells = rows.map((r) => r[c]!)
    const type = stringColumns.has(name) ? 'string' : inferType(cells)
    columns.push({ name, type })
    values.push(
      cells.map((cell) => {
        if (cell === '') return null
        if (type === 'long' || type === 'double') return Number(cell)
        if (type === 'boolean') return cell === 'true'
        return cell
      }),
    )
  })
  return { format: 'csv', columns, values, rowCount: rows.length }
}

const ISO_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i

/** Label time of one cell as epoch ms; throws a clear error naming the row. */
export function labelTimeMs(value: unknown, row: number, column: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.floor(value)
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'string' && value.length > 0) {
    if (INTEGER.test(value)) return Number(value)
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) || ISO_ZONE.test(value) ? value : `${value}Z`
    const ms = Date.parse(iso)
    if (/^\d{4}-\d{2}-\d{2}/.test(value) && Number.isFinite(ms)) return ms
  }
  throw badLabels(`label row ${row + 1}: ${column} must be epoch milliseconds or ISO-8601 text, got ${value === null ? 'null' : JSON.stringify(String(value)).slice(0, 40)}`, { row: row + 1, column })
}
