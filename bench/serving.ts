/**
 * `npm run bench -- serving`: single-entity GET of 20 features over Redis, against the floor — a
 * minimal uWS server doing one raw-RESP HMGET per request — measured in the same run.
 *
 * Processes: redis-server (private, free port), the server under test, the floor server, and the
 * load generators (wrk for max req/s; a small open-loop generator in a child process for a fixed
 * rate, since Debian has no wrk2). Latency is measured from the moment a request is written; the
 * generator sends at the target rate whatever the server does (pipelining on each connection), so
 * a server that falls behind shows up as queueing, not as a lower rate.
 *
 * This file also hosts the child roles (`server`, `floor`, `loadgen`) and helpers that
 * bench/serving-batch.ts reuses.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect, createServer as createNetServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FeatureViewDef, StampedRow } from '../operators/define/types.ts'

const SELF = fileURLToPath(import.meta.url)
export const ENTITIES = 100_000
export const FEATURES = 20

export function benchView(): FeatureViewDef {
  return {
    kind: 'featureView',
    name: 'bench_stats',
    version: 1,
    entity: { kind: 'entity', name: 'user', joinKeys: ['user_id'], keyType: 'string', description: '' },
    source: {
      kind: 'source',
      name: 'clicks',
      topic: 'clicks',
      schema: { type: 'record', name: 'Click', fields: [] },
      eventTimeField: 'ts',
      keyedBy: 'user',
      partitions: 1,
      outOfOrdernessMs: 0,
      allowedLatenessMs: 0,
      idleTimeoutMs: 60_000,
      description: '',
    },
    filter: undefined,
    map: undefined,
    features: Array.from({ length: FEATURES }, (_, i) => ({
      name: `f${i}`,
      type: 'double' as const,
      aggregation: { name: `f${i}`, op: 'sum' as const, field: 'x', windowMs: 3_600_000, hopMs: 60_000, n: undefined, quantile: undefined },
    })),
    ttlMs: 7 * 86_400_000,
    owner: 'bench',
    description: 'benchmark view',
    tags: {},
    freshnessSlaMs: 60_000,
    online: true,
    offline: false,
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers for the parent process.

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

function ensureTool(bin: string, pkg: string): void {
  if (spawnSync('which', [bin]).status === 0) return
  console.error(`${bin} missing: apt-get install -y ${pkg}`)
  const r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`cannot install ${pkg}`)
}

export async function startRedis(): Promise<{ port: number; stop(): void }> {
  ensureTool('redis-server', 'redis-server')
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().includes('PONG')) return { port, stop: () => child.kill('SIGKILL') }
    await sleep(100)
  }
  child.kill('SIGKILL')
  throw new Error('redis-server did not start')
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Starts a child role of this file and resolves once it prints `READY <port>`. */
export function spawnRole(role: string, args: readonly string[]): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, role, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /READY (\d+)/.exec(out)
      if (m) resolve({ port: Number(m[1]), child })
    })
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)))
  })
}

/** Runs a child role to completion and returns the JSON it prints last. */
export function runRole<T>(role: string, args: readonly string[]): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, role, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${role} exited with ${code}`))
      const lines = out.trim().split('\n')
      resolve(JSON.parse(lines[lines.length - 1]!) as T)
    })
  })
}

export async function populate(redisPort: number, count = ENTITIES): Promise<{ rowsPerSec: number; rowsPerSecNoPublish: number }> {
  const { RedisOnlineStore } = await import('../sinks/redis/redis-online-store.ts')
  const view = benchView()
  const now = Date.now()
  const makeRows = (from: number, to: number, asOf: number): StampedRow[] => {
    const rows: StampedRow[] = []
    for (let i = from; i < to; i++) rows.push({ entityKey: `u${i}`, asOfMs: asOf, createdAtMs: asOf, values: Array.from({ length: FEATURES }, (_, f) => i * 0.001 + f / 7) })
    return rows
  }
  const timeWrites = async (publish: boolean, asOf: number, from: number, to: number): Promise<number> => {
    const store = new RedisOnlineStore({ url: `redis://127.0.0.1:${redisPort}`, publish })
    await store.ready()
    const t0 = performance.now()
    for (let i = from; i < to; i += 1000) await store.writeRows(view, makeRows(i, Math.min(to, i + 1000), asOf))
    const secs = (performance.now() - t0) / 1000
    await store.close()
    return (to - from) / secs
  }
  // Both timings write fresh keys (disjoint ranges), so they differ only in PUBLISH.
  const split = Math.floor(count / 5)
  await timeWrites(true, now - 5000, 0, Math.min(2000, split)) // warm-up (JIT), not reported
  const rowsPerSecNoPublish = await timeWrites(false, now - 1000, 0, split)
  const rowsPerSec = await timeWrites(true, now - 1000, split, count)
  return { rowsPerSec, rowsPerSecNoPublish }
}

