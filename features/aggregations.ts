/**
 * Expands the aggregations of a view (op × field × windows) into one FeatureDef per output column.
 * What each op takes and yields — parameters, field kinds, name label, value type — is its
 * contract (operators/aggregators/catalog.ts, docs/aggregations.md); this module applies them.
 *
 * Naming (predictable, so services and training sets can be written by hand):
 * - `<field>_<label>_<window>`, e.g. `price_sum_1h`, `item_id_last_n_1d`; the label is the op's
 *   (the op name, or e.g. `p95` for approx_percentile); windows are spelled in the largest whole
 *   unit of d, h, m, s, ms (`7d`, not `1w`; `60m` becomes `1h`);
 * - `count_<window>` for a count without field; `<field>_<label>` / `count` for lifetime windows;
 * - an op's further outputs append their suffix to the label (`item_id_top_3_counts_1d`);
 * - `name` overrides the derived name (only for a single window); further outputs append their
 *   suffix to it.
 *
 * Value types come from the op's contract and the field's kind: e.g. count → long; sum, avg →
 * double (sum of a long field is a double too: one numeric type keeps the online, offline and
 * serving encodings simple, and doubles are exact for integers up to 2^53); first/last → the
 * field's type; last_n → a list of the field's type.
 *
 * Default hop per window length W (docs/semantics.md §3): W ≤ 1h → 1m, W ≤ 1d → 5m, longer → 1h;
 * a window shorter than its default hop is a single tile (hop = W). W must be a multiple of the hop.
 */
import { formatDurationMs, type Duration } from '../core/duration.ts'
import { DefinitionError } from '../core/errors.ts'
import { AGGREGATIONS, aggregationContract, type CatalogOp, type CatalogParams } from '../operators/aggregators/catalog.ts'
import { paramMembers, type AggregationContract, type ParamValue } from '../operators/aggregators/contract.ts'
import { didYouMean, type AvroField, type FieldKind } from './avro-fields.ts'
import type { AggregationDef, FeatureDef } from './types.ts'
import { checkDuration, checkName, describeGivenValue } from './validate.ts'

export type WindowSpec = Duration | 'lifetime'

interface AggregationBase {
  /** One of the catalog's ops (docs/aggregations.md). */
  readonly op: CatalogOp
  /** Input field of the (mapped) event; omit only for `count`. */
  readonly field?: string
  /** Window lengths; `['lifetime']`, `null` or omitted means one unbounded window. */
  readonly windows?: readonly WindowSpec[] | null
  /** Tile size for every window of this aggregation; defaults per window length. */
  readonly hop?: Duration
  /** Overrides the derived feature name; only with a single window. */
  readonly name?: string
}

/** One aggregation of a view; its parameters (`n` of last_n, `quantile` of approx_percentile, …) sit beside `op`. */
export type AggregationOptions = AggregationBase & CatalogParams

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/**
 * Most tiles one window may span (window ÷ hop). Each partition's task sizes per-hop tables by the
 * longest window's tile count when it starts: 365d at hop '1ms' failed `kfs run` with "Array buffer
 * allocation failed", and 10^7 tiles already cost ~80 MB per partition before any event. The
 * defaults stay far below (7d at 1h is 168 tiles; 30d at 1m is 43,200).
 */
export const MAX_TILES_PER_WINDOW = 100_000

export function defaultHopMs(windowMs: number): number {
  const hop = windowMs <= HOUR ? MINUTE : windowMs <= DAY ? 5 * MINUTE : HOUR
  return Math.min(hop, windowMs)
}

function isScalarKind(kind: FieldKind): boolean {
  return kind === 'long' || kind === 'double' || kind === 'string'
}

/** The ops declaring each parameter name, for "n applies only to last_n". */
const PARAM_OWNERS: ReadonlyMap<string, readonly string[]> = (() => {
  const owners = new Map<string, string[]>()
  for (const c of AGGREGATIONS) for (const p of c.params) owners.set(p.name, [...(owners.get(p.name) ?? []), c.op])
  return owners
})()

