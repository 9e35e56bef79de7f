/**
 * The operators bench's events (operator-workload.ts) fed to one tree's partition task, as the
 * same-process A/B feeds each version (operators-ab.ts), KFS_PROFILE_ROUNDS times (a fresh task
 * each round, so later rounds run with the JIT warm): a driver for `node --cpu-prof` with nothing
 * else in the profile. Prints each round's events/s.
 *
 *   KFS_BENCH_SCALE=0.02 node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/_support/operators-profile.ts
 */
import { createPartitionTask } from '../../operators/task/partition-task.ts'
import { EVENTS, itemOf, keyNames, keyOf, priceOf, scale, source, timeOf, view } from './operator-workload.ts'

const rounds = Number(process.env.KFS_PROFILE_ROUNDS ?? 3)
for (let round = 0; round < rounds; round++) {
  const task = createPartitionTask({ views: [view], source })
  let rows = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < EVENTS; i++) {
    const event = { user: keyNames[keyOf[i]!]!, ts: timeOf[i]!, price: priceOf[i]!, item: itemOf[i]! }
    rows += task.processEvent({ offset: String(i), eventTimeMs: event.ts, event }).rows[0]!.length
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(`PROFILE operators scale=${scale} round=${round + 1} events_per_s=${Math.round(EVENTS / secs)} rows=${rows}`)
}
