/**
 * The point-in-time join on DuckDB (ports/point-in-time-joiner.ts; the only folder that imports
 * @duckdb/node-api): DuckDB reads the pinned feature files directly, sorts both sides and merges
 * them (ASOF JOIN), spilling to a temp directory when they do not fit in memory.
 *
 * Strategy
 * 1. Point-in-time: one ASOF LEFT JOIN per view. The inequality is on one number packing
 *    (as_of, seq) so that it orders as the pair compared field by field (tie-key.ts): among rows
 *    with the greatest as_of ≤ t the one with the highest seq (archive order; a null seq counts as
 *    the lowest) wins — ties are broken inside the merge, with no extra pass over the feature
 *    rows. A HUGEINT as_of_µs · 2⁶⁴ + seq for any table; a BIGINT when the table's writer vouches
 *    for its rows (whole-ms as_of, the row index's width) and the spans fit — the same rows, an
 *    8-byte sort key instead of 16. A struct {as_of, seq} gives the same rows and cost 5–10 % more
 *    than the HUGEINT.
 * 2. As served: a window over each entity's rows ordered by created_at keeps the running
 *    arg_max by (as_of, created_at, seq) — the row the online store's conditional write would
 *    hold — with RANGE framing so rows created at the same instant see each other; then an ASOF
 *    join on created_at ≤ t.
 * 3. TTL is applied after the join, on the chosen row's as_of: a stale row gives null, never an
 *    older row.
 * 4. Output, in label order, by one `COPY … TO` with fixed writer settings; its bytes are
 *    repeatable for a given DuckDB version (checked by the rebuild, which compares sha256).
 *    - `derived` labels: the label columns ride through the joins beside the row number, time and
 *      keys, and the result is ordered by label row. The other way round — joining the keys alone,
 *      then putting the result beside the label file by position — wrote the same bytes ~5 %
 *      slower at 1M labels (the POSITIONAL JOIN and its second read of the label file run on one
 *      thread; docs/performance.md, Training sets, session 19).
 *      The two write the same rows but not always the same bytes (DuckDB closes a row group at
 *      the first chunk boundary past ROW_GROUP_SIZE, and the chunks differ), so a rebuild of a set
 *      recorded before the carried form asks for the old one (`OutputSpec.labelColumns`).
 *    - `files` labels (keys computed in JS, in a file of their own), and `labelColumns: 'beside'`:
 *      the joins see only the row numbers, times and keys; their result, ordered by label row, is
 *      put beside the label file by position (POSITIONAL JOIN: the label file's rows in file order).
 * `fetch` returns one view's values to JS (request-feature inputs), scattered into label order.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api'
import type { FeatureValue, FeatureValueType } from '../../features/types.ts'
import type { LabelSource, OutputSpec, PointInTimeJoiner, ViewJoinSpec } from '../../ports/point-in-time-joiner.ts'
import { FeatureStoreError } from '../../core/errors.ts'
import { owningInstance } from './owned-instance.ts'
import { tieKeySql } from './tie-key.ts'

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`
const INT64_MIN = '(-9223372036854775807 - 1)'

function duckType(type: FeatureValueType): string {
  switch (type) {
    case 'long':
      return 'BIGINT'
    case 'double':
      return 'DOUBLE'
    case 'string':
      return 'VARCHAR'
    case 'long[]':
      return 'BIGINT[]'
    case 'double[]':
      return 'DOUBLE[]'
    case 'string[]':
      return 'VARCHAR[]'
  }
}

function toFeatureValue(v: DuckDBValue): FeatureValue {
  if (v === null) return null
  if (typeof v === 'number' || typeof v === 'string') return v
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'object' && 'items' in v) return (v.items as DuckDBValue[]).map((x) => toFeatureValue(x)) as number[] | string[]
  return String(v)
}

export interface DuckDbJoinerOptions {
  /** Where DuckDB spills when a join does not fit in memory. */
  readonly tempDirectory: string
  readonly threads?: number
  readonly memoryLimit?: string
}

/** The DuckDB instance a joiner runs on (also shared with a label reader: duckdb-training-engine.ts). */
export async function openJoinerInstance(options: DuckDbJoinerOptions): Promise<DuckDBInstance> {
  return DuckDBInstance.create(':memory:', {
    temp_directory: options.tempDirectory,
    ...(options.threads === undefined ? {} : { threads: String(options.threads) }),
    ...(options.memoryLimit === undefined ? {} : { memory_limit: options.memoryLimit }),
  })
}

