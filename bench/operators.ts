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
import { EVENTS, SPAN_MS, itemOf, keyNames, keyOf, priceOf, source, timeOf, view } from './_support/operator-workload.ts'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

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