export interface WrkResult {
  rps: number
  p50Ms: number
  p99Ms: number
  non2xx: number
}

/** Max throughput: wrk, one thread, 50 connections, random entity per request. */
export function runWrk(port: number, seconds: number, lua: string): WrkResult {
  ensureTool('wrk', 'wrk')
  const script = join(tmpdir(), `kfs-bench-${process.pid}-${Math.random().toString(36).slice(2)}.lua`)
  writeFileSync(
    script,
    `${lua}
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %f %d\\n", summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end`,
  )
  const r = spawnSync('wrk', ['-t1', '-c50', `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}`], { encoding: 'utf8' })
  const m = /RESULT (\S+) (\S+) (\S+) (\d+)/.exec(r.stdout)
  if (!m) throw new Error(`wrk failed: ${r.stdout} ${r.stderr}`)
  return { rps: Number(m[1]), p50Ms: Number(m[2]), p99Ms: Number(m[3]), non2xx: Number(m[4]) }
}

export const GET_LUA = `math.randomseed(42)
request = function() return wrk.format("GET", "/v1/features/bench_stats/u" .. math.random(0, ${ENTITIES - 1})) end`

export interface RateResult {
  sent: number
  ok: number
  errors: number
  achievedRps: number
  p50Ms: number
  p99Ms: number
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

// ---------------------------------------------------------------------------------------------
// Child roles.

/**
 * Open-loop load at a fixed rate: args port rate seconds connections kind(get|batch).
 * One request in flight per connection (as real keep-alive clients do; uWS closes connections
 * that pipeline behind an unanswered async response). A request due while every connection is
 * busy waits in a backlog, and its latency counts from when it was due (no coordinated omission).
 */
async function loadgen(port: number, rate: number, seconds: number, connections: number, kind: string): Promise<RateResult> {
  const makeRequest = kind === 'batch' ? makeBatchRequest : makeGetRequest
  interface Conn {
    socket: Socket
    dueAt: number
    measured: boolean
    busy: boolean
    buf: Buffer
  }
  const idle: Conn[] = []
  const backlog: { dueAt: number; i: number; measured: boolean }[] = []
  const latencies = new Float64Array(Math.ceil(rate * seconds * 1.2) + 16)
  let done = 0
  let ok = 0
  let errors = 0
  let inflight = 0
  let warm = true
  const send = (conn: Conn, dueAt: number, i: number, measured: boolean): void => {
    conn.busy = true
    conn.dueAt = dueAt
    conn.measured = measured
    inflight++
    conn.socket.write(makeRequest(i))
  }
  const all: Conn[] = []
  for (let c = 0; c < connections; c++) {
    const socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    await new Promise((resolve) => socket.once('connect', resolve))
    const conn: Conn = { socket, dueAt: 0, measured: false, busy: false, buf: Buffer.alloc(0) }
    socket.on('close', () => {
      if (conn.busy) errors++
    })
    socket.on('data', (chunk: Buffer) => {
      conn.buf = conn.buf.length ? Buffer.concat([conn.buf, chunk]) : chunk
      const headEnd = conn.buf.indexOf('\r\n\r\n')
      if (headEnd === -1) return
      const head = conn.buf.subarray(0, headEnd).toString('latin1')
      const m = /content-length: *(\d+)/i.exec(head)
      const total = headEnd + 4 + (m ? Number(m[1]) : 0)
      if (conn.buf.length < total) return
      conn.buf = conn.buf.subarray(total)
      conn.busy = false
      inflight--
      // Only requests sent during the measured phase count, whenever their response arrives.
      if (conn.measured) {
        if (head.startsWith('HTTP/1.1 200')) ok++
        else errors++
        if (done < latencies.length) latencies[done++] = performance.now() - conn.dueAt
      }
      const next = backlog.shift()
      if (next) send(conn, next.dueAt, next.i, next.measured)
      else idle.push(conn)
    })
    all.push(conn)
    idle.push(conn)
  }
  const run = async (durationS: number): Promise<number> => {
    const t0 = performance.now()
    let sent = 0
    while (performance.now() - t0 < durationS * 1000) {
      const now = performance.now()
      const due = Math.floor(((now - t0) / 1000) * rate) - sent
      for (let k = 0; k < due; k++) {
        const conn = idle.pop()
        if (conn) send(conn, now, sent, !warm)
        else backlog.push({ dueAt: now, i: sent, measured: !warm })
        sent++
      }
      await sleep(1)
    }
    while ((inflight > 0 || backlog.length > 0) && performance.now() - t0 < (durationS + 10) * 1000) await sleep(5)
    return sent
  }
  await run(Math.min(2, seconds / 4))
  warm = false
  const t0 = performance.now()
  const sent = await run(seconds)
  const elapsed = (performance.now() - t0) / 1000
  for (const c of all) c.socket.destroy()
  const sorted = latencies.subarray(0, done).sort()
  return { sent, ok, errors, achievedRps: done / elapsed, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) }
}

