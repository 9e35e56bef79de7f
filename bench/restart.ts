/**
 * `npm run bench -- restart`: how long a `kfs run` killed with SIGKILL takes to write again once
 * restarted at once (issue #20 item 2).
 *
 * On the real stack, a run-scoped purchases topic (4 partitions) holds a backlog of
 * KFS_BENCH_RESTART_EVENTS events (default 150,000). For each case, under a consumer group and a
 * store (S3 prefix, data dir) of its own (so each starts on the same backlog, and no case's group
 * finds the topic claimed by another's): `kfs run` as a child process until its /metrics show
 * KFS_BENCH_RESTART_AFTER records consumed (default 10,000), then it is stopped and a new `kfs run`
 * is started straight away. KFS_BENCH_SCALE scales the backlog, the restart point and both
 * session timeouts (never below the broker's 6 s floor). Measured: from spawning the new process to its first row emitted
 * (`kfs_emitted_rows_total` > 0 on its /metrics, polled every 20 ms) — process start, joining the
 * group, restoring the checkpoint and the first batch included.
 * - killed, KFS_KAFKA_SESSION_TIMEOUT_MS = the new default (10 s);
 * - killed, the old default (kafkajs's 30 s);
 * - baseline, same run: stopped with SIGTERM (the member leaves the group, so nothing waits for a
 *   session to expire): the floor of a restart on this machine.
 * Before each restart TOP_UP (1,000) new events are produced, so the successor always has rows to emit.
 *
 * BENCH restart restart_to_first_row_ms=… old_default_ms=… clean_restart_ms=… session_ms=… old_session_ms=… ratio=…
 * (ratio = restart_to_first_row_ms / old_default_ms)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_SESSION_TIMEOUT_MS } from '../main/config.ts'
import { createEncoder } from '../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { openBenchEventLog } from './_support/event-log.ts'
import { benchLine, envNumber, progress } from './_support/report.ts'
import { scaled } from './_support/scale.ts'
import { ensureStack, ROOT, type StackEndpoints } from './_support/stack.ts'
import { benchViews, newRunId } from './_support/views.ts'

// Under KFS_BENCH_SCALE the backlog stays well ahead of the restart point: a first process that
// consumed (and, stopped cleanly, checkpointed) all of it would leave its successor no row to emit.
const EVENTS = envNumber('KFS_BENCH_RESTART_EVENTS', scaled(150_000, 30_000))
const RESTART_AFTER = envNumber('KFS_BENCH_RESTART_AFTER', scaled(10_000, 1_000))
/** The broker's floor for a session timeout (group.min.session.timeout.ms, Kafka's default): no scale goes below it. */
const BROKER_MIN_SESSION_MS = 6_000
const SESSION_MS = scaled(DEFAULT_SESSION_TIMEOUT_MS, BROKER_MIN_SESSION_MS)
const OLD_SESSION_MS = scaled(30_000, BROKER_MIN_SESSION_MS)
const TIMEOUT_MS = 180_000
/** Events produced before each restart (./restart.ts measure). */
const TOP_UP = 1_000

const stack = await ensureStack()
const run = newRunId()
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-bench-restart-'))
const env = engineEnv(stack, run, dataDir)
const children = new Set<ChildProcess>()
const { source } = benchViews(run)
const producer = await openProducer(stack, source.topic, source.schema)
try {
  await producer.produce(EVENTS)

  const clean = await measure('clean', 'SIGTERM', SESSION_MS, producer.produce)
  const killed = await measure('killed', 'SIGKILL', SESSION_MS, producer.produce)
  const old = await measure('killed-old', 'SIGKILL', OLD_SESSION_MS, producer.produce)
  benchLine('restart', {
    restart_to_first_row_ms: killed,
    old_default_ms: old,
    clean_restart_ms: clean,
    session_ms: SESSION_MS,
    old_session_ms: OLD_SESSION_MS,
    ratio: killed / old,
  })
} finally {
  for (const child of children) child.kill('SIGKILL')
  await producer.close()
  rmSync(dataDir, { recursive: true, force: true })
  stack.release()
}

