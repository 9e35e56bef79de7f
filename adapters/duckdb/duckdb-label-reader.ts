/**
 * Label files through DuckDB (ports/label-reader.ts): DuckDB reads every Parquet type pandas,
 * polars and Spark write (large_string, dictionary strings, timestamps in any unit, with or
 * without zone), so the labels are read by the same engine that joins them.
 *
 * Exactness
 * - 64-bit integers leave DuckDB as bigint and become a JS number only when that is exact.
 * - Timestamps become epoch ms in SQL with integer arithmetic (floor toward −∞, as the JS label
 *   time rule does): a double division would round µs past 2^53 (any time after 2255).
 * - `write` appends typed values (BIGINT from a bigint, TIMESTAMPTZ from µs) in data chunks through
 *   an appender: no value goes through text or a double on the way; row order is append order.
 * The session time zone is pinned to UTC so a timestamp without zone is read as UTC on any machine.
 */
import { BIGINT, BOOLEAN, DOUBLE, DuckDBDataChunk, DuckDBInstance, TIMESTAMPTZ, timestampTZValue, VARCHAR, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api'
import { FeatureStoreError } from '../../core/errors.ts'
import type { LabelColumn, LabelReader, LabelValueType } from '../../ports/label-reader.ts'
import { owningInstance } from './owned-instance.ts'

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`
/** A control character, as core/entity-key.ts refuses one in a key part. */
const CONTROL = /[\u0000-\u001f\u007f]/

/** The label type of a DuckDB column type (as DESCRIBE prints it). */
export function labelTypeOf(duckType: string): LabelValueType {
  const t = duckType.toUpperCase()
  if (t === 'VARCHAR' || t.startsWith('ENUM(')) return 'string'
  if (['TINYINT', 'SMALLINT', 'INTEGER', 'UTINYINT', 'USMALLINT', 'UINTEGER'].includes(t)) return 'int'
  if (['BIGINT', 'UBIGINT', 'HUGEINT', 'UHUGEINT'].includes(t)) return 'long'
  if (t === 'DOUBLE' || t === 'FLOAT') return 'double'
  if (t === 'BOOLEAN') return 'boolean'
  if (t === 'DATE' || t === 'TIMESTAMP WITH TIME ZONE' || /^TIMESTAMP(_S|_MS|_NS)?$/.test(t)) return 'timestamp'
  return 'other'
}

/** SQL of one column as `read` returns it. */
function readExpr(column: LabelColumn): string {
  const c = ident(column.name)
  switch (column.type) {
    case 'timestamp': {
      const ts = column.fileType === 'DATE' ? `CAST(${c} AS TIMESTAMP)` : c
      return `CASE WHEN isfinite(${ts}) THEN ${flooredMsSql(c, column.fileType)} END`
    }
    case 'string':
    case 'other':
      return `CAST(${c} AS VARCHAR)`
    default:
      return c
  }
}

/**
 * Epoch ms of a timestamp or date column `c` (SQL), floored toward −∞ in integers (`%` and `//`
 * truncate toward zero in DuckDB). A TIMESTAMP_NS goes through epoch_ns: epoch_us of one truncates
 * toward zero, so 1969-12-31T23:59:59.999999999 would read as 1970-01-01 — a label time after the
 * one written, which could match a feature row dated after it.
 */
export function flooredMsSql(c: string, fileType: string | undefined): string {
  if (fileType?.toUpperCase() === 'TIMESTAMP_NS') return `((epoch_ns(${c}) - ((epoch_ns(${c}) % 1000000) + 1000000) % 1000000) // 1000000)`
  const us = `epoch_us(${fileType === 'DATE' ? `CAST(${c} AS TIMESTAMP)` : c})`
  return `((${us} - ((${us} % 1000) + 1000) % 1000) // 1000)`
}

/**
 * Whether a Parquet leaf (parquet_schema's `type` and `logical_type`) is one the engine reads with
 * fewer digits than the file holds: a nanosecond timestamp adjusted to UTC becomes a µs TIMESTAMP
 * WITH TIME ZONE (DuckDB has no ns type with a zone), truncated toward zero — `.123456789` →
 * `.123456`, and 1 ns before 1970 → 1970 itself.
 */
const LOSSY_LEAF = /^TimestampType\(isAdjustedToUTC=(1|true)\b.*NANOS=NanoSeconds/i

function toJs(v: DuckDBValue): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v
  return v
}