export const BATCH = 100
const BATCH_VARIANTS = 64

/** A batch of 100 entities × all 20 features (variant picks the entities). */
export function batchBody(variant: number): string {
  const ids = Array.from({ length: BATCH }, (_, i) => `u${(variant * 7919 + i * 104_729) % ENTITIES}`)
  return JSON.stringify({ entities: { user_id: ids }, features: Array.from({ length: FEATURES }, (_, f) => `bench_stats:f${f}`) })
}

let batchRequests: string[] | undefined

function makeBatchRequest(i: number): string {
  batchRequests ??= Array.from({ length: BATCH_VARIANTS }, (_, v) => {
    const b = batchBody(v)
    return `POST /v1/features HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`
  })
  return batchRequests[i % BATCH_VARIANTS]!
}

export function makeGetRequest(i: number): string {
  return `GET /v1/features/bench_stats/u${(i * 7919) % ENTITIES} HTTP/1.1\r\nHost: b\r\n\r\n`
}

async function serverRole(redisPort: number): Promise<void> {
  const { RedisOnlineStore } = await import('../sinks/redis/redis-online-store.ts')
  const { createServer } = await import('../serving/server/index.ts')
  const store = new RedisOnlineStore({ url: `redis://127.0.0.1:${redisPort}` })
  await store.ready()
  const server = createServer({ store, views: [benchView()], options: { maxLookups: 1000 } })
  const port = await server.listen(0)
  console.log(`READY ${port}`)
}

/** A minimal RESP client: one connection, pipelined, FIFO replies (arrays of bulk strings). */
export function rawRedis(port: number): { hmget(args: readonly string[], cb: (reply: (string | null)[]) => void): void; cork(): void; uncork(): void } {
  const socket = connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  const queue: ((reply: (string | null)[]) => void)[] = []
  let buf: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
    for (;;) {
      let pos = buf.indexOf('\r\n')
      if (pos === -1 || buf[0] !== 0x2a) return
      const n = Number(buf.subarray(1, pos).toString('latin1'))
      pos += 2
      const out: (string | null)[] = []
      for (let i = 0; i < n; i++) {
        const end = buf.indexOf('\r\n', pos)
        if (end === -1) return
        const len = Number(buf.subarray(pos + 1, end).toString('latin1'))
        if (len < 0) {
          out.push(null)
          pos = end + 2
        } else {
          if (buf.length < end + 2 + len + 2) return
          out.push(buf.subarray(end + 2, end + 2 + len).toString('utf8'))
          pos = end + 2 + len + 2
        }
      }
      buf = buf.subarray(pos)
      queue.shift()!(out)
    }
  })
  return {
    hmget(args, cb) {
      let cmd = `*${args.length + 1}\r\n$5\r\nHMGET\r\n`
      for (const a of args) cmd += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
      queue.push(cb)
      socket.write(cmd)
    },
    cork: () => socket.cork(),
    uncork: () => socket.uncork(),
  }
}

async function floorRole(redisPort: number): Promise<void> {
  const { default: uWS } = await import('uWebSockets.js')
  const redis = rawRedis(redisPort)
  const fields = ['@as_of', ...benchView().features.map((f) => f.name)]
  const app = uWS.App()
  app.get('/v1/features/:view/:key', (res, req) => {
    let aborted = false
    res.onAborted(() => (aborted = true))
    const key = `kfs:${req.getParameter(0)}:1:{${req.getParameter(1)}}`
    redis.hmget([key, ...fields], (reply) => {
      if (aborted) return
      res.cork(() => res.writeHeader('content-type', 'application/json').end(JSON.stringify(reply)))
    })
  })
  app.post('/v1/features', (res) => {
    let aborted = false
    res.onAborted(() => (aborted = true))
    const chunks: Buffer[] = []
    res.onData((chunk, isLast) => {
      chunks.push(Buffer.from(new Uint8Array(chunk)))
      if (!isLast) return
      const ids = (JSON.parse(Buffer.concat(chunks).toString()) as { entities: { user_id: string[] } }).entities.user_id
      const out: (string | null)[][] = []
      redis.cork()
      for (const id of ids) {
        redis.hmget([`kfs:bench_stats:1:{${id}}`, ...fields], (reply) => {
          out.push(reply)
          if (out.length === ids.length && !aborted) res.cork(() => res.writeHeader('content-type', 'application/json').end(JSON.stringify(out)))
        })
      }
      redis.uncork()
    })
  })
  app.listen('127.0.0.1', 0, (socket) => {
    if (!socket) throw new Error('floor cannot listen')
    console.log(`READY ${uWS.us_socket_local_port(socket as unknown as import('uWebSockets.js').us_socket)}`)
  })
}

