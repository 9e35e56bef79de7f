/**
 * Training-set test fixtures: the example shop's definitions plus a composite-key view, a seeded
 * generator of feature rows whose values encode their own as_of (so leakage is visible), a
 * writer that commits them through the engine's Iceberg sink, and the brute-force oracle.
 */
import * as examples from '../../../examples/features.ts'
import { entity, featureView } from '../../../features/index.ts'
import type { FeatureValue, FeatureValueType, FeatureViewDef } from '../../../features/types.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { OfflineFeatureRow } from '../../../ports/offline.ts'
import type { PointInTimeJoiner } from '../../../ports/point-in-time-joiner.ts'
import { collectDefinitions, createRegistry, type Registry } from '../../../registry/index.ts'
import { IcebergOfflineSink, featureTablePath } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { createOfflineStore, trainingAdapters, type TrainingAdapters } from '../../../main/offline-adapters.ts'
import { encodeEntityKey } from '../../../core/entity-key.ts'

export const BASE_MS = 1_700_000_000_000
export const HOUR_MS = 3_600_000

export const userItem = entity({ name: 'user_item', joinKeys: ['user_id', 'item_id'], description: 'a user and an item' })
export const userItemClicks = featureView({
  name: 'user_item_clicks',
  version: 1,
  entity: userItem,
  source: examples.clicks,
  aggregations: [{ op: 'count', windows: ['1d'] }],
  ttl: '3h',
  freshnessSla: '1m',
  owner: 'test@example.com',
  description: 'clicks of a user on an item',
})

export const definitions = collectDefinitions({ ...examples, userItemClicks })
export const views: readonly FeatureViewDef[] = [examples.userPurchases, examples.userClicks, examples.itemClicks, userItemClicks]

export function manualClock(start = BASE_MS) {
  let now = start
  return { nowMs: () => now, sleep: async () => {}, advance: (ms: number) => void (now += ms) }
}

/** mulberry32: small, seeded, good enough to shuffle test data. */
export function prng(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1))
  return { next, int, pick: (xs) => xs[int(0, xs.length - 1)]! }
}

export interface GenRow {
  readonly entityKey: string
  readonly asOfMs: number
  readonly createdAtMs: number
  /** Archive order (offset); unique per view. */
  readonly offset: number
  readonly values: readonly FeatureValue[]
}

/** A value whose integer part is the row's as_of in hours after BASE_MS and whose rest is `tag`. */
export function encodedValue(type: FeatureValueType, asOfMs: number, tag: number): FeatureValue {
  const hours = (asOfMs - BASE_MS) / HOUR_MS
  switch (type) {
    case 'long':
      return hours * 1000 + tag
    case 'double':
      return hours + tag / 1024
    case 'string':
      return `${hours}:${tag}`
    case 'long[]':
      return [hours * 1000 + tag]
    case 'double[]':
      return [hours + tag / 1024]
    case 'string[]':
      return [`${hours}:${tag}`, 'x']
  }
}

/** The as_of (ms) a value of `type` produced by `encodedValue` came from. */
export function asOfOfValue(type: FeatureValueType, v: FeatureValue): number | undefined {
  if (v === null) return undefined
  const first = Array.isArray(v) ? v[0] : v
  if (typeof first === 'string') return BASE_MS + Number(first.split(':')[0]) * HOUR_MS
  if (typeof first !== 'number') return undefined
  const hours = type === 'long' || type === 'long[]' ? Math.floor(first / 1000) : Math.floor(first)
  return BASE_MS + hours * HOUR_MS
}

export const USERS = ['u0', 'u1', 'u2', 'u3', 'u4']
export const ITEMS = ['i0', 'i1', 'i2']

function keysOf(view: FeatureViewDef): string[] {
  if (view.entity.name === 'user') return USERS
  if (view.entity.name === 'item') return ITEMS
  return USERS.flatMap((u) => ITEMS.map((i) => encodeEntityKey([u, i])))
}

/**
 * Rows with as_of on an hourly grid over 5 days (so duplicate as_of are common and label times
 * land exactly on as_of and on TTL boundaries), some null values, created_at shortly after as_of,
 * and a few "replayed" rows created a day later. Offsets are a random permutation: archive order
 * is not write order.
 */
