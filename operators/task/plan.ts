/**
 * Compiles the feature views of one source into a tile plan:
 * - features are grouped by hop; each hop group keeps one tile series per key;
 * - each feature reads the tile columns its op's contract names (operators/aggregators/catalog.ts);
 *   inside a group, features that need the same accumulator share one *column*: same kernel, same
 *   field, same parameters — except parameters the contract marks finish-only (approx_percentile
 *   sketches are shared across quantiles, avg reads the columns of sum and count);
 * - windows of a group with the same length form a *window spec* (one tile range per evaluation);
 * - lifetime features (windowMs null) keep one accumulator per column, no tiles.
 */
import { DefinitionError, InvariantViolation } from '../../core/errors.ts'
import type { AggregationDef, FeatureValue, FeatureViewDef, SourceDef } from '../../features/types.ts'
import { computationOf, contractOf, stateParamsKey } from '../aggregators/catalog.ts'
import type { Aggregator } from '../aggregators/types.ts'
import { DEFAULT_VALUE_LIMITS } from '../../features/limits.ts'

export interface ColumnPlan {
  /** The column's kernel: its accumulators, their encoding and fast paths. */
  readonly agg: Aggregator
  /** undefined: counts events; otherwise the (mapped) event field fed to the kernel. */
  readonly field: string | undefined
}

export interface FeatureSlot {
  readonly featureIndex: number
  readonly column: number
  /**
   * Finishes the merged accumulator of `column`: the column's kernel, or one differing only in
   * what it reads out of the same accumulator (a quantile, top_k's counts). Unused with `pair`.
   */
  readonly finisher: Aggregator
  /**
   * Set for a feature combining two additive columns (avg): `column` and `pair.column` are
   * folded in one pass and combined — avg's sum / count, null when the count is 0.
   */
  readonly pair?: { readonly column: number; combine(a: number, b: number): FeatureValue }
}

export interface WindowSpecPlan {
  readonly tiles: number
  readonly features: readonly FeatureSlot[]
}

export interface HopGroupPlan {
  readonly hopMs: number
  readonly columns: readonly ColumnPlan[]
  readonly specs: readonly WindowSpecPlan[]
  readonly maxTiles: number
}

export interface ViewPlan {
  readonly view: FeatureViewDef
  readonly groups: readonly HopGroupPlan[]
  readonly lifetimeColumns: readonly ColumnPlan[]
  readonly lifetimeFeatures: readonly FeatureSlot[]
  readonly featureCount: number
  /** The view's string limit (limits.ts; the default when a hand-built view has none). */
  readonly maxStringBytes: number
  /** A text that changes whenever the plan's state layout changes; guards snapshot restore. */
  readonly fingerprint: string
}

function isAdditive(kernel: Aggregator): boolean {
  return kernel.unboxed === 'count' || kernel.unboxed === 'sum'
}

/** The engine reads unboxed columns inline, which is right only for a finisher of the same arithmetic. */
function checkComputation(a: AggregationDef, columns: readonly Aggregator[], finisher: Aggregator | undefined): void {
  if (finisher !== undefined && columns[0]!.unboxed !== finisher.unboxed) {
    throw new InvariantViolation(`${a.op}: an unboxed column must be finished by a kernel of the same arithmetic`)
  }
  if (finisher === undefined && !columns.every(isAdditive)) throw new InvariantViolation(`${a.op}: a pair of columns must both be count or sum columns`)
}

export function planView(view: FeatureViewDef, source: SourceDef): ViewPlan {
  if (view.source.name !== source.name) {
    throw new DefinitionError(`view ${view.name} reads source ${view.source.name}, not ${source.name}`)
  }
  const groups = new Map<number, { columns: ColumnPlan[]; colIndex: Map<string, number>; specs: Map<number, FeatureSlot[]> }>()
  const lifetimeColumns: ColumnPlan[] = []
  const lifetimeIndex = new Map<string, number>()
  const lifetimeFeatures: FeatureSlot[] = []
  view.features.forEach((feature, featureIndex) => {
    const a = feature.aggregation
    if (contractOf(a).field === 'required' && a.field === undefined) throw new DefinitionError(`feature ${view.name}.${feature.name}: ${a.op} needs a field`)
    const computation = computationOf(a)
    const kernels = 'pair' in computation ? computation.pair : [computation.column]
    checkComputation(a, kernels, 'pair' in computation ? undefined : computation.finisher)
    const stateParams = stateParamsKey(a)
    const columnOf = (columns: ColumnPlan[], index: Map<string, number>, kernel: Aggregator): number => {
      const key = `${kernel.name}|${a.field ?? ''}|${stateParams}`
      let column = index.get(key)
      if (column === undefined) {
        column = columns.push({ agg: kernel, field: a.field }) - 1
        index.set(key, column)
      }
      return column
    }
    const slotIn = (columns: ColumnPlan[], index: Map<string, number>): FeatureSlot => {
      const column = columnOf(columns, index, kernels[0]!)
      if (!('pair' in computation)) return { featureIndex, column, finisher: computation.finisher }
      const second = columnOf(columns, index, computation.pair[1])
      return { featureIndex, column, finisher: computation.pair[0], pair: { column: second, combine: computation.combine } }
    }
    if (a.windowMs === null) {
      lifetimeFeatures.push(slotIn(lifetimeColumns, lifetimeIndex))
      return
    }
    const { windowMs, hopMs } = a
    if (!Number.isSafeInteger(hopMs) || hopMs <= 0 || !Number.isSafeInteger(windowMs) || windowMs <= 0 || windowMs % hopMs !== 0) {
      throw new DefinitionError(`feature ${view.name}.${feature.name}: window ${windowMs}ms must be a positive multiple of hop ${hopMs}ms`)
    }
    let group = groups.get(hopMs)
    if (group === undefined) {
      group = { columns: [], colIndex: new Map(), specs: new Map() }
      groups.set(hopMs, group)
    }
    const tiles = windowMs / hopMs
    const slots = group.specs.get(tiles) ?? []
    slots.push(slotIn(group.columns, group.colIndex))
    group.specs.set(tiles, slots)
  })
  const groupPlans: HopGroupPlan[] = [...groups.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([hopMs, g]) => {
      const specs = [...g.specs.entries()].sort((x, y) => x[0] - y[0]).map(([tiles, features]) => ({ tiles, features }))
      return { hopMs, columns: g.columns, specs, maxTiles: Math.max(...specs.map((s) => s.tiles)) }
    })
  const fingerprint = JSON.stringify({
    view: `${view.name}@${view.version}`,
    groups: groupPlans.map((g) => [g.hopMs, g.specs.map((s) => s.tiles), g.columns.map((c) => `${c.agg.name}|${c.field ?? ''}|${c.agg.accEncoding}`)]),
    lifetime: lifetimeColumns.map((c) => `${c.agg.name}|${c.field ?? ''}|${c.agg.accEncoding}`),
  })
  const maxStringBytes = (view.limits ?? DEFAULT_VALUE_LIMITS).maxStringBytes
  return { view, groups: groupPlans, lifetimeColumns, lifetimeFeatures, featureCount: view.features.length, maxStringBytes, fingerprint }
}
