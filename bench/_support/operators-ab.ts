/**
 * Same-process A/B of two versions of the operators (docs/performance.md, "How the changes were
 * measured"): both versions' partition tasks are fed the operators bench's events
 * (operator-workload.ts) in alternating slices of 50k, the version going first alternating too,
 * each timing only its own slices, so both see the same machine load. Prints the speed ratio
 * (new ÷ base), whether both emitted the same number of rows and ended with the same snapshot
 * bytes; KFS_AB_CHECK_ROWS=1 also compares every slice's rows (slow: use a small scale).
 * `cpu_ratio` is the same ratio in the process's CPU time (`process.cpuUsage`): on a loaded
 * machine the wall time of a slice also counts the time the process waited for a core, which
 * need not fall evenly on the two versions; the CPU time counts only what each one ran.
 *
 *   git archive <rev> operators features core package.json | tar -x -C /tmp/ab-base   (and /tmp/ab-new)
 *   KFS_AB_BASE=/tmp/ab-base KFS_AB_NEW=/tmp/ab-new KFS_BENCH_SCALE=0.2 \
 *     flock /tmp/kfs-bench.lock node --import tsx bench/_support/operators-ab.ts
 *
 * The package.json ("type": "module") matters: without it tsx compiles the trees as CommonJS,
 * whose import getters (a call per constant read in the hot loop) distort the timing.
 */
import { pathToFileURL } from 'node:url'
import type { createPartitionTask } from '../../operators/task/partition-task.ts'
import { EVENTS, itemOf, keyNames, keyOf, priceOf, scale, source, timeOf, view } from './operator-workload.ts'

const SLICE = 50_000

async function taskFrom(dir: string | undefined): Promise<ReturnType<typeof createPartitionTask>> {
  if (dir === undefined) throw new Error('set KFS_AB_BASE and KFS_AB_NEW to two extracted source trees')
  const mod = (await import(pathToFileURL(`${dir}/operators/task/partition-task.ts`).href)) as {
    createPartitionTask: typeof createPartitionTask
  }
  return mod.createPartitionTask({ views: [view], source })
}

const checkRows = process.env.KFS_AB_CHECK_ROWS === '1'
const tasks = [await taskFrom(process.env.KFS_AB_BASE), await taskFrom(process.env.KFS_AB_NEW)]
const secs = [0, 0]
const cpuSecs = [0, 0]
const rows = [0, 0]
for (let from = 0, s = 0; from < EVENTS; from += SLICE, s++) {
  const to = Math.min(EVENTS, from + SLICE)
  const seen: string[][] = [[], []]
  for (let r = 0; r < 2; r++) {
    const v = (s + r) % 2
    const task = tasks[v]!
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    let n = 0
    for (let i = from; i < to; i++) {
      const event = { user: keyNames[keyOf[i]!]!, ts: timeOf[i]!, price: priceOf[i]!, item: itemOf[i]! }
      const out = task.processEvent({ offset: String(i), eventTimeMs: event.ts, event })
      n += out.rows[0]!.length
      if (checkRows) seen[v]!.push(JSON.stringify(out.rows[0]))
    }
    secs[v]! += Number(process.hrtime.bigint() - t0) / 1e9
    const c = process.cpuUsage(c0)
    cpuSecs[v]! += (c.user + c.system) / 1e6
    rows[v]! += n
  }
  if (checkRows && seen[0]!.join('\n') !== seen[1]!.join('\n')) throw new Error(`the versions' rows differ in slice ${s}`)
}
const [a, b] = tasks.map((t) => Buffer.from(t.snapshot()))
console.log(
  `AB operators scale=${scale} base_s=${secs[0]!.toFixed(2)} new_s=${secs[1]!.toFixed(2)} ratio=${(secs[0]! / secs[1]!).toFixed(3)} cpu_ratio=${(cpuSecs[0]! / cpuSecs[1]!).toFixed(3)} rows=${rows[0]}/${rows[1]} snapshot_equal=${a!.equals(b!)}`,
)
