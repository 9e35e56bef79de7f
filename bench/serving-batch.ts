/**
 * `npm run bench -- serving-batch`: POST /v1/features for 100 entities × 20 features (one
 * pipelined Redis round trip per request), at a fixed 200 req/s (20k lookups/s) and at max
 * throughput, against the floor (uWS + raw RESP client pipelining the same 100 HMGETs) in the
 * same run. Processes and load generators as in bench/serving.ts.
 */
import type { ChildProcess } from 'node:child_process'
import { ENTITIES, FEATURES, populate, runRole, runWrk, spawnRole, startRedis, type RateResult } from './serving.ts'

const BATCH = 100
const RATE = 200
const VARIANTS = 64

function body(variant: number): string {
  const ids = Array.from({ length: BATCH }, (_, i) => `u${(variant * 7919 + i * 104_729) % ENTITIES}`)
  return JSON.stringify({ entities: { user_id: ids }, features: Array.from({ length: FEATURES }, (_, f) => `bench_stats:f${f}`) })
}

const requests = Array.from({ length: VARIANTS }, (_, v) => {
  const b = body(v)
  return `POST /v1/features HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`
})

export function makeRequest(i: number): string {
  return requests[i % VARIANTS]!
}

const POST_LUA = `local bodies = { ${Array.from({ length: 8 }, (_, v) => JSON.stringify(body(v))).join(', ')} }
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/features", { ["Content-Type"] = "application/json" }, bodies[(n % 8) + 1])
end`

async function main(): Promise<void> {
  const redis = await startRedis()
  const children: ChildProcess[] = []
  try {
    await populate(redis.port)
    const server = await spawnRole('server', [String(redis.port)])
    const floor = await spawnRole('floor', [String(redis.port)])
    children.push(server.child, floor.child)
    runWrk(server.port, 2, POST_LUA)
    runWrk(floor.port, 2, POST_LUA)
    const kfs = await runRole<RateResult>('loadgen', [String(server.port), String(RATE), '10', '8', 'batch'])
    const base = await runRole<RateResult>('loadgen', [String(floor.port), String(RATE), '10', '8', 'batch'])
    const kfsMax = runWrk(server.port, 8, POST_LUA)
    const floorMax = runWrk(floor.port, 8, POST_LUA)
    if (kfs.errors > 0 || kfsMax.non2xx > 0) throw new Error(`errors during the run: ${kfs.errors} fixed-rate, ${kfsMax.non2xx} wrk`)
    const f = (x: number, d = 3) => x.toFixed(d)
    console.error(
      `fixed ${RATE}/s: kfs p50 ${f(kfs.p50Ms)} p99 ${f(kfs.p99Ms)} ms, floor p50 ${f(base.p50Ms)} p99 ${f(base.p99Ms)} ms; max: kfs ${f(kfsMax.rps, 0)}/s, floor ${f(floorMax.rps, 0)}/s`,
    )
    console.log(
      `BENCH serving-batch p50_ms=${f(kfs.p50Ms)} p99_ms=${f(kfs.p99Ms)} floor_p50_ms=${f(base.p50Ms)} floor_p99_ms=${f(base.p99Ms)} max_rps=${f(kfsMax.rps, 0)} floor_max_rps=${f(floorMax.rps, 0)} ratio=${f(kfsMax.rps / floorMax.rps)}`,
    )
  } finally {
    for (const c of children) c.kill('SIGKILL')
    redis.stop()
  }
}

if (process.argv[2] === 'serving-batch') await main()