export function generateRows(view: FeatureViewDef, count: number, seed: number): GenRow[] {
  const rand = prng(seed)
  const keys = keysOf(view)
  const offsets = Array.from({ length: count }, (_, i) => i)
  for (let i = offsets.length - 1; i > 0; i--) {
    const j = rand.int(0, i)
    ;[offsets[i], offsets[j]] = [offsets[j]!, offsets[i]!]
  }
  return offsets.map((offset, i) => {
    const asOfMs = BASE_MS + rand.int(0, 120) * HOUR_MS
    const replayed = rand.next() < 0.1
    const createdAtMs = asOfMs + (replayed ? 24 * HOUR_MS : rand.int(0, 3) * HOUR_MS)
    return {
      entityKey: rand.pick(keys),
      asOfMs,
      createdAtMs,
      offset,
      values: view.features.map((f) => (rand.next() < 0.1 ? null : encodedValue(f.type, asOfMs, i % 1000))),
    }
  })
}

/** Commits rows to the view's table through the engine's sink, one snapshot per chunk. */
export async function writeRows(store: ObjectStore, view: FeatureViewDef, rows: readonly GenRow[], chunks = 1): Promise<void> {
  const sink = new IcebergOfflineSink(store)
  const size = Math.ceil(rows.length / chunks)
  for (let c = 0; c < chunks; c++) {
    const part = rows.slice(c * size, (c + 1) * size)
    if (part.length === 0) continue
    const offline: OfflineFeatureRow[] = part.map((r) => ({
      entityKey: r.entityKey,
      asOfMs: r.asOfMs,
      createdAtMs: r.createdAtMs,
      values: r.values,
      origin: { partition: 0, offset: String(r.offset), seq: 0, marker: false },
    }))
    const staged = await sink.stageFeatureRows(view, offline)
    await sink.commit(featureTablePath(view), [staged], {}, {})
  }
}

/** The registry's store and the adapters main/ wires for training sets (Iceberg, Parquet, DuckDB) over it. */
export function trainingDeps(store: ObjectStore): TrainingAdapters & { readonly store: ObjectStore } {
  return { store, ...trainingAdapters(createOfflineStore(store)) }
}

/** trainingDeps whose join's output write goes through `write` (which calls `original` to write it). */
export function trainingDepsWithWrite(
  store: ObjectStore,
  write: (original: PointInTimeJoiner['write'], ...args: Parameters<PointInTimeJoiner['write']>) => Promise<void>,
): TrainingAdapters & { readonly store: ObjectStore } {
  const deps = trainingDeps(store)
  return {
    ...deps,
    openTrainingEngine: async (temp: string) => {
      const engine = await deps.openTrainingEngine(temp)
      const original = engine.joiner.write.bind(engine.joiner)
      return {
        labels: engine.labels,
        joiner: {
          fetch: engine.joiner.fetch.bind(engine.joiner),
          close: engine.joiner.close.bind(engine.joiner),
          countValued: engine.joiner.countValued.bind(engine.joiner),
          write: (...args) => write(original, ...args),
        },
        close: () => engine.close(),
      }
    },
  }
}

export async function registryWithViews(store: ObjectStore, complete: readonly FeatureViewDef[] = views): Promise<Registry> {
  const registry = createRegistry({ store, clock: manualClock() })
  await registry.apply(definitions)
  for (const v of complete) await registry.setBackfillStatus(v.name, v.version, { state: 'complete' })
  return registry
}

/** docs/design.md §9 by brute force: scan every row for every label. */
export function oracle(rows: readonly GenRow[], view: FeatureViewDef, key: string | null, tMs: number, asServed: boolean): readonly FeatureValue[] | null {
  if (key === null) return null
  let best: GenRow | undefined
  for (const r of rows) {
    if (r.entityKey !== key) continue
    if (asServed ? r.createdAtMs > tMs : r.asOfMs > tMs) continue
    if (best === undefined) {
      best = r
      continue
    }
    const better = asServed
      ? r.asOfMs > best.asOfMs || (r.asOfMs === best.asOfMs && (r.createdAtMs > best.createdAtMs || (r.createdAtMs === best.createdAtMs && r.offset > best.offset)))
      : r.asOfMs > best.asOfMs || (r.asOfMs === best.asOfMs && r.offset > best.offset)
    if (better) best = r
  }
  if (best === undefined || best.asOfMs <= tMs - view.ttlMs) return null
  return best.values
}
