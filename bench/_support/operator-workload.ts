/**
 * The operators bench's workload (bench/operators.ts), shared with the same-process A/B harness
 * (operators-ab.ts): one view with count/sum/avg/max over 5m/1h/1d/7d, approx_distinct over 1d
 * and last_n(10) over 1d, and 10M events of 1M keys over 7 days of event time (uniform keys,
 * mildly out of order), generated deterministically before any timing. KFS_BENCH_SCALE (e.g.
 * 0.1) scales keys and events down (./scale.ts).
 */
import type { AggregationDef, FeatureDef, FeatureViewDef, SourceDef } from '../../features/types.ts'
import { SCALE, scaled } from './scale.ts'

export const scale = SCALE
export const EVENTS = scaled(10_000_000, 1_000)
export const KEYS = scaled(1_000_000, 1)
export const SPAN_MS = 7 * 86_400_000
const MIN = 60_000
// Real epoch times (2026-01-01): they are not small integers, as in production.
const START_MS = 1_767_225_600_000

export const source: SourceDef = {
  kind: 'source',
  name: 'orders',
  topic: 'orders',
  schema: { type: 'record', name: 'Order', fields: [] },
  eventTimeField: 'ts',
  keyedBy: 'user',
  partitions: 1,
  outOfOrdernessMs: 5 * MIN,
  allowedLatenessMs: 0,
  idleTimeoutMs: 60_000,
  maxFutureSkewMs: 3_600_000,
  description: '',
}
function feat(op: AggregationDef['op'], field: string | undefined, windowMs: number, hopMs: number, n?: number): FeatureDef {
  const name = `${op}_${windowMs / MIN}m`
  return { name, type: 'double', aggregation: { name, op, field, windowMs, hopMs, n, quantile: undefined } }
}
const windows: [number, number][] = [
  [5 * MIN, MIN],
  [60 * MIN, MIN],
  [1440 * MIN, 5 * MIN],
  [7 * 1440 * MIN, 60 * MIN],
]
const features: FeatureDef[] = []
for (const [w, h] of windows)
  for (const op of ['count', 'sum', 'avg', 'max'] as const) features.push(feat(op, op === 'count' ? undefined : 'price', w, h))
features.push(feat('approx_distinct', 'item', 1440 * MIN, 5 * MIN), feat('last_n', 'price', 1440 * MIN, 5 * MIN, 10))
export const view: FeatureViewDef = {
  kind: 'featureView',
  name: 'user_orders',
  version: 1,
  source,
  filter: undefined,
  map: undefined,
  features,
  entity: { kind: 'entity', name: 'user', joinKeys: ['user'], keyType: 'string', description: '' },
  ttlMs: 86_400_000,
  owner: 'bench',
  description: '',
  tags: {},
  freshnessSlaMs: 60_000,
  online: true,
  offline: true,
}

// Deterministic inputs (xorshift), generated before timing.
let seed = 0x2545f491
function rnd(): number {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 4294967296
}
export const keyNames = Array.from({ length: KEYS }, (_, i) => `user-${i}`)
export const keyOf = new Int32Array(EVENTS)
export const timeOf = new Float64Array(EVENTS)
export const priceOf = new Float64Array(EVENTS)
export const itemOf = new Int32Array(EVENTS)
for (let i = 0; i < EVENTS; i++) {
  keyOf[i] = Math.floor(rnd() * KEYS)
  timeOf[i] = START_MS + Math.max(0, Math.floor((i / EVENTS) * SPAN_MS - rnd() * 2 * MIN))
  priceOf[i] = Math.round(rnd() * 10_000) / 100
  itemOf[i] = Math.floor(rnd() * 5_000)
}
