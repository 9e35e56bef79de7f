/**
 * Table snapshots from files (ports/table-snapshots.ts, docs/design.md §11): one Parquet or CSV
 * file, or a folder read as its .parquet / .csv files in name order. The snapshot id is a digest
 * of the files' names and bytes, so the same files give the same id wherever they are and any
 * changed byte gives a new one.
 *
 * Parquet comes through the ParquetCodec port (the adapter owning parquet-wasm is injected); CSV
 * is parsed here (core/csv-parse.ts), its cells typed by the declared row's columns (./csv-cells.ts).
 * Files are read whole: a snapshot is re-read from its bytes on every `rows()` call.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join, relative, resolve } from 'node:path'
import { CsvSyntaxError, FeatureStoreError } from '../../core/errors.ts'
import type { TableLocation } from '../../features/types.ts'
import type { ParquetCodec, ParquetReadType } from '../../ports/parquet-codec.ts'
import type { TableColumn, TableColumnKind, TableRow, TableSnapshot, TableSnapshotReader } from '../../ports/table-snapshots.ts'
import { typeCell } from './csv-cells.ts'
import { RowOrigins } from './row-origins.ts'
import { csvUtf8Text, headerShowsCrOnlyLines, parseCsv, type CsvRecord } from '../../core/csv-parse.ts'

export interface FileTableReaderOptions {
  readonly parquet: ParquetCodec
  /** The declared row's columns: how CSV cells are typed (a CSV column not among them is a string). */
  readonly columns: readonly TableColumn[]
  /** Relative paths are resolved from here. */
  readonly cwd: string
  /** Rows per yielded batch (default 8192). */
  readonly batchRows?: number
}

interface SnapshotFile {
  readonly name: string
  readonly bytes: Uint8Array
}

// A DATE reads as its midnight UTC (ports/table-snapshots.ts): a timestamp, as CSV and Iceberg dates are.
const KIND_OF_PARQUET: Record<ParquetReadType, TableColumnKind> = {
  string: 'string',
  binary: 'other',
  int: 'long',
  long: 'long',
  double: 'double',
  timestamptz: 'timestamp',
  boolean: 'boolean',
  'list<string>': 'other',
  'list<long>': 'other',
  'list<double>': 'other',
  date: 'timestamp',
}

export function createFileTableReader(options: FileTableReaderOptions): TableSnapshotReader {
  const batchRows = options.batchRows ?? 8192
  return {
    async open(location: TableLocation, at?: string): Promise<TableSnapshot> {
      if (location.format !== 'parquet' && location.format !== 'csv')
        throw new FeatureStoreError('BAD_REQUEST', `the file table reader reads Parquet and CSV files, not ${location.format} tables`)
      const where = resolve(options.cwd, at ?? location.path)
      const files = await filesAt(where, location.format)
      const digest = createHash('sha256')
      for (const f of files) digest.update(`${f.name}\u0000${f.bytes.length}\u0000`).update(f.bytes)
      const id = digest.digest('hex').slice(0, 16)
      if (location.format === 'csv') return csvSnapshot(options.columns, id, where, files, batchRows)
      // The row count from the footers: the ingest planner sizes its key index and slots for it
      // at once (a million-key index regrown while reading rehashes every key ten times).
      const parquet = options.parquet
      const rowCount = parquet.rowCount === undefined ? undefined : (await Promise.all(files.map((f) => parquetRowCount(parquet, f)))).reduce((a, b) => a + b, 0)
      return parquetSnapshot(parquet, id, where, files, batchRows, rowCount, options.columns.map((c) => c.name))
    },
  }
}