// ---------------------------------------------------------------------------------------------

/** `npm run bench -- serving [--rate=N]`: the fixed rate defaults to 20,000 req/s. */
async function main(): Promise<void> {
  const rateArg = process.argv.find((a) => a.startsWith('--rate='))
  const rate = rateArg ? Number(rateArg.slice(7)) : 20_000
  const redis = await startRedis()
  const children: ChildProcess[] = []
  try {
    const writes = await populate(redis.port)
    const server = await spawnRole('server', [String(redis.port)])
    const floor = await spawnRole('floor', [String(redis.port)])
    children.push(server.child, floor.child)
    const fixed = await runRole<RateResult>('loadgen', [String(server.port), String(rate), '10', '64', 'get'])
    console.error(`fixed-rate run: ${JSON.stringify(fixed)}`)
    // The floor at the same fixed rate: what this machine (server, Redis and load generator on
    // the same cores) allows any server's tail latency to be.
    const floorFixed = await runRole<RateResult>('loadgen', [String(floor.port), String(rate), '10', '64', 'get'])
    console.error(`floor fixed-rate run: ${JSON.stringify(floorFixed)}`)
    runWrk(server.port, 2, GET_LUA) // warm-up for the max-throughput runs
    runWrk(floor.port, 2, GET_LUA)
    const serverMax = runWrk(server.port, 10, GET_LUA)
    const floorMax = runWrk(floor.port, 10, GET_LUA)
    if (serverMax.non2xx > 0 || fixed.errors > 0 || floorFixed.errors > 0) throw new Error(`errors during the run: wrk non-2xx ${serverMax.non2xx}, fixed-rate errors ${fixed.errors}, floor fixed-rate errors ${floorFixed.errors}`)
    const f = (x: number, d = 3) => x.toFixed(d)
    console.error(
      `fixed rate ${rate}/s: achieved ${f(fixed.achievedRps, 0)}/s p50 ${f(fixed.p50Ms)} ms p99 ${f(fixed.p99Ms)} ms; wrk max: kfs ${f(serverMax.rps, 0)}/s (p50 ${f(serverMax.p50Ms)} p99 ${f(serverMax.p99Ms)} ms), floor ${f(floorMax.rps, 0)}/s (p50 ${f(floorMax.p50Ms)} p99 ${f(floorMax.p99Ms)} ms); online writes ${f(writes.rowsPerSec, 0)} rows/s with publish, ${f(writes.rowsPerSecNoPublish, 0)} without`,
    )
    console.log(
      `BENCH serving rate=${rate} p50_ms=${f(fixed.p50Ms)} p99_ms=${f(fixed.p99Ms)} achieved_rps=${f(fixed.achievedRps, 0)} floor_p50_ms=${f(floorFixed.p50Ms)} floor_p99_ms=${f(floorFixed.p99Ms)} max_rps=${f(serverMax.rps, 0)} floor_max_rps=${f(floorMax.rps, 0)} ratio=${f(serverMax.rps / floorMax.rps)} write_rows_s=${f(writes.rowsPerSec, 0)} write_rows_s_nopublish=${f(writes.rowsPerSecNoPublish, 0)}`,
    )
  } finally {
    for (const c of children) c.kill('SIGKILL')
    redis.stop()
  }
}

const role = process.argv[2]
const numArgs = process.argv.slice(3).map(Number)
if (role === 'serving') await main()
else if (role === 'server') await serverRole(numArgs[0]!)
else if (role === 'floor') await floorRole(numArgs[0]!)
else if (role === 'loadgen') console.log(JSON.stringify(await loadgen(numArgs[0]!, numArgs[1]!, numArgs[2]!, numArgs[3]!, process.argv[7]!)))