/** Like formatDurationMs but without weeks: people write and expect `amount_sum_7d`, not `_1w`. */
export function windowLabel(ms: number): string {
  for (const [unit, size] of [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
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
    const op: unknown = spec?.op
    const contract = typeof op === 'string' ? aggregationContract(op) : undefined
    if (contract === undefined) {
      throw new DefinitionError(`${where}: aggregation #${index + 1} has op ${describeGivenValue(op)}; use one of ${AGGREGATIONS.map((c) => c.op).join(', ')}`)
    }
    const label = `aggregation ${contract.op}${spec.field === undefined ? '' : ` on field ${typeof spec.field === 'string' ? `'${spec.field}'` : describeGivenValue(spec.field)}`}`
    const field = checkField(contract, spec.field, fields, `${where}: ${label}`, fieldsWhere)
    const params = checkParams(contract, spec, `${where}: ${label}`)

    const windows: readonly WindowSpec[] = spec.windows === undefined || spec.windows === null ? ['lifetime'] : spec.windows
    if (!Array.isArray(windows) || windows.length === 0) {
      throw new DefinitionError(`${where}: ${label} — windows must be a non-empty list such as ['5m', '1h', '1d'] or ['lifetime']`)
    }
    if (spec.name !== undefined && windows.length !== 1) {
      throw new DefinitionError(`${where}: ${label} — name '${spec.name}' can only override a single window; split it into one aggregation per window`)
    }
    // A hop sizes the tiles of timed windows; a lifetime window has none, so a hop there would be
    // ignored — and a mistyped one ('banana') accepted without a word.
    if (spec.hop !== undefined && windows.every((w) => w === 'lifetime')) {
      throw new DefinitionError(
        `${where}: ${label} — hop applies to timed windows, and this aggregation has only a lifetime window; remove hop`,
      )
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
        if (windowMs / hopMs > MAX_TILES_PER_WINDOW) {
          throw new DefinitionError(
            `${where}: ${label} — window ${formatDurationMs(windowMs)} at hop ${formatDurationMs(hopMs)} spans ${windowMs / hopMs} tiles, over the ${MAX_TILES_PER_WINDOW} a window may span; pick a hop of at least ${formatDurationMs(Math.ceil(windowMs / MAX_TILES_PER_WINDOW))} that divides the window${defaultHopMs(windowMs) * MAX_TILES_PER_WINDOW >= windowMs ? ` (e.g. hop: '${formatDurationMs(defaultHopMs(windowMs))}')` : ''}`,
          )
        }
      }
      if (seenWindows.has(windowMs)) throw new DefinitionError(`${where}: ${label} — window ${windowMs === null ? 'lifetime' : formatDurationMs(windowMs)} is listed twice`)
      seenWindows.add(windowMs)
      const opLabel = contract.label(params)
      const base = spec.field === undefined ? opLabel : `${spec.field}_${opLabel}`
      const override = spec.name === undefined ? undefined : checkName(spec.name, `${where}: ${label} name override`)
      contract.outputs.forEach((output, outputIndex) => {
        const derived = `${base}${output.suffix}${windowMs === null ? '' : `_${windowLabel(windowMs)}`}`
        const name = override === undefined ? derived : `${override}${output.suffix}`
        const clash = byName.get(name)
        if (clash !== undefined) {
          throw new DefinitionError(`${where}: feature name '${name}' is produced twice (${clash} and ${label}); give one of them a distinct name: '…'`)
        }
        byName.set(name, label)
        const aggregation: AggregationDef = Object.freeze({
          name,
          op: contract.op,
          field: spec.field,
          windowMs,
          hopMs,
          ...paramMembers(params),
          ...(outputIndex === 0 ? {} : { output: output.name }),
        })
        features.push(Object.freeze({ name, type: output.type(field?.kind), aggregation }))
      })
    }
  })
  return features
}

/** The aggregated field, checked against the op's field rule; undefined for a count of events. */
function checkField(contract: AggregationContract, name: string | undefined, fields: readonly AvroField[], where: string, fieldsWhere: string): AvroField | undefined {
  const op = contract.op
  if (name === undefined) {
    if (contract.field === 'required') throw new DefinitionError(`${where} needs a field, e.g. { op: '${op}', field: 'price', windows: ['1h'] }`)
    return undefined
  }
  const field = fields.find((f) => f.name === name)
  if (field === undefined) {
    const names = fields.map((f) => f.name)
    throw new DefinitionError(`${where} — no such field in ${fieldsWhere}.${(typeof name === 'string' ? didYouMean(name, names) : '')} Fields: ${names.join(', ')}`)
  }
  if (contract.fields === 'numeric' && field.kind !== 'long' && field.kind !== 'double') {
    throw new DefinitionError(`${where} — ${op} needs a numeric field (int, long, float, double); '${field.name}' is ${field.kind}. Map it to a number first or use count/approx_distinct/last`)
  }
  if (contract.fields !== 'any' && !isScalarKind(field.kind)) {
    throw new DefinitionError(`${where} — field '${field.name}' is ${field.kind}; ${op} supports int, long, float, double, string and enum fields (map booleans to 0/1)`)
  }
  return field
}

/** The op's parameters (defaults filled in), each checked; a parameter of another op is refused. */
function checkParams(contract: AggregationContract, spec: AggregationOptions, where: string): Record<string, ParamValue> {
  const given = spec as unknown as Readonly<Record<string, unknown>>
  const params: Record<string, ParamValue> = {}
  for (const p of contract.params) {
    const value = given[p.name] === undefined ? p.default : given[p.name]
    const problem = p.problem(value, spec.field)
    if (problem !== undefined) throw new DefinitionError(`${where} — ${problem}`)
    params[p.name] = value as ParamValue
  }
  for (const [name, owners] of PARAM_OWNERS) {
    if (given[name] !== undefined && !(name in params)) throw new DefinitionError(`${where} — ${name} applies only to ${owners.join(', ')}; remove it`)
  }
  return params
}
