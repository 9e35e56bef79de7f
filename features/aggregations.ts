/**
 * Expands the aggregations of a view (op × field × windows) into one FeatureDef per output column.
 *
 * Naming (predictable, so services and training sets can be written by hand):
 * - `<field>_<op>_<window>`, e.g. `price_sum_1h`, `item_id_last_n_1d`; windows are spelled in the
 *   largest whole unit of d, h, m, s, ms (`7d`, not `1w`; `60m` becomes `1h`);
 * - `count_<window>` for a count without field; `<field>_<op>` / `count` for lifetime windows;
 * - `approx_percentile` uses `p<quantile×100>` in place of the op (`amount_p95_1d`, `amount_p99_9_1d`)
 *   because several quantiles of one field are common;
 * - `name` overrides the derived name (only for a single window).
 *
 * Value types: count and approx_distinct → long; sum, avg, min, max, approx_percentile → double
 * (sum of a long field is a double too: one numeric type keeps the online, offline and serving
 * encodings simple, and doubles are exact for integers up to 2^53); first/last → the field's
 * type; last_n → a list of the field's type.
 *
 * Default hop per window length W (DESIGN §3): W ≤ 1h → 1m, W ≤ 1d → 5m, longer → 1h; a window
 * shorter than its default hop is a single tile (hop = W). W must be a multiple of the hop.
 */
import { formatDurationMs, type Duration } from '../core/duration.ts'
import { DefinitionError } from '../core/errors.ts'
import { didYouMean, type AvroField, type FieldKind } from './avro-fields.ts'
import type { AggregationDef, AggregationOp, FeatureDef, FeatureValueType } from './types.ts'
import { checkDuration, checkName } from './validate.ts'

export type WindowSpec = Duration | 'lifetime'

