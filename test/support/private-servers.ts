/**
 * A private Kafka broker and Redis for tests that break their servers (restart, outage) without
 * touching the shared stack other tests use. Started from the stack's cached jars and Debian's
 * redis-server, on free ports, in a temp dir; stopped by PID. Start commands mirror
 * scripts/stack/up.sh (single KRaft node in combined mode, transactions and groups on one node).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => (socket.destroy(), resolve(false)))
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitUntil(what: string, child: ChildProcess, ready: () => Promise<boolean>, logFile: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await ready())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited during start-up:\n${tail(logFile)}`)
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${tail(logFile)}`)
    await sleep(250)
  }
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-40).join('\n') : '(no log)'
}

/** Sends SIGTERM, waits up to `graceMs` for the exit, then SIGKILL. */
async function stopChild(child: ChildProcess, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

export interface PrivateServer {
  /** Stops the server (data kept) and starts it again on the same port; resolves when it is ready. */
  restart(options?: { downMs?: number }): Promise<void>
  stop(): Promise<void>
}

export interface PrivateKafka extends PrivateServer {
  readonly brokers: string
}

function stackSetting(name: string): string {
  const m = new RegExp(`^${name}=(.*)$`, 'm').exec(readFileSync(join(ROOT, 'scripts/stack/common.sh'), 'utf8'))
  if (!m) throw new Error(`scripts/stack/common.sh has no ${name}`)
  return m[1]!.trim()
}

export async function startPrivateKafka(): Promise<PrivateKafka> {
  const version = stackSetting('KAFKA_VERSION')
  const cache = process.env.KFS_CACHE_DIR ?? join(homedir(), '.cache/kfs')
  const libs = join(cache, `kafka-${version}`, 'libs')
  if (!existsSync(join(libs, '.complete'))) throw new Error(`Kafka ${version} jars are not in ${libs}: run \`npm run stack:up\` once to fetch them`)
  const [port, controllerPort] = [await freePort(), await freePort()]
  const dir = mkdtempSync(join(tmpdir(), 'kfs-private-kafka-'))
  mkdirSync(join(dir, 'data'))
  mkdirSync(join(dir, 'logs'))
  writeFileSync(
    join(dir, 'server.properties'),
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'inter.broker.listener.name=PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'num.partitions=1',
      'auto.create.topics.enable=false',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=1',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=2',
      'num.recovery.threads.per.data.dir=1',
      '',
    ].join('\n'),
  )
  writeFileSync(
    join(dir, 'log4j.properties'),
    'log4j.rootLogger=INFO, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n' +
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\nlog4j.logger.kafka.request.logger=WARN\nlog4j.logger.state.change.logger=WARN\nlog4j.logger.kafka.controller=WARN\n',
  )
  const archive = join(cache, `kafka-${version}`, 'kafka.jsa')
  const jvm = [
    ...(existsSync(archive) ? [`-XX:SharedArchiveFile=${archive}`] : []),
    '-Xms128m',
    '-Xmx512m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dkafka.logs.dir=${join(dir, 'logs')}`,
    `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
  ]
  const clusterId = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url').replace(/^-/, 'A')
  const format = spawnSync('java', [...jvm, '-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, `--config=${join(dir, 'server.properties')}`], {
    encoding: 'utf8',
  })
  if (format.status !== 0) throw new Error(`formatting the private Kafka's storage failed:\n${format.stdout}${format.stderr}`)

  let child: ChildProcess
  let starts = 0
  const launch = async () => {
    const logFile = join(dir, `kafka-${++starts}.log`)
    const out = openAppend(logFile)
    child = spawn('java', [...jvm, '-cp', `${libs}/*`, 'kafka.Kafka', join(dir, 'server.properties')], { cwd: dir, stdio: ['ignore', out, out] })
    closeSync(out)
    await waitUntil('private Kafka', child, async () => readFileSync(logFile, 'utf8').includes('Kafka Server started') && (await isListening(port)), logFile)
  }
  await launch()
  return {
    brokers: `127.0.0.1:${port}`,
    async restart(options = {}) {
      await stopChild(child)
      await sleep(options.downMs ?? 0)
      await launch()
    },
    async stop() {
      await stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface PrivateRedis extends PrivateServer {
  readonly url: string
  /** Stops the server without saving and starts it again empty, as a Redis without persistence restarts. */
  restartEmpty(): Promise<void>
}

/**
 * Redis keeps nothing on disk while it runs (`--save ''`); `restart` saves the dataset as it shuts
 * down (SHUTDOWN SAVE) and loads it again, so an outage loses no online rows — only time.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'kfs-private-redis-'))
  let child: ChildProcess
  let starts = 0
  const launch = async () => {
    const logFile = join(dir, `redis-${++starts}.log`)
    const out = openAppend(logFile)
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir], {
      cwd: dir,
      stdio: ['ignore', out, out],
    })
    closeSync(out)
    await waitUntil('private Redis', child, async () => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', logFile)
  }
  const shutdownSave = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'save'])
    await Promise.race([exited, sleep(30_000)])
    await stopChild(child)
  }
  await launch()
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart(options = {}) {
      await shutdownSave()
      await sleep(options.downMs ?? 0)
      await launch()
    },
    async restartEmpty() {
      await stopChild(child)
      rmSync(join(dir, 'dump.rdb'), { force: true })
      await launch()
    },
    async stop() {
      await stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A plain fd: the child writes straight to the file, and the log outlives the child. */
function openAppend(file: string): number {
  return openSync(file, 'a')
}