async function filesAt(where: string, format: 'parquet' | 'csv'): Promise<SnapshotFile[]> {
  let info
  try {
    info = await stat(where)
  } catch {
    throw new FeatureStoreError('NOT_FOUND', `no table snapshot at ${where}: no such file or folder`)
  }
  // A pipe or a device is read until it ends — a pipe nobody writes, never: the process hung,
  // deaf to SIGTERM, as the read blocks the event loop.
  if (!info.isDirectory() && !info.isFile()) throw new FeatureStoreError('BAD_REQUEST', notRegular(where))
  if (!info.isDirectory()) return [{ name: basename(where), bytes: await readWhole(where) }]
  const ofFormat = (name: string): boolean => name.toLowerCase().endsWith(`.${format}`)
  const names: string[] = []
  for (const e of await readdir(where, { withFileTypes: true })) {
    // A symbolic link counts as what it points to: skipping it would drop its rows without a word.
    const kind = e.isSymbolicLink() ? await stat(join(where, e.name)).catch(() => undefined) : e
    if (isHiddenEntry(e.name)) {
      // Table files under `_temporary/` or `.spark-staging-…/`: a job writing the folder has not finished (or failed).
      const unfinished = kind?.isDirectory() === true ? await firstNestedFile(join(where, e.name), ofFormat) : undefined
      if (unfinished !== undefined)
        throw new FeatureStoreError('BAD_REQUEST', `the folder ${where} has .${format} files in ${unfinished}: a job writing it has not finished or failed; ingest it once the job has committed`)
      continue
    }
    if (kind === undefined && ofFormat(e.name)) throw new FeatureStoreError('BAD_REQUEST', `${join(where, e.name)} is a link to nothing: a snapshot file that cannot be read`)
    if (kind?.isFile() === true && ofFormat(e.name)) names.push(e.name)
    // Skipped, a pipe named part-0.parquet would have dropped its rows without a word; read, it would hang.
    if (kind !== undefined && !kind.isFile() && !kind.isDirectory() && ofFormat(e.name)) throw new FeatureStoreError('BAD_REQUEST', notRegular(join(where, e.name)))
    // A partitioned export (`date=2026-11-01/part-0.parquet`) would be read in part: refused whole.
    if (kind?.isDirectory() === true) {
      const nested = await firstNestedFile(join(where, e.name), ofFormat)
      if (nested !== undefined)
        throw new FeatureStoreError('BAD_REQUEST', `the folder ${where} has .${format} files in a subfolder (${nested}): a snapshot is the files directly in one folder; name that folder, or put every file in one`)
    }
  }
  // Name order by code units, not the locale: the same folder gives the same order everywhere.
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  if (names.length === 0) throw new FeatureStoreError('BAD_REQUEST', `the folder ${where} holds no .${format} files`)
  return Promise.all(names.map(async (name) => ({ name, bytes: await readWhole(join(where, name)) })))
}

function notRegular(path: string): string {
  return `${path} is not a regular file (a pipe, device or socket): a table snapshot is a file, or a folder of files, kfs can read to the end`
}

/**
 * Names Spark, Hive and Hadoop keep beside a table's files and their readers skip: markers
 * (`_SUCCESS`), checksums (`.part-0.parquet.crc`) and the `._part-0.parquet` copies macOS leaves
 * on shared drives — read as table files, one of them would refuse an export that Spark itself
 * reads. A hidden folder holding table files is a job's staging area, refused by the caller.
 */
function isHiddenEntry(name: string): boolean {
  return name.startsWith('_') || name.startsWith('.')
}

/**
 * A snapshot file's bytes, or one error naming it: a file over 2 GiB (Node's limit for reading a
 * file whole) or one the process may not read failed as an unexpected error with a stack trace.
 */
async function readWhole(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path)
  } catch (err: unknown) {
    const code = (err as { code?: unknown }).code
    const hint = code === 'ERR_FS_FILE_TOO_LARGE' ? ': a snapshot file is read whole; split the table into a folder of smaller files' : ''
    throw new FeatureStoreError('BAD_REQUEST', `cannot read the snapshot file ${path} (${err instanceof Error ? err.message : String(err)})${hint}`, { cause: err })
  }
}

/** The path (from `dir`'s parent) of the first file under `dir`, at any depth, that `wanted` takes; undefined if none. */
async function firstNestedFile(dir: string, wanted: (name: string) => boolean): Promise<string | undefined> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  const found = entries.find((e) => wanted(e.name) && !e.isDirectory())
  return found === undefined ? undefined : join(basename(dir), relative(dir, join(found.parentPath, found.name)))
}

