/**
 * Operator hot loop: one view with count/sum/avg/max over 5m/1h/1d/7d, approx_distinct over 1d
 * and last_n(10) over 1d, fed 10M events of 1M keys spread over 7 days of event time (uniform
 * keys, mildly out of order), through createPartitionTask exactly as the pipeline calls it.
 * Baseline (same run, same events): a bare `Map` increment per event. Floor (same run, same
 * events): the least memory traffic any implementation of this workload does (_support/operator-floor.ts)
 * — if it misses the 1M events/s target, the target is out of reach on this machine.
 * KFS_BENCH_SCALE (e.g. 0.1) scales keys and events down on a busy machine.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { createPartitionTask } from '../operators/task/partition-task.ts'
import { operatorFloor } from './_support/operator-floor.ts'
import type { AggregationDef, FeatureDef, FeatureViewDef, SourceDef } from '../features/types.ts'

const scale = Number(process.env.KFS_BENCH_SCALE ?? '1')
const EVENTS = Math.round(10_000_000 * scale)
const KEYS = Math.round(1_000_000 * scale)
const SPAN_MS = 7 * 86_400_000
const MIN = 60_000
// Real epoch times (2026-01-01): they are not small integers, as in production.
const START_MS = 1_767_225_600_000
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const source: SourceDef = {
  kind: 'source', name: 'orders', topic: 'orders', schema: { type: 'record', name: 'Order', fields: [] },
  eventTimeField: 'ts', keyedBy: 'user', partitions: 1, outOfOrdernessMs: 5 * MIN, allowedLatenessMs: 0,
  idleTimeoutMs: 60_000, maxFutureSkewMs: 3_600_000, description: '',
}
function feat(op: AggregationDef['op'], field: string | undefined, windowMs: number, hopMs: number, n?: number): FeatureDef {
  const name = `${op}_${windowMs / MIN}m`
  return { name, type: 'double', aggregation: { name, op, field, windowMs, hopMs, n, quantile: undefined } }
}
const windows: [number, number][] = [[5 * MIN, MIN], [60 * MIN, MIN], [1440 * MIN, 5 * MIN], [7 * 1440 * MIN, 60 * MIN]]
const features: FeatureDef[] = []
for (const [w, h] of windows) for (const op of ['count', 'sum', 'avg', 'max'] as const) features.push(feat(op, op === 'count' ? undefined : 'price', w, h))
features.push(feat('approx_distinct', 'item', 1440 * MIN, 5 * MIN), feat('last_n', 'price', 1440 * MIN, 5 * MIN, 10))
const view: FeatureViewDef = {
  kind: 'featureView', name: 'user_orders', version: 1, source, filter: undefined, map: undefined, features,
  entity: { kind: 'entity', name: 'user', joinKeys: ['user'], keyType: 'string', description: '' },
  ttlMs: 86_400_000, owner: 'bench', description: '', tags: {}, freshnessSlaMs: 60_000, online: true, offline: true,
}

// Deterministic inputs (xorshift), generated before timing.
let seed = 0x2545f491
function rnd(): number {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 4294967296
}
const keyNames = Array.from({ length: KEYS }, (_, i) => `user-${i}`)
const keyOf = new Int32Array(EVENTS)
const timeOf = new Float64Array(EVENTS)
const priceOf = new Float64Array(EVENTS)
const itemOf = new Int32Array(EVENTS)
for (let i = 0; i < EVENTS; i++) {
  keyOf[i] = Math.floor(rnd() * KEYS)
  timeOf[i] = START_MS + Math.max(0, Math.floor((i / EVENTS) * SPAN_MS - rnd() * 2 * MIN))
  priceOf[i] = Math.round(rnd() * 10_000) / 100
  itemOf[i] = Math.floor(rnd() * 5_000)
}

function baseline(): number {
  const counts = new Map<string, number>()
  const start = process.hrtime.bigint()
  for (let i = 0; i < EVENTS; i++) {
    const event = { user: keyNames[keyOf[i]!]!, ts: timeOf[i]!, price: priceOf[i]!, item: itemOf[i]! }
    counts.set(event.user, (counts.get(event.user) ?? 0) + 1)
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9
  if (counts.size === 0) throw new Error('baseline did nothing')
  return EVENTS / s
}

/** JS heap plus ArrayBuffer memory (typed-array tile slabs live outside the JS heap). */
function stateMemoryBytes(): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

/** Kept reachable after the run so heap tooling can inspect the state. */
export let lastTask: ReturnType<typeof createPartitionTask> | undefined

/** A full GC, twice, letting V8 finish sweeping freed ArrayBuffers in between. */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function operators(): Promise<{ eventsPerS: number; rows: number; heapBytesPerKey: number; snapshotBytesPerKey: number; keys: number }> {
  await settle()
  const heapBefore = stateMemoryBytes()
  const task = createPartitionTask({ views: [view], source })
  lastTask = task
  let rows = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < EVENTS; i++) {
    const event = { user: keyNames[keyOf[i]!]!, ts: timeOf[i]!, price: priceOf[i]!, item: itemOf[i]! }
    const out = task.processEvent({ offset: String(i), eventTimeMs: event.ts, event })
    rows += out.rows[0]!.length
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9
  await settle()
  const keys = task.keyCounts()[0]!
  const heapBytesPerKey = (stateMemoryBytes() - heapBefore) / keys
  const snapshotBytesPerKey = task.snapshot().length / keys
  return { eventsPerS: EVENTS / s, rows, heapBytesPerKey, snapshotBytesPerKey, keys }
}

const base = baseline()
const floor = operatorFloor({ keyNames, keyOf, timeOf, priceOf, itemOf, spanMs: SPAN_MS })
const op = await operators()
console.error(`events=${EVENTS} keys_with_state=${op.keys} rows=${op.rows} rows_per_s=${Math.round((op.rows / EVENTS) * op.eventsPerS)} snapshot_bytes_per_key=${op.snapshotBytesPerKey.toFixed(0)} floor_rows=${floor.rows}`)
console.log(
  `BENCH operators events_per_s=${Math.round(op.eventsPerS)} baseline_events_per_s=${Math.round(base)} ratio=${(op.eventsPerS / base).toFixed(3)} bytes_per_key=${Math.round(op.heapBytesPerKey)} snapshot_bytes_per_key=${Math.round(op.snapshotBytesPerKey)} rows=${op.rows} events=${EVENTS} floor_events_per_s=${Math.round(floor.eventsPerS)} vs_floor=${(op.eventsPerS / floor.eventsPerS).toFixed(3)}`,
)