export interface AggregationOptions {
  readonly op: AggregationOp
  /** Input field of the (mapped) event; omit only for `count`. */
  readonly field?: string
  /** Window lengths; `['lifetime']`, `null` or omitted means one unbounded window. */
  readonly windows?: readonly WindowSpec[] | null
  /** Tile size for every window of this aggregation; defaults per window length. */
  readonly hop?: Duration
  /** Overrides the derived feature name; only with a single window. */
  readonly name?: string
  /** `last_n`: how many values to keep (1 to 1000). */
  readonly n?: number
  /** `approx_percentile`: the quantile in [0, 1]. */
  readonly quantile?: number
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
export const MAX_LAST_N = 1000

const OPS: readonly AggregationOp[] = ['count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'last_n', 'approx_distinct', 'approx_percentile']
const NUMERIC_OPS: ReadonlySet<AggregationOp> = new Set(['sum', 'avg', 'min', 'max', 'approx_percentile'])

export function defaultHopMs(windowMs: number): number {
  const hop = windowMs <= HOUR ? MINUTE : windowMs <= DAY ? 5 * MINUTE : HOUR
  return Math.min(hop, windowMs)
}

function scalarType(kind: FieldKind): 'long' | 'double' | 'string' | undefined {
  return kind === 'long' || kind === 'double' || kind === 'string' ? kind : undefined
}

function valueType(op: AggregationOp, field: AvroField | undefined): FeatureValueType {
  switch (op) {
    case 'count':
    case 'approx_distinct':
      return 'long'
    case 'sum':
    case 'avg':
    case 'min':
    case 'max':
    case 'approx_percentile':
      return 'double'
    case 'first':
    case 'last':
      return scalarType(field?.kind ?? 'other') ?? 'string'
    case 'last_n':
      return `${scalarType(field?.kind ?? 'other') ?? 'string'}[]`
  }
}

/** Like formatDurationMs but without weeks: people write and expect `amount_sum_7d`, not `_1w`. */
export function windowLabel(ms: number): string {
  for (const [unit, size] of [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

function quantileLabel(q: number): string {
  return `p${String(Math.round(q * 1e6) / 1e4).replace('.', '_')}`
}

export function expandAggregations(
  view: string,
  specs: readonly AggregationOptions[],
  fields: readonly AvroField[],
  fieldsWhere: string,
): FeatureDef[] {
  const where = `view ${view}`
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new DefinitionError(`${where}: aggregations must list at least one aggregation, e.g. [{ op: 'count', windows: ['1h'] }]`)
  }
  const features: FeatureDef[] = []
  const byName = new Map<string, string>()
  specs.forEach((spec, index) => {
    const op = spec?.op
    if (!OPS.includes(op)) {
      throw new DefinitionError(`${where}: aggregation #${index + 1} has op ${JSON.stringify(op)}; use one of ${OPS.join(', ')}`)
    }
    const label = `aggregation ${op}${spec.field === undefined ? '' : ` on field '${spec.field}'`}`
    let field: AvroField | undefined
    if (spec.field === undefined) {
      if (op !== 'count') throw new DefinitionError(`${where}: ${label} needs a field, e.g. { op: '${op}', field: 'price', windows: ['1h'] }`)
    } else {
      field = fields.find((f) => f.name === spec.field)
      if (field === undefined) {
        const names = fields.map((f) => f.name)
        throw new DefinitionError(`${where}: ${label} — no such field in ${fieldsWhere}.${didYouMean(String(spec.field), names)} Fields: ${names.join(', ')}`)
      }
      if (NUMERIC_OPS.has(op) && field.kind !== 'long' && field.kind !== 'double') {
        throw new DefinitionError(`${where}: ${label} — ${op} needs a numeric field (int, long, float, double); '${field.name}' is ${field.kind}. Map it to a number first or use count/approx_distinct/last`)
      }
      if (scalarType(field.kind) === undefined && op !== 'count' && op !== 'approx_distinct') {
        throw new DefinitionError(`${where}: ${label} — field '${field.name}' is ${field.kind}; ${op} supports int, long, float, double, string and enum fields (map booleans to 0/1)`)
      }
    }
    let n: number | undefined
    if (op === 'last_n') {
      if (!Number.isInteger(spec.n) || (spec.n as number) < 1 || (spec.n as number) > MAX_LAST_N) {
        throw new DefinitionError(`${where}: ${label} — last_n needs n, a whole number from 1 to ${MAX_LAST_N}, e.g. { op: 'last_n', field: '${spec.field}', n: 10 }`)
      }
      n = spec.n
    } else if (spec.n !== undefined) {
      throw new DefinitionError(`${where}: ${label} — n applies only to last_n; remove it`)
    }
    let quantile: number | undefined
    if (op === 'approx_percentile') {
      if (typeof spec.quantile !== 'number' || !(spec.quantile >= 0 && spec.quantile <= 1)) {
        throw new DefinitionError(`${where}: ${label} — approx_percentile needs quantile in [0, 1], e.g. quantile: 0.95`)
      }
      quantile = spec.quantile
    } else if (spec.quantile !== undefined) {
      throw new DefinitionError(`${where}: ${label} — quantile applies only to approx_percentile; remove it`)
    }

    const windows: readonly WindowSpec[] = spec.windows === undefined || spec.windows === null ? ['lifetime'] : spec.windows
    if (!Array.isArray(windows) || windows.length === 0) {
      throw new DefinitionError(`${where}: ${label} — windows must be a non-empty list such as ['5m', '1h', '1d'] or ['lifetime']`)
    }
    if (spec.name !== undefined && windows.length !== 1) {
      throw new DefinitionError(`${where}: ${label} — name '${spec.name}' can only override a single window; split it into one aggregation per window`)
    }
    const seenWindows = new Set<number | null>()
    for (const w of windows) {
      let windowMs: number | null = null
      let hopMs = 0
      if (w !== 'lifetime') {
        windowMs = checkDuration(w, `${where}: ${label}`, 'window', { positive: true })
        hopMs = spec.hop === undefined ? defaultHopMs(windowMs) : checkDuration(spec.hop, `${where}: ${label}`, 'hop', { positive: true })
        if (windowMs % hopMs !== 0) {
          throw new DefinitionError(
            `${where}: ${label} — window ${formatDurationMs(windowMs)} is not a multiple of hop ${formatDurationMs(hopMs)}; pick a hop that divides the window (e.g. hop: '${formatDurationMs(defaultHopMs(windowMs))}')`,
          )
        }
      }
      if (seenWindows.has(windowMs)) throw new DefinitionError(`${where}: ${label} — window ${windowMs === null ? 'lifetime' : formatDurationMs(windowMs)} is listed twice`)
      seenWindows.add(windowMs)
      const opLabel = op === 'approx_percentile' ? quantileLabel(quantile as number) : op
      const base = spec.field === undefined ? opLabel : `${spec.field}_${opLabel}`
      const derived = windowMs === null ? base : `${base}_${windowLabel(windowMs)}`
      const name = spec.name === undefined ? derived : checkName(spec.name, `${where}: ${label} name override`)
      const clash = byName.get(name)
      if (clash !== undefined) {
        throw new DefinitionError(`${where}: feature name '${name}' is produced twice (${clash} and ${label}); give one of them a distinct name: '…'`)
      }
      byName.set(name, label)
      const aggregation: AggregationDef = Object.freeze({ name, op, field: spec.field, windowMs, hopMs, n, quantile })
      features.push(Object.freeze({ name, type: valueType(op, field), aggregation }))
    }
  })
  return features
}