async function parquetRowCount(codec: ParquetCodec, f: SnapshotFile): Promise<number> {
  try {
    return await codec.rowCount!(f.bytes)
  } catch (err: unknown) {
    throw notParquet(f, err)
  }
}

/** The one message for a file the Parquet reader refuses, whichever read found out first. */
function notParquet(f: SnapshotFile, err: unknown): FeatureStoreError {
  const message = err instanceof Error ? err.message : String(err)
  // The reader refuses a text column holding bytes that are not UTF-8 (a lenient decode would make two keys one): the file itself is Parquet.
  if (/non UTF-8 data/.test(message)) return new FeatureStoreError('BAD_REQUEST', `${f.name} holds text that is not UTF-8 (${message}): write the table's text columns as UTF-8`)
  return new FeatureStoreError('BAD_REQUEST', `${f.name} is not a Parquet file (${message})`)
}

/**
 * A file's batches, where a failure to decode them is the file's (named, one line): a file whose
 * footer reads but whose pages are corrupt fails only here, after `columnTypes` accepted it.
 */
async function* parquetPages<T>(f: SnapshotFile, read: () => AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* read()
  } catch (err: unknown) {
    throw err instanceof FeatureStoreError ? err : notParquet(f, err)
  }
}

/** `declared`: the row schema's columns, the only ones decoded (extra columns are listed from the footer, never read). */
function parquetSnapshot(
  codec: ParquetCodec,
  id: string,
  where: string,
  files: readonly SnapshotFile[],
  batchRows: number,
  rowCount: number | undefined,
  declared: readonly string[],
): TableSnapshot {
  const read = { columns: declared }
  let columns: TableColumn[] | undefined
  for (const f of files) {
    let types
    try {
      types = codec.columnTypes(f.bytes)
    } catch (err: unknown) {
      throw notParquet(f, err)
    }
    const own = types.map((t) => ({ name: t.name, kind: t.type === undefined ? ('other' as const) : KIND_OF_PARQUET[t.type] }))
    // As a CSV header naming a column twice: the reader would take one of the two, the other's values dropped unsaid.
    const twice = own.find((c, i) => own.findIndex((o) => o.name === c.name) !== i)
    if (twice !== undefined) throw new FeatureStoreError('BAD_REQUEST', `${f.name} has two columns named ${JSON.stringify(twice.name)}: which one is the table's cannot be told`)
    if (columns === undefined) columns = own
    else if (JSON.stringify(own) !== JSON.stringify(columns))
      throw new FeatureStoreError('BAD_REQUEST', `the Parquet files of ${where} disagree on their columns (${files[0]!.name} and ${f.name})`)
  }
  // The compact read where there is one (its longs beyond 2^53 are bigints, as ingest reads them), failures named by file.
  const batchesOf = (f: SnapshotFile) => parquetPages(f, () => codec.readCompactBatches?.(f.bytes, read) ?? codec.readBatches(f.bytes, read))
  const origins = new RowOrigins(files.length)
  return {
    id,
    where,
    columns: columns ?? [],
    rowCount,
    locate: (row) => origins.locate(row),
    async *columnBatches() {
      origins.reset()
      for (const f of files) {
        origins.file(f.name)
        for await (const batch of batchesOf(f)) {
          origins.rows(batch.numRows)
          yield batch
        }
      }
    },
    async *rows() {
      origins.reset()
      for (const f of files) {
        origins.file(f.name)
        for await (const batch of batchesOf(f)) {
          origins.rows(batch.numRows)
          const names = Object.keys(batch.columns)
          const values = names.map((n) => batch.columns[n]!)
          for (let from = 0; from < batch.numRows; from += batchRows) {
            const to = Math.min(batch.numRows, from + batchRows)
            const rows: TableRow[] = new Array<TableRow>(to - from)
            for (let r = from; r < to; r++) {
              const row: Record<string, unknown> = {}
              for (let c = 0; c < names.length; c++) row[names[c]!] = values[c]![r] ?? null
              rows[r - from] = row
            }
            yield rows
          }
        }
      }
    },
  }
}

