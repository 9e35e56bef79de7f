/**
 * Shared by the engine's end-to-end tests (embedded and real stack): a deterministic purchase
 * stream with skew, out-of-order and late events, its production into an event log, and the
 * comparison of what the engine wrote against the brute-force reference model.
 */
import assert from 'node:assert/strict'
import type { FeatureRow, FeatureViewDef, SourceDef } from '../../features/types.ts'
import type { EventLog } from '../../ports/event-log.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { OnlineStore } from '../../ports/online-store.ts'
import { readFeatureRowsByEntity } from '../../adapters/offline/iceberg/feature-rows.ts'
import type { Encoder } from '../../schemas/encoder.ts'
import { runReference, type ReferenceRecord } from '../reference/reference-model.ts'

// The seeded PRNG of the example generator, so tests and `kfs produce --generate` share one.
export { prng } from '../../examples/generate-events.ts'
import { prng } from '../../examples/generate-events.ts'

export interface Purchase {
  user_id: string
  item_id: string
  amount: number
  currency: 'EUR' | 'USD' | 'GBP'
  ts: number
}

export function generatePurchases(options: { count: number; users: number; seed: number; startMs?: number; stepMs?: number }): Purchase[] {
  const rand = prng(options.seed)
  const startMs = options.startMs ?? Date.UTC(2026, 0, 1)
  const stepMs = options.stepMs ?? 20_000
  const out: Purchase[] = []
  let t = startMs
  for (let i = 0; i < options.count; i++) {
    t += Math.floor(rand() * stepMs)
    // Skewed keys: a few users are far more active than the rest.
    const u = Math.floor(options.users * rand() ** 2)
    let ts = t
    const r = rand()
    if (r < 0.05) ts = t - Math.floor(rand() * 4_000) // within out-of-orderness
    else if (r < 0.08) ts = t - 60_000 - Math.floor(rand() * 3_600_000) // some of these are late
    out.push({
      user_id: `u${u}`,
      item_id: `i${Math.floor(rand() * 500)}`,
      amount: Math.round(rand() * 20_000) / 100,
      currency: (['EUR', 'USD', 'GBP'] as const)[Math.floor(rand() * 3)]!,
      ts,
    })
  }
  return out
}

export interface ProducedRecord {
  readonly partition: number
  readonly offset: string
  readonly event: Purchase
}

export async function produceEvents(log: EventLog, topic: string, encoder: Encoder, events: readonly Purchase[], batch = 500): Promise<ProducedRecord[]> {
  const produced: ProducedRecord[] = []
  for (let i = 0; i < events.length; i += batch) {
    const chunk = events.slice(i, i + batch)
    const acks = await log.produce(
      topic,
      chunk.map((e) => ({ key: e.user_id, value: encoder.encode(e) })),
    )
    acks.forEach((ack, j) => produced.push({ partition: ack.partition, offset: ack.offset, event: chunk[j]! }))
  }
  return produced
}

/** Reference rows per view, grouped by entity key, in emission order. */
export function expectedRowsByEntity(views: readonly FeatureViewDef[], source: SourceDef, produced: readonly ProducedRecord[]): Map<string, Map<string, FeatureRow[]>> {
  const records: ReferenceRecord[] = [...produced]
    .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
    .map((p) => ({ partition: p.partition, offset: p.offset, eventTimeMs: p.event.ts, event: p.event as unknown as Record<string, unknown> }))
  const result = runReference({ views, source, records })
  const out = new Map<string, Map<string, FeatureRow[]>>()
  for (const { view, partitions } of result.views) {
    const byEntity = new Map<string, FeatureRow[]>()
    for (const rows of partitions.values()) for (const row of rows) byEntity.set(row.entityKey, [...(byEntity.get(row.entityKey) ?? []), row])
    out.set(view.name, byEntity)
  }
  return out
}

/** The offline table's rows of a view, grouped by entity key, in archive (seq) order. */
export async function offlineRowsByEntity(store: ObjectStore, view: FeatureViewDef): Promise<Map<string, FeatureRow[]>> {
  return readFeatureRowsByEntity(store, view)
}

/** Exact equality of two row sets (as_of and values, order within each entity). */
export function assertSameRows(actual: Map<string, FeatureRow[]>, expected: Map<string, FeatureRow[]>, what: string): void {
  assert.equal(actual.size, expected.size, `${what}: entity count`)
  let rows = 0
  for (const [key, exp] of expected) {
    const act = actual.get(key) ?? []
    assert.equal(act.length, exp.length, `${what}: row count of entity ${key}`)
    for (let i = 0; i < exp.length; i++) {
      const a = act[i]!
      const e = exp[i]!
      const same = a.asOfMs === e.asOfMs && a.values.length === e.values.length && a.values.every((v, j) => valuesClose(v, e.values[j]))
      if (!same) assert.deepEqual({ asOfMs: a.asOfMs, values: [...a.values] }, { asOfMs: e.asOfMs, values: [...e.values] }, `${what}: entity ${key} row ${i}`)
    }
    rows += exp.length
  }
  assert.ok(rows > 0, `${what}: expected some rows`)
}

/** The online store holds, for every entity of `expected`, its last expected row (as_of and values). */
export async function assertOnlineHoldsLastRows(online: OnlineStore, view: FeatureViewDef, expected: Map<string, FeatureRow[]>): Promise<void> {
  const features = view.features.map((f) => f.name)
  const keys = [...expected.keys()].sort()
  const reads = await online.readRows(
    keys.map((entityKey) => ({ view, entityKey, features })),
    Math.max(...keys.map((k) => expected.get(k)!.at(-1)!.asOfMs)),
  )
  for (const [i, key] of keys.entries()) {
    const last = expected.get(key)!.at(-1)!
    const got = reads[i]!
    assert.equal(got.asOfMs, last.asOfMs, `online as_of of ${key}`)
    assert.ok(
      got.values.every((v, j) => valuesClose(v, last.values[j])),
      `online row of ${key}: ${JSON.stringify(got.values)}, expected ${JSON.stringify(last.values)}`,
    )
  }
}

/** docs/design.md §3: against the independent oracle, floats agree within 1e-9 relative. */
export function valuesClose(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => valuesClose(v, b[i]))
  return a === b
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
