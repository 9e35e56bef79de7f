/**
 * Label files: the left side of a training set. CSV (RFC 4180: header row, quoted fields, CRLF or
 * LF) or Parquet, held in memory column by column (one JS array per column; the feature tables
 * are what must scale past memory, not the labels). Parquet is read through the LabelReader port
 * (ports/label-reader.ts: DuckDB), which takes every type pandas, polars and Spark write.
 *
 * Column types
 * - Parquet: the file's own types (ports/label-reader.ts has the table); the training set carries
 *   them to its output unchanged.
 * - CSV: inferred per column over all rows — every non-empty value an integer that fits in 64
 *   bits → long (exact: a value past 2^53 stays a bigint), a number → double, `true`/`false` →
 *   boolean, otherwise string; an empty field is null. An integer too big for a double to hold
 *   exactly never makes a column double (it would be rounded): such a column is a long if it fits
 *   in 64 bits, else string (its digits, exact). Entity join-key columns are always strings (`007`
 *   must stay `007`), whatever they look like. The label-time column is a timestamp (UTC).
 *
 * Label time: epoch milliseconds (a number, or a string of digits), ISO-8601 text (core/iso-time.ts's
 * forms only: `YYYY-MM-DD[(T| )HH:MM[:SS[.f]]][Z|±HH:MM|±HHMM]`), or a timestamp
 * or date column of any unit, with or without zone. ISO text and timestamps without a zone are
 * read as UTC (never as the machine's local time). The date must exist in the calendar
 * (`2026-02-30` is refused, not read as March 2nd) and the time must lie in 0001-01-01 …
 * 9999-12-31T23:59:59.999Z; anything else is an error naming the row. Sub-millisecond digits are
 * floored.
 */
import { MAX_TIME_MS, MIN_TIME_MS } from '../core/iso-time.ts'
import { createHash, webcrypto } from 'node:crypto'
import { csvUtf8Text, headerShowsCrOnlyLines, parseCsv, type CsvRecord } from '../core/csv-parse.ts'
import { CsvSyntaxError, FeatureStoreError } from '../core/errors.ts'
import { isoTimeMs } from '../core/iso-time.ts'
import type { LabelColumn, LabelReader, LabelValueType } from '../ports/label-reader.ts'

export type { LabelColumn } from '../ports/label-reader.ts'
export type LabelFormat = 'csv' | 'parquet'

export interface LabelTable {
  readonly format: LabelFormat
  /** Every column of the file, in file order. */
  readonly columns: readonly LabelColumn[]
  /** One array per column, in `columns` order; undefined for a column not asked for (Parquet). */
  readonly values: readonly (readonly unknown[] | undefined)[]
  readonly rowCount: number
  /** CSV: each row's line in the file (blank lines and quoted line breaks make them differ), for errors. */
  readonly lines?: readonly number[]
  /** sha256 hex of the file's bytes. */
  readonly sha256: string
}

function badLabels(message: string, context: Record<string, string | number> = {}): FeatureStoreError {
  return new FeatureStoreError('BAD_REQUEST', message, { context })
}

/**
 * Two label columns whose names are equal ignoring case: the engine that joins the labels (DuckDB,
 * like Spark) compares column names without case, so it could not tell them apart — it refuses two
 * such CSV columns, and renames the second of a Parquet file's (`ts` and `TS` become `ts`, `TS_1`),
 * which would read one as the other. The first such pair, in file order; undefined if none.
 */
export function columnsEqualIgnoringCase(names: readonly string[]): readonly [string, string] | undefined {
  const seen = new Map<string, string>()
  for (const name of names) {
    const first = seen.get(name.toLowerCase())
    if (first !== undefined) return [first, name]
    seen.set(name.toLowerCase(), name)
  }
  return undefined
}

/** Refuses label columns `where` (e.g. `label file x.parquet`) names twice, also in another case. */
export function checkLabelColumnNames(names: readonly string[], where: string): void {
  const twin = columnsEqualIgnoringCase(names)
  if (twin === undefined) return
  const [first, second] = twin
  throw badLabels(
    first === second
      ? `${where} names column ${first} twice`
      : `${where} names columns ${first} and ${second}, which differ only in case: the join engine compares column names without case; rename one`,
    { column: second },
  )
}

