/**
 * Produce → visible latency from two logs: what the producer sent (key, event time, wall time) and
 * what the observer saw land (key, as_of, wall time). An event is visible when the first row of its
 * key with as_of ≥ its event time arrives — that row is its own, or a later one that subsumed it
 * (the online store coalesces a batch's rows per key, so not every event's row is published).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { progress } from './report.ts'

/** Wall-clock time with sub-millisecond resolution, comparable across processes on one host. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now()
}

export interface SentLog {
  keys: string[]
  ts: number[]
  sentAtMs: number[]
}

export interface SeenLog {
  keys: string[]
  asOfMs: number[]
  seenAtMs: number[]
}

export function newSeenLog(): SeenLog {
  return { keys: [], asOfMs: [], seenAtMs: [] }
}

export function recordSeen(log: SeenLog, key: string, asOfMs: number): void {
  log.keys.push(key)
  log.asOfMs.push(asOfMs)
  log.seenAtMs.push(wallMs())
}

/** Latencies (ms) of the events sent at or after `fromMs`, and how many were never seen. */
export function visibilityLatencies(sent: SentLog, seen: SeenLog, fromMs: number): { latencies: number[]; missing: number } {
  const byKey = new Map<string, number[]>()
  seen.keys.forEach((k, i) => (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(i))
  const cursor = new Map<string, number>()
  const latencies: number[] = []
  let missing = 0
  // Events of a key were sent in increasing event time, and its rows land in increasing as_of,
  // so one forward cursor per key finds each event's first covering row.
  for (let i = 0; i < sent.keys.length; i++) {
    const key = sent.keys[i]!
    const rows = byKey.get(key) ?? []
    let c = cursor.get(key) ?? 0
    while (c < rows.length && seen.asOfMs[rows[c]!]! < sent.ts[i]!) c++
    cursor.set(key, c)
    if (sent.sentAtMs[i]! < fromMs) continue
    if (c >= rows.length) missing++
    else latencies.push(Math.max(0, seen.seenAtMs[rows[c]!]! - sent.sentAtMs[i]!))
  }
  return { latencies, missing }
}

const PRODUCER = fileURLToPath(new URL('./steady-producer.ts', import.meta.url))
const OBSERVER = fileURLToPath(new URL('./change-observer.ts', import.meta.url))

/**
 * Starts the change-feed observer in a child process (change-observer.ts) and resolves once it is
 * subscribed; `stop()` ends it and returns what it saw land.
 */
export async function startChangeObserver(args: { redisUrl: string; run: string; outFile: string }): Promise<{ stop(): Promise<SeenLog> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', OBSERVER, args.redisUrl, args.run, args.outFile], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      out += chunk
      if (out.includes('ready')) resolve()
    })
    void exited.then((code) => reject(new Error(`change observer exited ${code} before subscribing`)))
  })
  return {
    async stop() {
      child.stdin.end()
      const code = await exited
      if (code !== 0) throw new Error(`change observer exited ${code}`)
      return JSON.parse(readFileSync(args.outFile, 'utf8')) as SeenLog
    },
  }
}

/** Runs the steady producer in a child process: what it sent, and (with `listenGroup`) when a raw consumer saw each record. */
export async function runSteadyProducer(args: {
  brokers: readonly string[]
  registryUrl: string
  topic: string
  rate: number
  seconds: number
  users: number
  outFile: string
  listenGroup?: string
  /** Called when the child exits, before its log is read (a parse of ~100 ms on this thread). */
  onExit?: () => void
}): Promise<{ sent: SentLog; arrived: SeenLog }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', PRODUCER, args.brokers.join(','), args.registryUrl, args.topic, String(args.rate), String(args.seconds), String(args.users), args.outFile, ...(args.listenGroup ? [args.listenGroup] : [])],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  )
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  args.onExit?.()
  if (code !== 0) throw new Error(`steady producer exited ${code}`)
  progress('producer done')
  return JSON.parse(readFileSync(args.outFile, 'utf8')) as { sent: SentLog; arrived: SeenLog }
}

/**
 * Latencies when the observer sees every event itself (a raw consumer): the n-th record of a key
 * is the n-th event sent with that key, since one key lives in one partition.
 */
export function arrivalLatencies(sent: SentLog, seen: Pick<SeenLog, 'keys' | 'seenAtMs'>, fromMs: number): { latencies: number[]; missing: number } {
  const arrivals = new Map<string, number[]>()
  seen.keys.forEach((k, i) => (arrivals.get(k) ?? arrivals.set(k, []).get(k)!).push(seen.seenAtMs[i]!))
  const nth = new Map<string, number>()
  const latencies: number[] = []
  let missing = 0
  for (let i = 0; i < sent.keys.length; i++) {
    const key = sent.keys[i]!
    const n = nth.get(key) ?? 0
    nth.set(key, n + 1)
    if (sent.sentAtMs[i]! < fromMs) continue
    const at = arrivals.get(key)?.[n]
    if (at === undefined) missing++
    else latencies.push(Math.max(0, at - sent.sentAtMs[i]!))
  }
  return { latencies, missing }
}
