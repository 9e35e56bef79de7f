/**
 * The point-in-time join on DuckDB (the only folder that imports @duckdb/node-api): DuckDB reads
 * the feature table's Parquet data files directly, sorts both sides and merges them (ASOF JOIN),
 * spilling to a temp directory when they do not fit in memory.
 *
 * Strategy
 * 1. Point-in-time: one ASOF LEFT JOIN per view. The inequality is on the struct (as_of, seq)
 *    against (t, +∞): DuckDB orders structs field by field, so among rows with the greatest
 *    as_of ≤ t the one with the highest seq (archive order) wins — ties are broken inside the
 *    merge, with no extra pass over the feature rows.
 * 2. As served: a window over each entity's rows ordered by created_at keeps the running
 *    arg_max by (as_of, created_at, seq) — the row the online store's conditional write would
 *    hold — with RANGE framing so rows created at the same instant see each other; then an ASOF
 *    join on created_at ≤ t.
 * 3. TTL is applied after the join, on the chosen row's as_of: a stale row gives null, never an
 *    older row.
 * Results come back with the label's row index and are scattered into label order in JS (no
 * ORDER BY: DuckDB may finish the join in any order).
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api'
import type { FeatureValue, FeatureValueType } from '../../operators/define/types.ts'
import type { PointInTimeJoiner, ViewJoinSpec } from '../point-in-time.ts'

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`
const INT64_MIN = '(-9223372036854775807 - 1)'
const INT64_MAX = '9223372036854775807'

function duckType(type: FeatureValueType): string {
  switch (type) {
    case 'long':
    case 'double':
      return 'DOUBLE'
    case 'string':
      return 'VARCHAR'
    case 'long[]':
    case 'double[]':
      return 'DOUBLE[]'
    case 'string[]':
      return 'VARCHAR[]'
  }
}

function toFeatureValue(v: DuckDBValue): FeatureValue {
  if (v === null) return null
  if (typeof v === 'number' || typeof v === 'string') return v
  if (typeof v === 'object' && 'items' in v) return (v.items as DuckDBValue[]).map((x) => toFeatureValue(x)) as number[] | string[]
  return String(v)
}

export interface DuckDbJoinerOptions {
  /** Where DuckDB spills when a join does not fit in memory. */
  readonly tempDirectory: string
  readonly threads?: number
  readonly memoryLimit?: string
}

export async function createDuckDbJoiner(options: DuckDbJoinerOptions): Promise<PointInTimeJoiner> {
  const instance = await DuckDBInstance.create(':memory:', {
    temp_directory: options.tempDirectory,
    preserve_insertion_order: 'false',
    ...(options.threads === undefined ? {} : { threads: String(options.threads) }),
    ...(options.memoryLimit === undefined ? {} : { memory_limit: options.memoryLimit }),
  })
  const connection: DuckDBConnection = await instance.connect()
  return {
    async join(labelKeysPath, rowCount, spec) {
      const out = spec.features.map(() => new Array<FeatureValue>(rowCount).fill(null))
      if (spec.files.length === 0 || spec.features.length === 0) return out
      const sql = spec.asServed ? asServedSql(labelKeysPath, spec) : pointInTimeSql(labelKeysPath, spec)
      const result = await connection.stream(sql)
      for (;;) {
        const chunk = await result.fetchChunk()
        if (chunk === null || chunk.rowCount === 0) break
        const rows = chunk.rowCount
        const idx = chunk.getColumnVector(0)
        const columns = spec.features.map((_, f) => chunk.getColumnVector(f + 1))
        for (let r = 0; r < rows; r++) {
          const i = idx.getItem(r) as number
          for (let f = 0; f < columns.length; f++) {
            const v = columns[f]!.getItem(r)
            if (v !== null) out[f]![i] = toFeatureValue(v)
          }
        }
      }
      return out
    },
    async close() {
      connection.closeSync()
      instance.closeSync()
    },
  }
}

function filesSql(spec: ViewJoinSpec): string {
  // hive_partitioning off: the day directories (as_of_day=…) must not turn into a column.
  return `read_parquet([${spec.files.map(sqlString).join(', ')}], hive_partitioning = false)`
}

function selectFeatures(spec: ViewJoinSpec, valid: string, value: (name: string) => string): string {
  return spec.features.map((f) => `CASE WHEN ${valid} THEN CAST(${value(f.name)} AS ${duckType(f.type)}) END`).join(', ')
}

export function pointInTimeSql(labelKeysPath: string, spec: ViewJoinSpec): string {
  const ttlUs = BigInt(spec.ttlMs) * 1000n
  const feats = spec.features.map((f) => ident(f.name)).join(', ')
  return `
SELECT l.row_idx, ${selectFeatures(spec, `f.a > l.t_us - ${ttlUs}`, (n) => `f.${ident(n)}`)}
FROM read_parquet(${sqlString(labelKeysPath)}) l
ASOF LEFT JOIN (
  SELECT entity_key, epoch_us(as_of) AS a, coalesce(seq, ${INT64_MIN}) AS s, ${feats} FROM ${filesSql(spec)}
) f
ON l.${ident(spec.keyColumn)} = f.entity_key AND {'a': l.t_us, 's': ${INT64_MAX}} >= {'a': f.a, 's': f.s}`
}

export function asServedSql(labelKeysPath: string, spec: ViewJoinSpec): string {
  const ttlUs = BigInt(spec.ttlMs) * 1000n
  const payload = [`'a': a`, ...spec.features.map((f, i) => `'f${i}': ${ident(f.name)}`)].join(', ')
  return `
WITH r AS (
  SELECT entity_key, epoch_us(created_at) AS c, epoch_us(as_of) AS a, coalesce(seq, ${INT64_MIN}) AS s, ${spec.features.map((f) => ident(f.name)).join(', ')}
  FROM ${filesSql(spec)}
), served AS (
  SELECT entity_key, c, arg_max({${payload}}, {'a': a, 'c': c, 's': s})
    OVER (PARTITION BY entity_key ORDER BY c RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS v
  FROM r
)
SELECT l.row_idx, ${selectFeatures(spec, `f.v.a > l.t_us - ${ttlUs}`, (n) => `f.v.f${spec.features.findIndex((x) => x.name === n)}`)}
FROM read_parquet(${sqlString(labelKeysPath)}) l
ASOF LEFT JOIN served f ON l.${ident(spec.keyColumn)} = f.entity_key AND l.t_us >= f.c`
}
