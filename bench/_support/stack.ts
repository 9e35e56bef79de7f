/**
 * The real local stack for the engine benchmarks: the one the environment names (KFS_KAFKA_BROKERS
 * and the rest, as `. .kfs/stack/env.sh` or scripts/test-all.sh export them), else reuses a running
 * one (endpoints from this checkout's `.kfs/stack/env.sh`), or starts it with `scripts/stack/up.sh` and, at the end, stops only what it
 * started (`scripts/stack/down.sh` stops the whole stack, so it is called only when this run started it).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { progress } from './report.ts'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ENV_FILE = `${ROOT}.kfs/stack/env.sh`

export interface StackEndpoints {
  readonly kafkaBrokers: string[]
  readonly registryUrl: string
  readonly redisUrl: string
  readonly s3: { readonly endpoint: string; readonly bucket: string; readonly region: string; readonly accessKeyId: string; readonly secretAccessKey: string }
}

export interface Stack extends StackEndpoints {
  /** Stops the stack if this process started it; a no-op otherwise. */
  release(): void
}

function readEnvFile(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const m = /^export (KFS_[A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (m) out[m[1]!] = m[2]!
  }
  return out
}

function endpointsOf(env: Record<string, string | undefined>): StackEndpoints {
  const need = (k: string) => {
    const v = env[k]
    if (!v) throw new Error(`${ENV_FILE} has no ${k}`)
    return v
  }
  return {
    kafkaBrokers: need('KFS_KAFKA_BROKERS').split(','),
    registryUrl: need('KFS_SCHEMA_REGISTRY_URL'),
    redisUrl: need('KFS_REDIS_URL'),
    s3: {
      endpoint: need('KFS_S3_ENDPOINT'),
      bucket: need('KFS_S3_BUCKET'),
      region: env.KFS_S3_REGION ?? 'us-east-1',
      accessKeyId: env.KFS_S3_ACCESS_KEY_ID ?? 'minioadmin',
      secretAccessKey: env.KFS_S3_SECRET_ACCESS_KEY ?? 'minioadmin',
    },
  }
}

/**
 * CPU time (user + system, ms) the stack's Kafka broker has used so far, from /proc; undefined
 * where that cannot be read (no pid file, another OS).
 */
export function brokerCpuMs(): number | undefined {
  try {
    return procCpuMs(`/proc/${readFileSync(`${ROOT}.kfs/stack/kafka.pid`, 'utf8').trim()}/stat`)
  } catch {
    return undefined
  }
}

/** CPU time (ms) of this process's main thread so far (workers and GC helper threads left out); undefined off Linux. */
export function mainThreadCpuMs(): number | undefined {
  try {
    return procCpuMs(`/proc/self/task/${process.pid}/stat`)
  } catch {
    return undefined
  }
}

/** CPU time (ms, all threads) of process `pid` so far; undefined off Linux or once it has exited. */
export function processCpuMs(pid: number | undefined): number | undefined {
  try {
    return pid === undefined ? undefined : procCpuMs(`/proc/${pid}/stat`)
  } catch {
    return undefined
  }
}

/** utime + stime of a /proc `stat` file, in ms. */
function procCpuMs(statPath: string): number | undefined {
  const stat = readFileSync(statPath, 'utf8')
  // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  // Linux reports clock ticks of 1/100 s (USER_HZ) on every architecture Node supports.
  return Number.isFinite(ticks) ? ticks * 10 : undefined
}

export function isListening(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host)
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

function hostPort(text: string): [string, number] {
  const u = new URL(text.includes('://') ? text : `tcp://${text}`)
  return [u.hostname, Number(u.port)]
}

async function allUp(e: StackEndpoints): Promise<boolean> {
  const targets = [hostPort(e.kafkaBrokers[0]!), hostPort(e.registryUrl), hostPort(e.redisUrl), hostPort(e.s3.endpoint)]
  const results = await Promise.all(targets.map(([h, p]) => isListening(h, p)))
  return results.every(Boolean)
}

/** What names a stack in the environment (test/support/stack-env.ts asks the integration tests for the same). */
const STACK_VARIABLES = ['KFS_KAFKA_BROKERS', 'KFS_SCHEMA_REGISTRY_URL', 'KFS_REDIS_URL', 'KFS_S3_ENDPOINT', 'KFS_S3_BUCKET'] as const

export async function ensureStack(): Promise<Stack> {
  // A stack named in the environment is the one to use, and it is never replaced: a bench run by
  // the test suite (or from another worktree) must not start a second stack beside it.
  if (STACK_VARIABLES.every((name) => process.env[name])) {
    const endpoints = endpointsOf(process.env)
    if (!(await allUp(endpoints))) throw new Error(`the stack the environment names (KFS_KAFKA_BROKERS=${process.env.KFS_KAFKA_BROKERS}, …) is not answering: start it, or unset those variables`)
    progress('using the stack the environment names (KFS_KAFKA_BROKERS, …)')
    return { ...endpoints, release: () => {} }
  }
  if (existsSync(ENV_FILE)) {
    const endpoints = endpointsOf(readEnvFile())
    if (await allUp(endpoints)) {
      progress('using the running stack (.kfs/stack/env.sh)')
      return { ...endpoints, release: () => {} }
    }
  }
  progress('stack not running: scripts/stack/up.sh')
  const up = spawnSync('bash', ['scripts/stack/up.sh'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
  if (up.status !== 0) throw new Error(`scripts/stack/up.sh exited ${up.status}`)
  const endpoints = endpointsOf(readEnvFile())
  return {
    ...endpoints,
    release: () => {
      progress('stopping the stack this run started: scripts/stack/down.sh')
      spawnSync('bash', ['scripts/stack/down.sh'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
    },
  }
}