export function labelFormatOf(path: string): LabelFormat {
  if (/\.parquet$/i.test(path)) return 'parquet'
  if (/\.csv$/i.test(path)) return 'csv'
  throw badLabels(`cannot tell the format of label file ${path}: name it *.csv or *.parquet`)
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** sha256Hex on the thread pool (WebCrypto): this thread stays free for other work meanwhile. */
export async function sha256HexOffThread(bytes: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex')
}

export interface ReadLabelsOptions {
  /** CSV columns kept as strings whatever they look like (entity join keys, string request inputs). */
  readonly stringColumns?: readonly string[]
  /** CSV: the label-time column, typed `timestamp` (its cells validated, as epoch ms). */
  readonly timeColumn?: string
  /** Parquet: decode only these columns into JS (the others are carried by the engine). */
  readonly columns?: readonly string[]
}

/** A label file: its bytes (CSV is parsed from them, both are hashed) and, for Parquet, a local path the reader opens. */
export interface LabelFile {
  readonly format: LabelFormat
  readonly bytes: Uint8Array
  readonly path?: string
}

/** Reads a label file; Parquet through `reader` (it needs `file.path`), CSV in JS. */
export async function readLabels(reader: LabelReader, file: LabelFile, options: ReadLabelsOptions = {}): Promise<LabelTable> {
  if (file.format === 'csv') return { ...parseCsvLabels(file.bytes, new Set(options.stringColumns ?? []), options.timeColumn), sha256: sha256Hex(file.bytes) }
  if (file.path === undefined) throw new RangeError('readLabels: a Parquet label file needs a local path')
  // The reader's engine works on its own threads: the bytes are hashed meanwhile.
  const reading = parquetLabels(reader, file.path, options.columns)
  const sha256 = sha256Hex(file.bytes)
  return { ...(await reading), sha256 }
}

async function parquetLabels(reader: LabelReader, path: string, wanted: readonly string[] | undefined): Promise<Omit<LabelTable, 'sha256'>> {
  const { columns, rowCount, fileNames } = await reader.describe(path)
  checkLabelColumnNames(fileNames, `label file ${path}`)
  const names = columns.map((c) => c.name).filter((name) => wanted === undefined || wanted.includes(name))
  const read = await reader.read(path, names)
  const values = columns.map((c) => {
    const i = names.indexOf(c.name)
    return i === -1 ? undefined : read[i]
  })
  return { format: 'parquet', columns, values, rowCount }
}

const INTEGER = /^-?\d+$/
/** Decimal number text as label files write it: no sign `+`, hex, binary, blanks or `Infinity`. */
export const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** An integer cell a double cannot hold exactly: reading it as a number would round it. */
const pastDouble = (cell: string): boolean => !Number.isSafeInteger(Number(cell))
const fitsInt64 = (cell: string): boolean => {
  const n = BigInt(cell)
  return n >= INT64_MIN && n <= INT64_MAX
}

function inferType(cells: readonly string[]): LabelValueType {
  let isLong = true
  let isDouble = true
  let isBoolean = true
  let any = false
  for (const c of cells) {
    if (c === '') continue
    any = true
    const integer = INTEGER.test(c)
    if (isLong && !(integer && fitsInt64(c))) isLong = false
    if (isDouble && (!NUMBER.test(c) || (integer && pastDouble(c)))) isDouble = false
    if (isBoolean && c !== 'true' && c !== 'false') isBoolean = false
    if (!isLong && !isDouble && !isBoolean) return 'string'
  }
  if (!any) return 'string'
  return isLong ? 'long' : isDouble ? 'double' : isBoolean ? 'boolean' : 'string'
}

function cellValue(cell: string, type: LabelValueType): unknown {
  if (cell === '') return null
  if (type === 'long') return pastDouble(cell) ? BigInt(cell) : Number(cell)
  if (type === 'double') return Number(cell)
  if (type === 'boolean') return cell === 'true'
  return cell
}

function parseCsvLabels(bytes: Uint8Array, stringColumns: ReadonlySet<string>, timeColumn: string | undefined): Omit<LabelTable, 'sha256'> {
  const decoded = csvUtf8Text(bytes)
  if (decoded.text === undefined)
    throw badLabels(`the CSV label file is not UTF-8 text (the first bytes that are not are on line ${decoded.badLine}): save it as UTF-8`, {
      line: decoded.badLine,
    })
  const text = decoded.text
  // The parser tables use too (core/csv-parse.ts): it skips a byte-order mark and blank lines, and
  // numbers each record by its line in the file, so every error below names the line to look at.
  let records: CsvRecord[]
  try {
    records = [...parseCsv(text)]
  } catch (err: unknown) {
    if (err instanceof CsvSyntaxError) throw badLabels(`the CSV label file is not valid CSV: ${err.message}`, { line: err.line })
    throw err
  }
  const [head, ...rows] = records
  if (head === undefined) throw badLabels('the CSV label file is empty (it needs a header row)')
  const header = head.cells
  if (headerShowsCrOnlyLines(header))
    throw badLabels(
      'the CSV header holds a carriage return, so its lines seem to end in CR alone; save the CSV file with LF or CRLF line endings',
      { line: head.line },
    )
  if (header.includes('')) throw badLabels('CSV header has an empty column name', { line: head.line })
  checkLabelColumnNames(header, 'the CSV header')
  for (const r of rows) {
    if (r.cells.length !== header.length)
      throw badLabels(`CSV line ${r.line} has ${r.cells.length} fields; the header (line ${head.line}) has ${header.length}`, {
        line: r.line,
      })
  }
  const columns: LabelColumn[] = []
  const values: unknown[][] = []
  header.forEach((name, c) => {
    const cells = rows.map((r) => r.cells[c]!)
    if (name === timeColumn) {
      // The label time is a time: validated here (a bad one names its row and line), a timestamp in the output.
      columns.push({ name, type: 'timestamp' })
      const times = cells.map((cell, r) => labelTimeMs(cell === '' ? null : cell, r, name, rows[r]!.line))
      if (cells.every((cell) => NUMBER.test(cell)) && looksLikeEpochSeconds(times)) throw epochSecondsError(name, cells[0])
      const mix = epochSecondsMix(times, (r) => cells[r], (r) => NUMBER.test(cells[r]!))
      if (mix !== undefined)
        throw epochSecondsMixError(name, { seconds: { ...mix.seconds, line: rows[mix.seconds.row]!.line }, ms: { ...mix.ms, line: rows[mix.ms.row]!.line } })
      values.push(times)
      return
    }
    const type = stringColumns.has(name) ? 'string' : inferType(cells)
    columns.push({ name, type })
    values.push(cells.map((cell) => cellValue(cell, type)))
  })
  return { format: 'csv', columns, values, rowCount: rows.length, lines: rows.map((r) => r.line) }
}

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: core's time range, which event times keep too. */
export const MIN_LABEL_TIME_MS = MIN_TIME_MS
export const MAX_LABEL_TIME_MS = MAX_TIME_MS

function timeOfText(value: string): number | undefined {
  if (INTEGER.test(value)) return Number(value)
  if (NUMBER.test(value)) return Math.floor(Number(value))
  // The ISO-8601 reader every other time a person writes goes through: Date.parse's fallback takes
  // far more (`2026-01-01 10:00 +0200 (CEST)` read as 10:00 UTC, its offset dropped; `2026-01-01 (x)`).
  return isoTimeMs(value)
}

/**
 * Label times written as numbers are epoch milliseconds. A whole column of them below this (before
 * 1973-03-03T09:46:40Z) is epoch seconds (read as seconds, 1970–5138) far more likely than labels
 * of 1970: read as ms, every label would fall before every feature row, and the set would be all
 * nulls. Such a column is refused; real 1970 times can be written as ISO-8601 text or a timestamp.
 */
export const EPOCH_SECONDS_BELOW_MS = 100_000_000_000

/** Whether every one of `times` (epoch ms, at least one) lies in [0, EPOCH_SECONDS_BELOW_MS). */
export function looksLikeEpochSeconds(times: readonly number[]): boolean {
  return times.length > 0 && times.every((ms) => ms >= 0 && ms < EPOCH_SECONDS_BELOW_MS)
}

/** The error for a label-time column of numbers that all read as 1970–1973 (`example`: one of them). */
export function epochSecondsError(column: string, example?: unknown): FeatureStoreError {
  const shown = example === undefined ? '' : ` (${String(example)} reads as ${new Date(Number(example)).toISOString()})`
  return badLabels(
    `every label time in ${column} is a number that, read as epoch milliseconds, falls between 1970-01-01 and 1973-03-03${shown}: label times are epoch milliseconds — multiply epoch seconds by 1000, or write times that really are from then as ISO-8601 text`,
    { column },
  )
}

/** Where a label-time column mixes the two: the first row of each (0-based), its value as written, and its CSV line. */
export interface EpochSecondsMix {
  readonly seconds: { readonly row: number; readonly value: unknown; readonly line?: number }
  readonly ms: { readonly row: number; readonly value: unknown; readonly line?: number }
}

/**
 * The first label time written as a number that reads as 1970-01-01 … 1973-03-03 (epoch seconds
 * read as ms, as looksLikeEpochSeconds) in a column where another label time lies after that: a
 * column of epoch ms with some rows in epoch seconds (two sources concatenated). Undefined when the
 * column is not such a mix. `written(r)`: row r's value as the file holds it; `isNumber(r)`: it was
 * written as a number (ISO text of 1970 is no seconds).
 */
export function epochSecondsMix(times: readonly number[], written: (row: number) => unknown, isNumber: (row: number) => boolean): EpochSecondsMix | undefined {
  const seconds = times.findIndex((ms, r) => ms >= 0 && ms < EPOCH_SECONDS_BELOW_MS && isNumber(r))
  if (seconds === -1) return undefined
  const ms = times.findIndex((t) => t >= EPOCH_SECONDS_BELOW_MS)
  if (ms === -1) return undefined
  return { seconds: { row: seconds, value: written(seconds) }, ms: { row: ms, value: written(ms) } }
}

/** The error for a label-time column mixing epoch seconds and epoch ms (`mix`: a row of each). */
export function epochSecondsMixError(column: string, mix: EpochSecondsMix): FeatureStoreError {
  const at = (r: { row: number; line?: number }): string => `label row ${r.row + 1}${r.line === undefined ? '' : ` (CSV line ${r.line})`}`
  const shown = (v: unknown): string => (Number.isFinite(Number(v)) ? `${String(v)} reads as ${new Date(Number(v)).toISOString()}` : String(v))
  return badLabels(
    `${column} mixes epoch seconds and epoch milliseconds: ${at(mix.seconds)} has ${shown(mix.seconds.value)}, ${at(mix.ms)} has ${shown(mix.ms.value)}. Label times are epoch milliseconds: multiply the seconds by 1000 (times that really are from 1970–1973 can be written as ISO-8601 text)`,
    { column, row: mix.seconds.row + 1, ...(mix.seconds.line === undefined ? {} : { line: mix.seconds.line }) },
  )
}

/**
 * Label time of one cell as epoch ms; throws a clear error naming the row (0-based `row`, named
 * 1-based) and, for a CSV file, its line in the file (blank lines and quoted line breaks make the
 * two differ).
 */
export function labelTimeMs(value: unknown, row: number, column: string, csvLine?: number): number {
  let ms: number | undefined
  if (typeof value === 'number' && Number.isFinite(value)) ms = Math.floor(value)
  else if (typeof value === 'bigint') ms = Number(value)
  else if (typeof value === 'string' && value.length > 0) ms = timeOfText(value)
  if (ms !== undefined && ms >= MIN_LABEL_TIME_MS && ms <= MAX_LABEL_TIME_MS) return ms
  const got = value === null || value === undefined ? 'null' : JSON.stringify(String(value)).slice(0, 40)
  const why = ms === undefined ? 'must be epoch milliseconds or ISO-8601 text of a real date' : 'must lie between 0001-01-01 and 9999-12-31T23:59:59.999Z'
  const where = csvLine === undefined ? '' : ` (CSV line ${csvLine})`
  const context = { row: row + 1, column, ...(csvLine === undefined ? {} : { line: csvLine }) }
  throw badLabels(`label row ${row + 1}${where}: ${column} ${why}, got ${got}`, context)
}