const WRITE_TYPES: Partial<Record<LabelValueType, string>> = { string: 'VARCHAR', long: 'BIGINT', double: 'DOUBLE', boolean: 'BOOLEAN', timestamp: 'TIMESTAMPTZ' }

const WRITE_LOGICAL: Partial<Record<LabelValueType, DuckDBType>> = { string: VARCHAR, long: BIGINT, double: DOUBLE, boolean: BOOLEAN, timestamp: TIMESTAMPTZ }

function duckValue(type: LabelValueType, v: unknown): DuckDBValue {
  if (v === null || v === undefined) return null
  switch (type) {
    case 'string':
      return String(v)
    case 'long':
      return BigInt(v as number | bigint)
    case 'timestamp':
      return timestampTZValue(BigInt(v as number) * 1000n)
    default:
      return v as number | boolean
  }
}

/**
 * What DuckDB says while reading a label file is about that file (bytes that are not Parquet, a
 * damaged footer or page): the user's input, so a BAD_REQUEST naming the file and DuckDB's first
 * line — not a bug's "unexpected error". kfs's own refusals pass through unchanged.
 */
async function readingLabelFile<T>(path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err: unknown) {
    if (err instanceof FeatureStoreError || err instanceof RangeError || !(err instanceof Error)) throw err
    const why = err.message.split('\n', 1)[0]!.trim()
    throw new FeatureStoreError('BAD_REQUEST', `label file ${path} cannot be read as Parquet (${why})`, {
      cause: err,
      context: { path },
    })
  }
}

/** Every method that reads a user's label file, through readingLabelFile. */
function fileErrorsNamed(reader: LabelReader): LabelReader {
  return {
    ...reader,
    describe: (path) => readingLabelFile(path, () => reader.describe(path)),
    read: (path, columns) => readingLabelFile(path, () => reader.read(path, columns)),
    firstTimeOutside: (path, column, range) => readingLabelFile(path, () => reader.firstTimeOutside(path, column, range)),
    firstTimeInside: (path, column, range) => readingLabelFile(path, () => reader.firstTimeInside(path, column, range)),
    firstBadKeyPart: (path, column, limits) => readingLabelFile(path, () => reader.firstBadKeyPart(path, column, limits)),
  }
}

/**
 * A label column the engine would read with fewer digits than the file holds (LOSSY_LEAF): refused
 * naming it, since label columns reach the output as written and a label time must not move.
 */
function lossyColumnError(path: string, column: string): FeatureStoreError {
  return new FeatureStoreError(
    'BAD_REQUEST',
    `label file ${path}: column ${column} holds nanosecond timestamps adjusted to UTC (TIMESTAMP(NANOS, isAdjustedToUTC=true)), which the join engine reads only to the microsecond, truncated (…20.123456789 → …20.123456; 1 ns before 1970 → 1970): the training set would not carry it as written. Write it as microseconds with a zone (pandas: df[${JSON.stringify(column)}].astype("datetime64[us, UTC]")) or as nanoseconds without a zone (read as UTC, kept to the ns)`,
    { context: { path, column } },
  )
}

/** Rows per appended chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048

export async function createDuckDbLabelReader(): Promise<LabelReader> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  return owningInstance(instance, await labelReaderOn(instance))
}

/**
 * A label reader on its own connection to `instance` (shared with a joiner:
 * duckdb-training-engine.ts); its `close` closes that connection, not the instance. The time zone
 * is set for this connection only (DuckDB's TimeZone is a session setting).
 */