export async function createDuckDbJoiner(options: DuckDbJoinerOptions): Promise<PointInTimeJoiner> {
  const instance = await openJoinerInstance(options)
  return owningInstance(instance, await joinerOn(instance))
}

/** A joiner on its own connection to `instance`; its `close` closes that connection, not the instance. */
export async function joinerOn(instance: DuckDBInstance): Promise<PointInTimeJoiner> {
  const connection: DuckDBConnection = await instance.connect()
  return {
    async fetch(labels, spec) {
      const out = spec.features.map(() => new Array<FeatureValue>(labels.rowCount).fill(null))
      if (spec.files.length === 0 || spec.features.length === 0) return out
      const v = viewSql(spec, 0)
      const sql = `${v.cte === undefined ? '' : `WITH ${v.cte} `}SELECT k.__kfs_row, ${v.values.join(', ')} FROM ${sourceSql(labels)} k ${v.join}`
      const result = await connection.stream(sql).catch((err: unknown) => {
        throw damagedFeatureFile(err, spec.files)
      })
      for (;;) {
        const chunk = await result.fetchChunk()
        if (chunk === null || chunk.rowCount === 0) break
        const idx = chunk.getColumnVector(0)
        const columns = spec.features.map((_, f) => chunk.getColumnVector(f + 1))
        for (let r = 0; r < chunk.rowCount; r++) {
          const i = idx.getItem(r) as number
          for (let f = 0; f < columns.length; f++) {
            const value = columns[f]!.getItem(r)
            if (value !== null) out[f]![i] = toFeatureValue(value)
          }
        }
      }
      return out
    },
    async write(labels, views, output) {
      await connection.run(writeSql(labels, views, output)).catch((err: unknown) => {
        throw damagedFeatureFile(
          err,
          views.flatMap((v) => v.files),
        )
      })
    },
    async countValued(path, columns) {
      if (columns.length === 0) return {}
      const counts = (await connection.runAndReadAll(`SELECT ${columns.map((c) => `count(${ident(c)})`).join(', ')} FROM read_parquet(${sqlString(path)})`)).getRows()[0]!
      return Object.fromEntries(columns.map((c, i) => [c, Number(counts[i])]))
    },
    async close() {
      connection.closeSync()
    },
  }
}

/**
 * DuckDB refusing a pinned feature file (no Parquet footer, too small, gone) is the file's
 * damage, not a bug in kfs: named, as verify-parity and compact name it, and not retried.
 */
function damagedFeatureFile(err: unknown, files: readonly string[]): unknown {
  if (!(err instanceof Error)) return err
  const file = files.find((f) => err.message.includes(f))
  if (file === undefined) return err
  const why = err.message.split('\n', 1)[0]!
  return new FeatureStoreError(
    'DATA_CORRUPT',
    `data file ${file} of a feature table does not read as Parquet (${why}): the file is damaged; restore it from a copy`,
    { cause: err, context: { file } },
  )
}

/**
 * Per label row, in label-file order: `__kfs_row`, `__kfs_t` (µs) and the encoded entity keys;
 * with `labelColumns` (derived labels only), the label file's own columns before them.
 */
function sourceSql(labels: LabelSource, labelColumns = false): string {
  if (labels.kind === 'files') return `(SELECT * EXCLUDE (__kfs_t_ms), __kfs_t_ms * 1000 AS __kfs_t FROM read_parquet(${sqlString(labels.keys)}))`
  const keys = Object.entries(labels.keys).map(([name, expr]) => `${expr} AS ${ident(name)}`)
  return `(SELECT ${labelColumns ? '* EXCLUDE (file_row_number), ' : ''}CAST(file_row_number AS INTEGER) AS __kfs_row, ${labels.timeUs} AS __kfs_t, ${keys.join(', ')}
  FROM ${labelFileSql(labels, true)})`
}

/** The label file itself (hive_partitioning off: a label file under year=2024/ must not grow a `year` column). */
function labelFileSql(labels: LabelSource, rowNumbers = false): string {
  return `read_parquet(${sqlString(labels.labels)}, ${rowNumbers ? 'file_row_number = true, ' : ''}hive_partitioning = false)`
}

function filesSql(spec: ViewJoinSpec): string {
  // hive_partitioning off: the day directories (as_of_day=…) must not turn into a column.
  return `read_parquet([${spec.files.map(sqlString).join(', ')}], hive_partitioning = false)`
}

