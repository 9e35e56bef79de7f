/**
 * Compiles the feature views of one source into a tile plan:
 * - features are grouped by hop; each hop group keeps one tile series per key;
 * - inside a group, features that need the same accumulator (same op, field and last_n size —
 *   approx_percentile sketches are shared across quantiles) share one tile *column*;
 * - windows of a group with the same length form a *window spec* (one tile range per evaluation);
 * - lifetime features (windowMs null) keep one accumulator per column, no tiles.
 */
import { DefinitionError } from '../../core/errors.ts'
import type { FeatureViewDef, SourceDef } from '../define/types.ts'
import { aggregatorFor } from '../aggregators/registry.ts'
import type { Aggregator } from '../aggregators/types.ts'

export interface ColumnPlan {
  readonly agg: Aggregator
  /** undefined: counts events; otherwise the (mapped) event field fed to the aggregator. */
  readonly field: string | undefined
}

export interface FeatureSlot {
  readonly featureIndex: number
  readonly column: number
  /** Finishes the merged accumulator (may differ from the column's aggregator only in quantile). */
  readonly finisher: Aggregator
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
    const agg = aggregatorFor(a)
    const key = columnKey(a.op, a.field, a.n)
    if (a.windowMs === null) {
      let column = lifetimeIndex.get(key)
      if (column === undefined) {
        column = lifetimeColumns.push({ agg, field: a.field }) - 1
        lifetimeIndex.set(key, column)
      }
      lifetimeFeatures.push({ featureIndex, column, finisher: agg })
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
    let column = group.colIndex.get(key)
    if (column === undefined) {
      column = group.columns.push({ agg, field: a.field }) - 1
      group.colIndex.set(key, column)
    }
    const tiles = windowMs / hopMs
    const slots = group.specs.get(tiles) ?? []
    slots.push({ featureIndex, column, finisher: agg })
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
  return { view, groups: groupPlans, lifetimeColumns, lifetimeFeatures, featureCount: view.features.length, fingerprint }
}