function csvSnapshot(declared: readonly TableColumn[], id: string, where: string, files: readonly SnapshotFile[], batchRows: number): TableSnapshot {
  const kindOf = new Map(declared.map((c) => [c.name, c.kind]))
  const headerOf = (f: SnapshotFile): { header: readonly string[]; records: Generator<CsvRecord> } => {
    const records = withFileName(f.name, parseCsv(csvText(f)))
    const first = records.next()
    if (first.done === true) throw new FeatureStoreError('BAD_REQUEST', `${f.name} is empty: a CSV snapshot needs a header row`)
    if (headerShowsCrOnlyLines(first.value.cells))
      throw new FeatureStoreError('BAD_REQUEST', `${f.name}: its header row holds a carriage return, so its lines seem to end in CR alone; save the CSV file with LF or CRLF line endings`)
    return { header: first.value.cells, records }
  }
  let header: readonly string[] | undefined
  for (const f of files) {
    const own = headerOf(f).header
    const twice = own.find((name, i) => own.indexOf(name) !== i)
    if (twice !== undefined) throw new FeatureStoreError('BAD_REQUEST', `${f.name}: the header row names the column ${JSON.stringify(twice)} twice${notAHeader(own, declared)}`)
    if (header === undefined) header = own
    else if (own.join('\u0000') !== header.join('\u0000')) throw new FeatureStoreError('BAD_REQUEST', `the CSV files of ${where} disagree on their header rows (${files[0]!.name} and ${f.name})`)
  }
  const names = header ?? []
  const kinds = names.map((n) => kindOf.get(n) ?? 'string')
  const origins = new RowOrigins(files.length)
  return {
    id,
    where,
    columns: names.map((name, i) => ({ name, kind: kinds[i]! })),
    rowCount: undefined,
    locate: (row) => origins.locate(row),
    async *rows() {
      origins.reset()
      let batch: TableRow[] = []
      for (const f of files) {
        origins.file(f.name)
        for (const { line, cells, quotedEmpty } of headerOf(f).records) {
          if (cells.length !== names.length)
            throw new FeatureStoreError('BAD_REQUEST', `${f.name} line ${line}: ${cells.length} fields, the header row has ${names.length}`)
          const row: Record<string, unknown> = {}
          for (let c = 0; c < names.length; c++) row[names[c]!] = typeCell(cells[c]!, kinds[c]!)
          // A text written "" is the empty string, not the null an empty cell is.
          if (quotedEmpty !== undefined) for (const c of quotedEmpty) row[names[c]!] = typeCell('', kinds[c]!, true)
          origins.line(line)
          batch.push(row)
          if (batch.length >= batchRows) {
            yield batch
            batch = []
          }
        }
      }
      if (batch.length > 0) yield batch
    },
  }
}

/**
 * The hint for a header row that names none of the declared columns: a file without a header
 * row, whose first data row (empty cells repeat) was read as one.
 */
function notAHeader(header: readonly string[], declared: readonly TableColumn[]): string {
  return declared.some((c) => header.includes(c.name)) ? '' : " (line 1 names none of the row schema's columns: is it a header row?)"
}

/** The file as text, which must be UTF-8 (core/csv-parse.ts's csvUtf8Text says why). */
function csvText(f: SnapshotFile): string {
  const decoded = csvUtf8Text(f.bytes)
  if (decoded.text !== undefined) return decoded.text
  throw new FeatureStoreError(
    'BAD_REQUEST',
    `${f.name} is not UTF-8 text (the first bytes that are not are on line ${decoded.badLine}): save the CSV file as UTF-8`,
  )
}

/** The parser's syntax errors as the snapshot's failure, naming the file. */
function* withFileName<T>(name: string, records: Generator<T>): Generator<T> {
  try {
    yield* records
  } catch (err: unknown) {
    if (err instanceof CsvSyntaxError) throw new FeatureStoreError('BAD_REQUEST', `${name} is not valid CSV: ${err.message}`)
    throw err
  }
}
