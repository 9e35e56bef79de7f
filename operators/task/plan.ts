/**
 * Compiles the feature views of one source into a tile plan:
 * - features are grouped by hop; each hop group keeps one tile series per key;
 * - inside a group, features that need the same accumulator (same op, field and last_n size —
 *   approx_percentile sketches are shared across quantiles) share one tile *column*;
 * - windows of a group with the same length form a *window spec* (one tile range per evaluation);
 * - lifetime features (windowMs null) keep one accumulator per column, no tiles.
 */
import { DefinitionError } from '../../core/errors.ts'
import type { AggregationOp, FeatureViewDef, SourceDef } from '../../features/types.ts'
import { aggregatorFor } from '../aggregators/registry.ts'
import type { Aggregator } from '../aggregators/types.ts'
import { DEFAULT_VALUE_LIMITS } from '../../features/limits.ts'

export interface ColumnPlan {
  readonly agg: Aggregator
  /** undefined: counts events; otherwise the (mapped) event field fed to the aggregator. */
  readonly field: string | undefined
  /** N of a last_n column (its window value is its tiles' lists concatenated, newest first). */
  readonly lastN: number | undefined
}

export interface FeatureSlot {
  readonly featureIndex: number
  readonly column: number
  /** Finishes the merged accumulator (may differ from the column's aggregator only in quantile). */
  readonly finisher: Aggregator
  /**
   * Set for avg: the feature is `column` (a sum) divided by `countColumn` (a count of the same
   * field), null when the count is 0 — the very arithmetic of the avg aggregator, bit for bit,
   * but stored as two plain numbers that share columns with sum/count features.
   */
  readonly countColumn?: number
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

function columnKey(op: string, field: string | undefined, n: number | undefined): string {
  return `${op}|${field ?? ''}|${op === 'last_n' ? String(n) : ''}`
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
    if (a.op !== 'count' && a.field === undefined) throw new DefinitionError(`feature ${view.name}.${feature.name}: ${a.op} needs a field`)
    const isAvg = a.op === 'avg'
    const agg = aggregatorFor(isAvg ? { ...a, op: 'sum' } : a)
    const columnOf = (columns: ColumnPlan[], index: Map<string, number>, op: AggregationOp, colAgg: Aggregator): number => {
      const key = columnKey(op, a.field, a.n)
      let column = index.get(key)
      if (column === undefined) {
        column = columns.push({ agg: colAgg, field: a.field, lastN: op === 'last_n' ? a.n : undefined }) - 1
        index.set(key, column)
      }
      return column
    }
    const slotIn = (columns: ColumnPlan[], index: Map<string, number>): FeatureSlot => {
      const column = columnOf(columns, index, isAvg ? 'sum' : a.op, agg)
      if (!isAvg) return { featureIndex, column, finisher: agg }
      return { featureIndex, column, finisher: agg, countColumn: columnOf(columns, index, 'count', aggregatorFor({ op: 'count', n: undefined, quantile: undefined })) }
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
    groups: groupPlans.map((g) => [g.hopMs, g.specs.map((s) => s.tiles), g.columns.map((c) => `${c.agg.op}|${c.field ?? ''}|${c.agg.accEncoding}`)]),
    lifetime: lifetimeColumns.map((c) => `${c.agg.op}|${c.field ?? ''}|${c.agg.accEncoding}`),
  })
  const maxStringBytes = (view.limits ?? DEFAULT_VALUE_LIMITS).maxStringBytes
  return { view, groups: groupPlans, lifetimeColumns, lifetimeFeatures, featureCount: view.features.length, maxStringBytes, fingerprint }
}