export async function labelReaderOn(instance: DuckDBInstance): Promise<LabelReader> {
  const connection: DuckDBConnection = await instance.connect()
  await connection.run(`SET SESSION TimeZone = 'UTC'`)
  let tables = 0
  // hive_partitioning off: a label file under year=2024/ must not grow a `year` column.
  const scan = (path: string): string => `read_parquet(${sqlString(path)}, hive_partitioning = false)`

  async function describe(path: string): Promise<{ columns: LabelColumn[]; rowCount: number; fileNames: string[] }> {
    const schema = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${scan(path)}`)
    const columns = schema.getRowObjects().map((r) => ({ name: String(r.column_name), type: labelTypeOf(String(r.column_type)), fileType: String(r.column_type) }))
    const count = await connection.runAndReadAll(`SELECT count(*) FROM ${scan(path)}`)
    const { names, lossy } = await topLevelNames(path)
    if (lossy.length > 0) throw lossyColumnError(path, lossy[0]!)
    return { columns, rowCount: Number(count.getRows()[0]![0]), fileNames: names }
  }

  /**
   * The file's own top-level column names: parquet_schema lists the schema tree depth first (the
   * root, then each column followed by its nested fields), so the root's children are found by
   * skipping each one's subtree.
   */
  async function topLevelNames(path: string): Promise<{ names: string[]; lossy: string[] }> {
    const tree = (await connection.runAndReadAll(`SELECT name, num_children, logical_type FROM parquet_schema(${sqlString(path)})`)).getRows()
    const children = (i: number): number => Number(tree[i]?.[1] ?? 0)
    const lossyLeaf = (i: number): boolean => LOSSY_LEAF.test(String(tree[i]?.[2] ?? ''))
    // The index past i's subtree, and whether any node in it is read with fewer digits.
    const skip = (i: number): { next: number; lossy: boolean } => {
      let next = i + 1
      let lossy = lossyLeaf(i)
      for (let c = children(i); c > 0; c--) {
        const sub = skip(next)
        next = sub.next
        lossy ||= sub.lossy
      }
      return { next, lossy }
    }
    const names: string[] = []
    const lossy: string[] = []
    for (let i = 1, left = children(0); left > 0 && i < tree.length; left--) {
      const sub = skip(i)
      names.push(String(tree[i]![0]))
      if (sub.lossy) lossy.push(String(tree[i]![0]))
      i = sub.next
    }
    return { names, lossy }
  }

  function columnOf(path: string, columns: readonly LabelColumn[], name: string): LabelColumn {
    const column = columns.find((c) => c.name === name)
    if (column === undefined) throw new RangeError(`label file ${path} has no column ${name}`)
    return column
  }

  async function read(path: string, names: readonly string[]): Promise<unknown[][]> {
    const { columns } = await describe(path)
    const wanted = names.map((name) => columnOf(path, columns, name))
    const out = wanted.map((): unknown[] => [])
    if (wanted.length === 0) return out
    const result = await connection.stream(`SELECT ${wanted.map(readExpr).join(', ')} FROM ${scan(path)}`)
    for (;;) {
      const chunk = await result.fetchChunk()
      if (chunk === null || chunk.rowCount === 0) break
      for (let c = 0; c < wanted.length; c++) {
        const vector = chunk.getColumnVector(c)
        const dst = out[c]!
        for (let r = 0; r < chunk.rowCount; r++) dst.push(toJs(vector.getItem(r)))
      }
    }
    return out
  }

  return fileErrorsNamed({
    describe,
    read,
    async firstTimeOutside(path, name, { minMs, maxMs }) {
      const { columns } = await describe(path)
      const column = columnOf(path, columns, name)
      if (column.type !== 'timestamp' && column.type !== 'int' && column.type !== 'long') throw new RangeError(`label column ${name} is ${column.type}, not a timestamp or integer`)
      const outside = (v: unknown): boolean => v === null || (typeof v !== 'number' && typeof v !== 'bigint') || v < minMs || v > maxMs
      if (columns.some((c) => c.name === 'file_row_number')) {
        // DuckDB's row-number column would be shadowed: scan the values in JS instead.
        const values = (await read(path, [name]))[0]!
        const row = values.findIndex(outside)
        return row === -1 ? undefined : { row, value: values[row] }
      }
      // `read`'s value is monotone in the stored one (±infinity are its ends), so the column's
      // min, max and null count — often answered from the file's statistics — settle the
      // common case, every row inside, without a scan.
      const bounds = await connection.runAndReadAll(`SELECT ${readExpr({ ...column, name: 'lo' })}, ${readExpr({ ...column, name: 'hi' })}, n, nulls
  FROM (SELECT min(${ident(name)}) AS lo, max(${ident(name)}) AS hi, count(*) AS n, count(*) - count(${ident(name)}) AS nulls FROM ${scan(path)})`)
      const [lo, hi, rows, nulls] = bounds.getRows()[0]!.map((v) => toJs(v))
      if (rows === 0 || (nulls === 0 && !outside(lo) && !outside(hi))) return undefined
      const found = await connection.runAndReadAll(`SELECT file_row_number, v FROM (SELECT file_row_number, ${readExpr(column)} AS v
  FROM read_parquet(${sqlString(path)}, file_row_number = true, hive_partitioning = false))
  WHERE v IS NULL OR v < ${minMs} OR v > ${maxMs} ORDER BY file_row_number LIMIT 1`)
      const row = found.getRows()[0]
      return row === undefined ? undefined : { row: Number(row[0]), value: toJs(row[1]!) }
    },
    async firstTimeInside(path, name, { minMs, maxMs }) {
      const { columns } = await describe(path)
      const column = columnOf(path, columns, name)
      if (column.type !== 'timestamp' && column.type !== 'int' && column.type !== 'long') throw new RangeError(`label column ${name} is ${column.type}, not a timestamp or integer`)
      const inside = (v: unknown): boolean => (typeof v === 'number' || typeof v === 'bigint') && v >= minMs && v <= maxMs
      if (columns.some((c) => c.name === 'file_row_number')) {
        const values = (await read(path, [name]))[0]!
        const row = values.findIndex(inside)
        return row === -1 ? undefined : { row, value: values[row] }
      }
      const found = await connection.runAndReadAll(`SELECT file_row_number, v FROM (SELECT file_row_number, ${readExpr(column)} AS v
  FROM read_parquet(${sqlString(path)}, file_row_number = true, hive_partitioning = false))
  WHERE v BETWEEN ${minMs} AND ${maxMs} ORDER BY file_row_number LIMIT 1`)
      const row = found.getRows()[0]
      return row === undefined ? undefined : { row: Number(row[0]), value: toJs(row[1]!) }
    },
    async firstBadKeyPart(path, name, { maxBytes }) {
      const { columns } = await describe(path)
      const column = columnOf(path, columns, name)
      if (column.type !== 'string') throw new RangeError(`label column ${name} is ${column.type}, not a string`)
      if (columns.some((c) => c.name === 'file_row_number')) {
        // DuckDB's row-number column would be shadowed: scan the values in JS instead.
        const values = (await read(path, [name]))[0]!
        const row = values.findIndex((v) => typeof v === 'string' && (Buffer.byteLength(v, 'utf8') > maxBytes || CONTROL.test(v)))
        return row === -1 ? undefined : { row, value: values[row] as string }
      }
      // strlen counts bytes (length counts characters); the class is RE2's, as CONTROL's.
      const v = `CAST(${ident(name)} AS VARCHAR)`
      const found = await connection.runAndReadAll(`SELECT file_row_number, ${v} FROM read_parquet(${sqlString(path)}, file_row_number = true, hive_partitioning = false)
  WHERE strlen(${v}) > ${maxBytes} OR regexp_matches(${v}, '[\\x00-\\x1f\\x7f]') ORDER BY file_row_number LIMIT 1`)
      const row = found.getRows()[0]
      return row === undefined ? undefined : { row: Number(row[0]), value: String(toJs(row[1]!)) }
    },
    async write(path, columns, values) {
      const table = `kfs_labels_${tables++}`
      const defs = columns.map((c) => {
        const type = WRITE_TYPES[c.type]
        if (type === undefined) throw new RangeError(`label column ${c.name}: type ${c.type} cannot be written`)
        return `${ident(c.name)} ${type}`
      })
      await connection.run(`CREATE TABLE ${table} (${defs.join(', ')})`)
      try {
        // Whole chunks, not value-by-value appends: ~10× faster for a million rows.
        const appender = await connection.createAppender(table)
        const types = columns.map((c) => WRITE_LOGICAL[c.type]!)
        const rows = values[0]?.length ?? 0
        for (let from = 0; from < rows; from += CHUNK_ROWS) {
          const to = Math.min(rows, from + CHUNK_ROWS)
          const chunk = DuckDBDataChunk.create(types, to - from)
          columns.forEach((c, i) => chunk.setColumnValues(i, values[i]!.slice(from, to).map((v) => duckValue(c.type, v))))
          appender.appendDataChunk(chunk)
        }
        appender.closeSync()
        await connection.run(`COPY ${table} TO ${sqlString(path)} (FORMAT parquet, COMPRESSION uncompressed)`)
      } finally {
        await connection.run(`DROP TABLE ${table}`)
      }
    },
    async close() {
      connection.closeSync()
    },
  })
}