/** SQL pieces joining one view (alias f<i>) to the label keys (alias k). */
export function viewSql(spec: ViewJoinSpec, i: number): { cte: string | undefined; join: string; values: string[] } {
  const f = `f${i}`
  const ttlUs = BigInt(spec.ttlMs) * 1000n
  if (spec.files.length === 0) return { cte: undefined, join: '', values: spec.features.map((x) => `CAST(NULL AS ${duckType(x.type)})`) }
  const feats = spec.features.map((x) => ident(x.name)).join(', ')
  const key = `k.${ident(spec.keyColumn)}`
  if (!spec.asServed) {
    const { key: packed, highestAt } = tieKeySql(spec.tieKeyBounds)
    return {
      cte: undefined,
      join: `ASOF LEFT JOIN (SELECT entity_key, ${packed} AS __kfs_p, ${feats} FROM ${filesSql(spec)}) ${f}
  ON ${key} = ${f}.entity_key AND ${highestAt('k.__kfs_t')} >= ${f}.__kfs_p`,
      // as_of > t − ttl, read off the packing (as_of itself is not carried through the sort).
      values: spec.features.map((x) => `CASE WHEN ${f}.__kfs_p > ${highestAt(`k.__kfs_t - ${ttlUs}`)} THEN CAST(${f}.${ident(x.name)} AS ${duckType(x.type)}) END`),
    }
  }
  const payload = [`'a': __kfs_a`, ...spec.features.map((x, j) => `'f${j}': ${ident(x.name)}`)].join(', ')
  return {
    cte: `served${i} AS (
  SELECT entity_key, __kfs_c, arg_max({${payload}}, {'a': __kfs_a, 'c': __kfs_c, 's': __kfs_s})
    OVER (PARTITION BY entity_key ORDER BY __kfs_c RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __kfs_v
  FROM (SELECT entity_key, epoch_us(created_at) AS __kfs_c, epoch_us(as_of) AS __kfs_a, coalesce(seq, ${INT64_MIN}) AS __kfs_s, ${feats} FROM ${filesSql(spec)})
)`,
    join: `ASOF LEFT JOIN served${i} ${f} ON ${key} = ${f}.entity_key AND k.__kfs_t >= ${f}.__kfs_c`,
    values: spec.features.map((x, j) => `CASE WHEN ${f}.__kfs_v.a > k.__kfs_t - ${ttlUs} THEN CAST(${f}.__kfs_v.f${j} AS ${duckType(x.type)}) END`),
  }
}

export function writeSql(labels: LabelSource, views: readonly ViewJoinSpec[], output: OutputSpec): string {
  const parts = views.map((v, i) => viewSql(v, i))
  const ctes = parts.map((p) => p.cte).filter((c) => c !== undefined)
  // Derived labels carry their columns through the joins unless the output must be laid out as
  // before (see 4. above); the computed columns are dropped.
  const carried = labels.kind === 'derived' && output.labelColumns !== 'beside'
  const computed = carried ? ['__kfs_row', '__kfs_t', ...Object.keys(labels.keys)].map(ident).join(', ') : ''
  const select = [carried ? `k.* EXCLUDE (${computed})` : 'k.__kfs_row']
  for (const c of output.columns) {
    const spec = views[c.view]!
    select.push(`${parts[c.view]!.values[spec.features.findIndex((x) => x.name === c.feature)]!} AS ${ident(c.column)}`)
  }
  for (const c of output.extra?.columns ?? []) select.push(`x.${ident(c)}`)
  const kv = Object.entries(output.keyValueMetadata).map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(', ')
  const joined = `${ctes.length === 0 ? '' : `WITH ${ctes.join(',\n')}\n`}SELECT ${select.join(',\n  ')}
FROM ${sourceSql(labels, carried)} k
${parts.map((p) => p.join).join('\n')}
${output.extra === undefined ? '' : `LEFT JOIN read_parquet(${sqlString(output.extra.path)}) x ON x.__kfs_row = k.__kfs_row`}
ORDER BY k.__kfs_row`
  const to = `TO ${sqlString(output.path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536, KV_METADATA {${kv}})`
  if (carried) return `COPY (\n${joined}\n) ${to}`
  // The joined columns in label order, then beside the label file row by row: a POSITIONAL JOIN
  // runs single-threaded on both sides, so it pairs the i-th label row with the i-th joined row.
  return `COPY (
SELECT lab.*, j.* EXCLUDE (__kfs_row)
FROM ${labelFileSql(labels)} lab POSITIONAL JOIN (
${joined}
) j
) ${to}`
}
