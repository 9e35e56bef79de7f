/**
 * How much of the operators' time is locality across keys (docs/performance.md, session 34): the
 * operators bench's events (operator-workload.ts) fed to one view's `ViewRunner` in arrival order
 * (through the partition task, as the bench does) and grouped by key (each key's events together,
 * in arrival order), in one process. Each grouped event is preceded by `fire` at the watermark
 * arrival order had before it, and late events are skipped as arrival order skips them, so every
 * decay row fires where it would have; KFS_KEY_ORDER_CHECK=1 compares every key's rows (as_of and
 * values, in order) instead of timing (use a small scale).
 *
 * KFS_KEY_ORDER_CHUNK=<n> groups by key only within consecutive chunks of n events. That is NOT
 * exact: a key holding state from an earlier chunk can have its timers fired by other keys'
 * watermarks past its own next event (its rows differ; the run says so).
 * KFS_KEY_ORDER_ROUNDS=<n> times both orders n times in one process (a line each).
 *
 *   KFS_BENCH_SCALE=0.2 flock /tmp/kfs-bench.lock node --import tsx bench/_support/key-order-ab.ts
 */
import type { FeatureRow } from '../../features/types.ts'
import { createPartitionTask } from '../../operators/task/partition-task.ts'
import { planView } from '../../operators/task/plan.ts'
import { ViewRunner } from '../../operators/task/view-runner.ts'
import { EVENTS, KEYS, itemOf, keyNames, keyOf, priceOf, source, timeOf, view } from './operator-workload.ts'

const check = process.env.KFS_KEY_ORDER_CHECK === '1'
const chunk = Number(process.env.KFS_KEY_ORDER_CHUNK ?? EVENTS)
const rounds = Number(process.env.KFS_KEY_ORDER_ROUNDS ?? 1)

// The watermark before each event and its late flag, as the partition task judges them.
const watermarkBefore = new Float64Array(EVENTS)
const late = new Uint8Array(EVENTS)
let watermark = -Infinity
for (let i = 0; i < EVENTS; i++) {
  watermarkBefore[i] = watermark
  const t = timeOf[i] as number
  if (t <= watermark - source.allowedLatenessMs) late[i] = 1
  else if (t - source.outOfOrdernessMs > watermark) watermark = t - source.outOfOrdernessMs
}
const finalWatermark = watermark

// Event indexes grouped by key within each chunk, arrival order kept within a key.
const order = new Int32Array(EVENTS)
for (let from = 0; from < EVENTS; from += chunk) {
  const to = Math.min(EVENTS, from + chunk)
  const counts = new Int32Array(KEYS + 1)
  for (let i = from; i < to; i++) (counts[(keyOf[i] as number) + 1] as number)++
  for (let k = 0; k < KEYS; k++) counts[k + 1] = (counts[k + 1] as number) + (counts[k] as number)
  for (let i = from; i < to; i++) order[from + (counts[keyOf[i] as number] as number)++] = i
}

const eventAt = (i: number) => ({
  user: keyNames[keyOf[i] as number] as string,
  ts: timeOf[i] as number,
  price: priceOf[i] as number,
  item: itemOf[i] as number,
})

type RowsByKey = Map<string, string[]>
function keep(byKey: RowsByKey | undefined, rows: readonly FeatureRow[]): void {
  if (byKey === undefined) return
  for (const row of rows) {
    let list = byKey.get(row.entityKey)
    if (list === undefined) byKey.set(row.entityKey, (list = []))
    list.push(`${row.asOfMs} ${JSON.stringify(row.values)}`)
  }
}

function arrivalOrder(byKey?: RowsByKey): { seconds: number; rows: number } {
  const task = createPartitionTask({ views: [view], source })
  let rows = 0
  const started = performance.now()
  for (let i = 0; i < EVENTS; i++) {
    const event = eventAt(i)
    const out = task.processEvent({ offset: String(i), eventTimeMs: event.ts, event }).rows[0] as FeatureRow[]
    rows += out.length
    keep(byKey, out)
  }
  return { seconds: (performance.now() - started) / 1000, rows }
}

function keyOrder(byKey?: RowsByKey): { seconds: number; rows: number } {
  const runner = new ViewRunner(planView(view, source), source.allowedLatenessMs)
  const out: FeatureRow[] = []
  const dead: never[] = []
  let rows = 0
  const started = performance.now()
  for (let n = 0; n < EVENTS; n++) {
    const i = order[n] as number
    if (late[i] === 1) continue
    runner.fire(watermarkBefore[i] as number, out)
    const event = eventAt(i)
    runner.processEvent(String(i), event.ts, event, out, dead)
    rows += out.length
    keep(byKey, out)
    out.length = 0
  }
  runner.fire(finalWatermark, out)
  rows += out.length
  keep(byKey, out)
  return { seconds: (performance.now() - started) / 1000, rows }
}

if (check) {
  const arrival: RowsByKey = new Map()
  const grouped: RowsByKey = new Map()
  const a = arrivalOrder(arrival)
  const b = keyOrder(grouped)
  let differing = 0
  for (const [key, rows] of arrival) if (JSON.stringify(rows) !== JSON.stringify(grouped.get(key) ?? [])) differing++
  if (arrival.size === 0) throw new Error('checked nothing: arrival order emitted no rows')
  console.log(
    `key-order check events=${EVENTS} chunk=${chunk} rows_arrival=${a.rows} rows_grouped=${b.rows} keys=${arrival.size} keys_differing=${differing}`,
  )
  if (differing > 0 || a.rows !== b.rows) process.exitCode = 1
} else {
  // Later rounds run with the JIT warm; at small scales (KFS_BENCH_SCALE=0.01: 10,000 keys whose
  // state fits the L3 cache) the grouped rate is the operators' own compute, without memory stalls.
  for (let round = 0; round < rounds; round++) {
    const a = arrivalOrder()
    const b = keyOrder()
    const same = a.rows === b.rows ? '' : ' (rows differ: not exact)'
    console.log(
      `key-order keys=${KEYS} events=${EVENTS} chunk=${chunk} round=${round} arrival_events_per_s=${Math.round(EVENTS / a.seconds)} grouped_events_per_s=${Math.round(EVENTS / b.seconds)} speedup=${(a.seconds / b.seconds).toFixed(2)} rows=${a.rows}/${b.rows}${same}`,
    )
  }
}
