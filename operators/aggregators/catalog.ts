/**
 * Every aggregation kfs offers, one line each: the only list of ops. Each entry is a contract
 * (contract.ts) declared in the op's own file; the DSL, the planner and the value limits look ops
 * up here. The order is the order ops are listed to users.
 */
import type { AggregationDef } from '../../features/types.ts'
import type { AggregationContract, Computation, Params } from './contract.ts'
import { paramsOf } from './contract.ts'
import { InvariantViolation } from '../../core/errors.ts'
import type { Aggregator } from './types.ts'
import { count } from './count.ts'
import { sum } from './sum.ts'
import { avg } from './avg.ts'
import { min } from './min.ts'
import { max } from './max.ts'
import { first } from './first.ts'
import { last } from './last.ts'
import { lastN } from './last-n.ts'
import { approxDistinct } from './approx-distinct.ts'
import { approxPercentile } from './approx-percentile.ts'
import { variance } from './variance.ts'
import { stddev } from './stddev.ts'
import { topK } from './top-k.ts'

export const AGGREGATIONS = [
  count,
  sum,
  avg,
  min,
  max,
  first,
  last,
  lastN,
  approxDistinct,
  approxPercentile,
  variance,
  stddev,
  topK,
] as const

/** The op names, as a type: what `AggregationOptions.op` accepts. */
export type CatalogOp = (typeof AGGREGATIONS)[number]['op']

/** The named parameters of a contract (ops declaring none have only the generic index signature). */
type KnownKeys<T> = { [K in keyof T as string extends K ? never : K]: T[K] }
type ParamsOfContract<C> = C extends AggregationContract<string, infer P> ? KnownKeys<P> : never
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never
/** Every parameter of every op, optional: the parameter members of `AggregationOptions`. */
export type CatalogParams = Partial<UnionToIntersection<ParamsOfContract<(typeof AGGREGATIONS)[number]>>>

const byOp: ReadonlyMap<string, AggregationContract> = new Map(AGGREGATIONS.map((c) => [c.op, c as AggregationContract]))

export function aggregationContract(op: string): AggregationContract | undefined {
  return byOp.get(op)
}

/** The contract of a built definition's op (an unknown op here is a bug: the DSL refuses it). */
export function contractOf(def: Pick<AggregationDef, 'op'>): AggregationContract {
  const contract = byOp.get(def.op)
  if (contract === undefined) throw new InvariantViolation(`no aggregation named ${JSON.stringify(def.op)}`)
  return contract
}

/** Index of the def's output among its op's outputs (0: the main output). */
function outputIndex(contract: AggregationContract, def: Pick<AggregationDef, 'output'>): number {
  if (def.output === undefined) return 0
  const index = contract.outputs.findIndex((o, i) => i > 0 && o.name === def.output)
  if (index < 0) throw new InvariantViolation(`${contract.op} has no output ${JSON.stringify(def.output)}`)
  return index
}

/** How the feature of `def` is computed from tile columns. */
export function computationOf(def: Pick<AggregationDef, 'op' | 'n' | 'quantile' | 'params' | 'output'>): Computation {
  const contract = contractOf(def)
  return contract.compute(paramsOf(def), outputIndex(contract, def))
}

/** The kernels whose columns the feature of `def` reads, in order (their input rules apply to its field). */
export function kernelsOf(def: Pick<AggregationDef, 'op' | 'n' | 'quantile' | 'params' | 'output'>): readonly Aggregator[] {
  const c = computationOf(def)
  return 'pair' in c ? c.pair : [c.column]
}

/**
 * The part of a column key that comes from the def's parameters: every parameter except the
 * finish-only ones, so a new parameter separates columns unless its op says it need not.
 */
export function stateParamsKey(def: Pick<AggregationDef, 'op' | 'n' | 'quantile' | 'params'>): string {
  const params: Params = paramsOf(def)
  return contractOf(def)
    .params.filter((p) => p.finishOnly !== true)
    .map((p) => `${p.name}=${String(params[p.name])}`)
    .join(',')
}