/** Runs a group to RESTART_AFTER records, stops it with `signal`, restarts; ms from spawn to first row. */
async function measure(
  name: string,
  signal: NodeJS.Signals,
  sessionTimeoutMs: number,
  produce: (count: number) => Promise<void>,
): Promise<number> {
  // Each case's group on a store of its own: one store lets one live group consume a topic (the
  // claim kfs run takes), and the cases' groups all read the one backlog topic.
  const caseDir = join(dataDir, name)
  mkdirSync(caseDir)
  const caseEnv = {
    ...env,
    KFS_S3_PREFIX: `bench/${run}/${name}`,
    KFS_DATA_DIR: caseDir,
    KFS_KAFKA_SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
  }
  await runToEnd(spawnKfs(['apply'], caseEnv))
  const args = ['run', '--group', `bench-restart-${name}-${run}`]
  const firstPort = await freePort()
  const first = spawnKfs(args, { ...caseEnv, KFS_METRICS_PORT: String(firstPort) })
  await waitForMetric(first, firstPort, 'kfs_consumed_records_total', RESTART_AFTER)
  first.kill(signal)
  if (signal !== 'SIGKILL') await runToEnd(first, true)
  // New events for the successor: a fast first process can consume (and, stopped cleanly,
  // checkpoint) the whole backlog between the metric poll and its stop, leaving no row to emit —
  // in CI at the smoke scale its successor waited out the bench's timeout. On the open connection.
  await produce(TOP_UP)
  const port = await freePort()
  const startedAt = performance.now()
  const second = spawnKfs(args, { ...caseEnv, KFS_METRICS_PORT: String(port) })
  await waitForMetric(second, port, 'kfs_emitted_rows_total', 1)
  const ms = performance.now() - startedAt
  progress(`${name} (${signal}, session ${sessionTimeoutMs} ms): first row ${ms.toFixed(0)} ms after the restart`)
  second.kill('SIGTERM')
  await runToEnd(second, true)
  return ms
}

function engineEnv(stack: StackEndpoints, run: string, dir: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    KFS_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    // The Kafka client under test (event-log.ts), passed on to the kfs processes.
    ...(process.env.KFS_KAFKA_CLIENT === undefined ? {} : { KFS_KAFKA_CLIENT: process.env.KFS_KAFKA_CLIENT }),
    KFS_SCHEMA_REGISTRY_URL: stack.registryUrl,
    KFS_REDIS_URL: stack.redisUrl,
    KFS_S3_ENDPOINT: stack.s3.endpoint,
    KFS_S3_BUCKET: stack.s3.bucket,
    KFS_S3_REGION: stack.s3.region,
    KFS_S3_ACCESS_KEY_ID: stack.s3.accessKeyId,
    KFS_S3_SECRET_ACCESS_KEY: stack.s3.secretAccessKey,
    KFS_S3_PREFIX: `bench/${run}`,
    KFS_DATA_DIR: dir,
    // The run-scoped fixture defines the same source and view as benchViews(run).
    KFS_FEATURES: 'test/fixtures/features/run-scoped.ts',
    KFS_TEST_RUN: run,
    KFS_LOG_LEVEL: 'warn',
  }
}

/** A producer of the bench's purchases on one open connection; each call continues the sequence. */
async function openProducer(
  stack: StackEndpoints,
  topic: string,
  schema: Parameters<typeof createEncoder>[0]['schema'],
): Promise<{ produce: (count: number) => Promise<void>; close: () => Promise<void> }> {
  const log = await openBenchEventLog(stack.kafkaBrokers, 'kfs-bench-restart')
  await log.createTopic(topic, 4)
  const encoder = await createEncoder({
    registry: new ConfluentSchemaRegistry({ url: stack.registryUrl }),
    subject: `${topic}-value`,
    schema,
  })
  const startMs = Date.UTC(2026, 0, 1)
  let next = 0
  const produce = async (count: number): Promise<void> => {
    progress(`producing ${count} purchases to ${topic}`)
    const end = next + count
    for (; next < end;) {
      const chunk = []
      for (const stop = Math.min(end, next + 5_000); next < stop; next++) {
        const user = `u${(next * 7919) % 5_000}`
        chunk.push({
          key: user,
          value: encoder.encode({
            user_id: user,
            item_id: `i${next % 500}`,
            amount: (next % 20_000) / 100,
            currency: 'EUR',
            ts: startMs + next * 50,
          }),
        })
      }
      await log.produce(topic, chunk)
    }
  }
  return { produce, close: () => log.close() }
}

function spawnKfs(args: readonly string[], childEnv: Record<string, string>): ChildProcess {
  // The launcher users run (bin/kfs.mjs): Node's own type stripping and compile cache on Node 24.
  const child = spawn(process.execPath, [join(ROOT, 'bin/kfs.mjs'), ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

function runToEnd(child: ChildProcess, stopped = false): Promise<void> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', (code, signal) =>
      code === 0 || (stopped && signal !== null) ? resolve() : reject(new Error(`kfs exited ${code ?? signal}`)),
    )
  })
}

async function waitForMetric(child: ChildProcess, port: number, metric: string, atLeast: number): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS
  const pattern = new RegExp(`^${metric} (\\d+)$`, 'm')
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`kfs run exited ${child.exitCode} before ${metric} reached ${atLeast}`)
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
      (r) => (r.ok ? r.text() : ''),
      () => '',
    )
    const value = Number(pattern.exec(text)?.[1] ?? 0)
    if (value >= atLeast) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`${metric} did not reach ${atLeast} within ${TIMEOUT_MS} ms`)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
