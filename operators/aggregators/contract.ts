/**
 * The contract of an aggregation: everything kfs needs to know about one op, declared in the op's
 * own file and listed once in catalog.ts. The DSL validates definitions with it (parameters,
 * field kinds, derived names, value types: features/aggregations.ts), the planner keys and shares
 * tile columns by it (operators/task/plan.ts), the engine runs its kernels (types.ts) and the
 * value limits read its list sizes (features/limits.ts). No other module switches on op names.
 *
 * How to add an aggregation: docs/aggregations.md.
 */
import type { FieldKind } from '../../features/avro-fields.ts'
import type { AggregationDef, FeatureValue, FeatureValueType } from '../../features/types.ts'
import { InvariantViolation } from '../../core/errors.ts'
import type { Aggregator } from './types.ts'

export type ParamValue = number | boolean
export type Params = Readonly<Record<string, ParamValue>>

export interface ParamSpec {
  readonly name: string
  /** What the parameter means, for docs: 'how many values to keep (1 to 1000)'. */
  readonly doc: string
  /** Taken when a definition leaves the parameter out; absent: the parameter is required. */
  readonly default?: ParamValue
  /**
   * Why `value` is not acceptable (`undefined` when it was left out and there is no default), as
   * the end of the sentence "view v: aggregation <op> on field 'f' — …", with a valid example;
   * undefined when it is acceptable. `field` is the aggregation's field, for the example.
   */
  problem(value: unknown, field: string | undefined): string | undefined
  /**
   * True when the parameter changes only how an accumulator is finished, never what it holds
   * (approx_percentile's quantile): features differing only in it share one tile column. Every
   * other parameter is part of the column key, so features differing in it never share state.
   */
  readonly finishOnly?: boolean
}

/** Which kinds of Avro field (features/avro-fields.ts) the DSL lets an aggregation read. */
export type FieldRule = 'any' | 'numeric' | 'scalar'

/**
 * How one output feature is computed from tile columns:
 * - one column: the merged accumulator of `column` (a kernel) finished by `finisher` — the same
 *   kernel, or one differing only in finish-only parameters (a quantile) or in what it reads
 *   out of the same accumulator (top_k's counts);
 * - a pair: two additive unboxed columns (`unboxed` 'count' or 'sum', see types.ts), folded in
 *   one pass and combined (avg = sum / count, sharing the columns of sum and count features).
 */
export type Computation =
  | { readonly column: Aggregator; readonly finisher: Aggregator }
  | { readonly pair: readonly [Aggregator, Aggregator]; combine(a: number, b: number): FeatureValue }

export interface AggregationOutput {
  /** How the output is named in `AggregationDef.output` (the first, main output is left unnamed there). */
  readonly name: string
  /** Appended to the feature name: '' for the main output, e.g. '_counts'. */
  readonly suffix: string
  /** The feature's value type from the kind of the aggregated field (undefined: no field). */
  type(fieldKind: FieldKind | undefined): FeatureValueType
}

export interface ListSize {
  /** The most values one feature value can hold. */
  readonly max: number
  /** For the row-size error: 'last 100 strings'. */
  readonly phrase: string
  /** What to lower instead: "last_n's n". */
  readonly knob: string
}

export interface AggregationContract<Op extends string = string, P extends Params = Params> {
  readonly op: Op
  /** One line for docs: what the feature holds, and its value on an empty window. */
  readonly summary: string
  /** 'optional' only where a missing field has a meaning (count counts events). */
  readonly field: 'required' | 'optional'
  /** Which field kinds the DSL accepts (the engine re-checks every value: the kernel's `input`). */
  readonly fields: FieldRule
  readonly params: readonly ParamSpec[]
  /** The features one aggregation produces, main output first (most ops: exactly one). */
  readonly outputs: readonly AggregationOutput[]
  /** The op's part of a derived feature name `<field>_<label>_<window>`: 'sum', 'p95', 'top_3'. */
  label(params: P): string
  /** How output number `output` (0: main) is computed. */
  compute(params: P, output: number): Computation
  /** For list outputs: how long a value can get (features/limits.ts); absent: a single value. */
  listSize?(params: P): ListSize
}

/** The contract, typed by its own parameters (catalog.ts derives the DSL's option types from them). */
export function defineAggregation<Op extends string, P extends Params>(contract: AggregationContract<Op, P>): AggregationContract<Op, P> {
  if (contract.outputs.length === 0 || contract.outputs[0]!.suffix !== '') throw new InvariantViolation(`${contract.op}: the main output comes first, without suffix`)
  return Object.freeze(contract)
}

/** A single-column computation whose finisher is the column's own kernel. */
export function single(kernel: Aggregator): Computation {
  return { column: kernel, finisher: kernel }
}

/** The scalar value type of a field kind; values of other kinds are kept as strings. */
export function scalarTypeOf(kind: FieldKind | undefined): 'long' | 'double' | 'string' {
  return kind === 'long' || kind === 'double' || kind === 'string' ? kind : 'string'
}

/** A size parameter (`n`, `k`): a whole number from 1 to `max`; the error shows `example` in use. */
export function sizeParam(op: string, name: string, max: number, doc: string, example: number): ParamSpec {
  return {
    name,
    doc,
    problem: (v, field) =>
      Number.isInteger(v) && (v as number) >= 1 && (v as number) <= max
        ? undefined
        : `${op} needs ${name}, a whole number from 1 to ${max}, e.g. { op: '${op}', field: '${field}', ${name}: ${example} }`,
  }
}

/** One output, named after the op, of a type fixed or derived from the field kind. */
export function mainOutput(type: FeatureValueType | ((kind: FieldKind | undefined) => FeatureValueType)): AggregationOutput {
  return { name: 'value', suffix: '', type: typeof type === 'function' ? type : () => type }
}

/**
 * Parameters named `n` and `quantile` keep their own members of AggregationDef (and of the stored
 * feature description: the hashes of views defined before parameters were generic stay the same);
 * every other parameter lives in `params`, which is absent when empty.
 */
const OWN_MEMBERS: ReadonlySet<string> = new Set(['n', 'quantile'])

export function paramsOf(def: Pick<AggregationDef, 'n' | 'quantile' | 'params'>): Params {
  const out: Record<string, ParamValue> = { ...def.params }
  if (def.n !== undefined) out.n = def.n
  if (def.quantile !== undefined) out.quantile = def.quantile
  return out
}

export function paramMembers(params: Params): Pick<AggregationDef, 'n' | 'quantile' | 'params'> {
  const rest: Record<string, ParamValue> = {}
  for (const [name, value] of Object.entries(params)) if (!OWN_MEMBERS.has(name)) rest[name] = value
  const own = (name: string): number | undefined => {
    const v = params[name]
    if (v !== undefined && typeof v !== 'number') throw new InvariantViolation(`parameter ${name} must be a number`)
    return v
  }
  const members = { n: own('n'), quantile: own('quantile') }
  return Object.keys(rest).length === 0 ? members : { ...members, params: Object.freeze(rest) }
}
