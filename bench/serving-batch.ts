/**
 * `npm run bench -- serving-batch`: POST /v1/features for 100 entities × 20 features (one
 * Redis round trip per request), at a fixed rate (default 50 req/s = 5k lookups/s) and at max
 * throughput, against the floor (uWS + raw RESP client pipelining the same 100 HMGETs, no validation,
 * no decoding) in the same run. Processes and load generators as in bench/serving.ts.
 */
import type { ChildProcess } from 'node:child_process'
import { batchBody, perRequestUs, populate, runRole, runWrk, spawnRole, startRedis, WARMUP_S, type RateResult } from './serving.ts'
import { abba, combineRate, combineWrk, CpuTally } from './_support/interleaved.ts'
import { scaledSeconds, scaledWholeSeconds } from './_support/scale.ts'

const POST_LUA = `local bodies = { ${Array.from({ length: 8 }, (_, v) => JSON.stringify(batchBody(v))).join(', ')} }
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/features", { ["Content-Type"] = "application/json" }, bodies[(n % 8) + 1])
end`

/** The fixed-rate rounds and wrk's max-rate rounds (whole seconds), × KFS_BENCH_SCALE. */
const FIXED_ROUND_S = scaledSeconds(5, 0.5)
const MAX_ROUND_S = scaledWholeSeconds(4)

/** `npm run bench -- serving-batch [--rate=N]`: fixed rate in batch requests/s, default 50. */
async function main(): Promise<void> {
  const rateArg = process.argv.find((a) => a.startsWith('--rate='))
  const RATE = rateArg ? Number(rateArg.slice(7)) : 50
  const redis = await startRedis()
  const children: ChildProcess[] = []
  try {
    await populate(redis.port)
    const server = await spawnRole('server', [String(redis.port)], children)
    const floor = await spawnRole('floor', [String(redis.port)], children)
    runWrk(server.port, WARMUP_S, POST_LUA)
    runWrk(floor.port, WARMUP_S, POST_LUA)
    // A B B A halves (_support/interleaved.ts): the server and the floor share the machine's drift.
    const fixedRound = (port: number) => () => runRole<RateResult>('loadgen', [String(port), String(RATE), String(FIXED_ROUND_S), '8', 'batch'])
    const fixedRounds = await abba(fixedRound(server.port), fixedRound(floor.port))
    const kfs = combineRate(fixedRounds.a)
    const base = combineRate(fixedRounds.b)
    // CPU per request of each server over its max-throughput rounds (/proc, all threads): the
    // steadier A/B measure of a server's own cost when other work shares the cores.
    const cpu = new CpuTally()
    const maxRound = (target: { port: number; child: ChildProcess }) => () => cpu.around(target.child.pid, () => runWrk(target.port, MAX_ROUND_S, POST_LUA))
    const maxRounds = await abba(maxRound(server), maxRound(floor))
    const kfsMax = combineWrk(maxRounds.a)
    const floorMax = combineWrk(maxRounds.b)
    const cpuUsPerReq = perRequestUs(0, cpu.ms(server.child.pid), kfsMax.requests)
    const floorCpuUsPerReq = perRequestUs(0, cpu.ms(floor.child.pid), floorMax.requests)
    console.error(`max rounds (kfs, floor, floor, kfs): ${[maxRounds.a[0], maxRounds.b[0], maxRounds.b[1], maxRounds.a[1]].map((r) => r.rps.toFixed(0)).join(', ')} req/s`)
    if (kfs.errors > 0 || kfsMax.non2xx > 0) throw new Error(`errors during the run: ${kfs.errors} fixed-rate, ${kfsMax.non2xx} wrk`)
    const f = (x: number, d = 3) => x.toFixed(d)
    console.error(
      `fixed ${RATE}/s: kfs p50 ${f(kfs.p50Ms)} p99 ${f(kfs.p99Ms)} ms, floor p50 ${f(base.p50Ms)} p99 ${f(base.p99Ms)} ms; max: kfs ${f(kfsMax.rps, 0)}/s, floor ${f(floorMax.rps, 0)}/s`,
    )
    console.log(
      `BENCH serving-batch rate=${RATE} p50_ms=${f(kfs.p50Ms)} p99_ms=${f(kfs.p99Ms)} floor_p50_ms=${f(base.p50Ms)} floor_p99_ms=${f(base.p99Ms)} max_rps=${f(kfsMax.rps, 0)} floor_max_rps=${f(floorMax.rps, 0)} ratio=${f(kfsMax.rps / floorMax.rps)} cpu_us_per_req=${f(cpuUsPerReq, 0)} floor_cpu_us_per_req=${f(floorCpuUsPerReq, 0)}`,
    )
  } finally {
    // SIGTERM: the server role exits cleanly on it, so KFS_BENCH_SERVER_PROFILE gets its profile.
    for (const c of children) c.kill('SIGTERM')
    redis.stop()
  }
}

if (process.argv[2] === 'serving-batch') await main()
