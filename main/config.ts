/**
 * The one place kfs reads its configuration: `KFS_*` environment variables, optionally layered
 * over a JSON file named by `KFS_CONFIG_FILE`. Everything else receives the frozen `KfsConfig`.
 *
 * Precedence: environment variable > config file > default. The file holds the same names as the
 * environment (`{ "KFS_SERVE_PORT": 8080 }`), so there is one vocabulary to learn.
 *
 * Each backend is chosen on its own: setting `KFS_KAFKA_BROKERS` selects Kafka for the event log,
 * `KFS_REDIS_URL` selects Redis for the online store, `KFS_S3_BUCKET` selects S3 for the object
 * store, `KFS_SCHEMA_REGISTRY_URL` selects a Confluent-compatible registry. Whatever is unset falls
 * back to the embedded implementation under `KFS_DATA_DIR`, so `kfs run` works with no servers.
 *
 * Must not depend on anything outside core/ and node built-ins; it is loaded before logging.
 */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../core/errors.ts'
import { CONFIG_VARIABLES, type ConfigVariable } from './config-variables.ts'
import { servedLogTopicProblem } from './internal-topics.ts'
import { ConfigSource as Source, type Env, type FileValues } from './config-source.ts'
import { snapshotSettings, type SnapshotSettings } from './snapshot-settings.ts'
import { objectStoreConfig, type ObjectStoreConfig } from './object-store-config.ts'

export type { Env }

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/**
 * How a kfs consumer keeps its place in a Kafka consumer group. The session timeout is how long
 * the group waits for a member that stopped heartbeating (a kill -9, a lost host) before handing
 * its partitions to others: the floor of recovery after a crash, since kafkajs 2.2.4 has no static
 * membership (KIP-345). Heartbeats are sent by kfs while a batch, a restore or a checkpoint runs,
 * so only an event loop blocked for longer than sessionTimeoutMs − heartbeatIntervalMs expires a
 * live member. The broker bounds the session timeout (group.min/max.session.timeout.ms, 6 s and
 * 30 min by default).
 */
export interface ConsumerGroupTiming {
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs: number
  /** How long a rebalance waits for live members to rejoin (they finish their batch first). */
  readonly rebalanceTimeoutMs: number
}

/** kafkajs's own session timeout is 30 s; 10 s (Kafka's pre-3.0 default) recovers 3× sooner. */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000
export const DEFAULT_REBALANCE_TIMEOUT_MS = 60_000
/** A third of the session timeout at most (Kafka's advice), 1 s when that is longer. */
export const defaultHeartbeatIntervalMs = (sessionTimeoutMs: number): number => Math.max(1, Math.min(1_000, Math.floor(sessionTimeoutMs / 3)))

/**
 * The Kafka client library behind the event log (KFS_KAFKA_CLIENT): kafkajs (the default) or
 * @platformatic/kafka, both passing the same contract (docs/kafka-clients.md compares them).
 */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const
export type KafkaClientLibrary = (typeof KAFKA_CLIENTS)[number]

export type EventLogConfig =
  | {
      readonly kind: 'kafka'
      readonly client: KafkaClientLibrary
      readonly brokers: readonly string[]
      readonly clientId: string
      readonly consumerGroup: ConsumerGroupTiming
    }
  | {
      readonly kind: 'embedded'
      readonly dir: string
      /**
       * How often records written beside the log by a process that does not own it (`kfs serve`'s
       * served-feature log) are handed over (the writer finishes its file) and moved in by the
       * owner. Absent: DEFAULT_HAND_OVER_MS.
       */
      readonly handOverMs?: number
      /** Sealed segments' files open at once across the log (LRU). Absent: DEFAULT_OPEN_SEGMENTS. */
      readonly openSegments?: number
    }

export type SchemaRegistryConfig = { readonly kind: 'confluent'; readonly url: string } | { readonly kind: 'embedded' }

export type OnlineStoreConfig =
  /** `commandTimeoutMs` absent: the Redis store's own default (1 s). */
  | { readonly kind: 'redis'; readonly url: string; readonly commandTimeoutMs?: number }
  | { readonly kind: 'embedded'; readonly dir: string }

export type { ObjectStoreConfig, S3Credentials } from './object-store-config.ts'

export interface ServeLogConfig {
  readonly topic: string
  /** Fraction of requests logged, 0..1 (deterministic by request id). */
  readonly sampleRate: number
}

export const DEFAULT_SERVE_LOG_SAMPLE = 0.01

export { DEFAULT_SNAPSHOT_RETENTION_MS, DEFAULT_SNAPSHOT_MIN_KEEP } from './snapshot-settings.ts'

/**
 * What serves HTTP and WebSocket (serving/server/transport/select.ts): `auto` takes native
 * uWebSockets.js where a build for this Node loads, else node:http + ws; `uws` and `node` force one.
 */
export const SERVE_TRANSPORTS = ['auto', 'uws', 'node'] as const
export type ServeTransport = (typeof SERVE_TRANSPORTS)[number]

export interface KfsConfig extends SnapshotSettings {
  readonly dataDir: string
  readonly eventLog: EventLogConfig
  readonly schemaRegistry: SchemaRegistryConfig
  readonly onlineStore: OnlineStoreConfig
  readonly objectStore: ObjectStoreConfig
  readonly serveHost: string
  readonly servePort: number
  /** Bearer keys serving accepts; empty means no authentication (local use). */
  readonly serveApiKeys: readonly string[]
  /** The served-feature log: absent = off; on when KFS_SERVE_LOG_TOPIC is set. */
  readonly serveLog: ServeLogConfig | undefined
  readonly serveTransport: ServeTransport
  /** Absent means no metrics endpoint. */
  readonly metricsPort: number | undefined
  readonly checkpointIntervalMs: number
  readonly checkpointMaxRecords: number
  /**
   * How long `kfs run`'s stop gives its final checkpoints before it gives them up and exits 1
   * (KFS_STOP_TIMEOUT_MS, default DEFAULT_STOP_TIMEOUT_MS; engine/stop-deadline.ts).
   */
  readonly stopTimeoutMs: number
  /**
   * Encode Parquet files on a shared worker thread (default) rather than the event loop's;
   * `KFS_PARQUET_WORKER=0` turns it off. The bytes are the same either way.
   */
  readonly parquetWorker: boolean
  readonly featuresModule: string
  readonly logLevel: LogLevel
}

export { CONFIG_VARIABLES, type ConfigVariable } from './config-variables.ts'

export const CONFIG_FILE_VARIABLE = 'KFS_CONFIG_FILE'

/**
 * 25 s: with the 2 s `kfs run` waits after it for calls in flight (main/commands/stop-within.ts),
 * a stop whose final checkpoint cannot commit still ends inside Kubernetes' 30 s grace (and the
 * 30 s docker-compose.yml gives the engine), closing the stores and saying what happened, instead
 * of being killed mid-write. Not less: the deadline counts a healthy stop's time too, and a large
 * final checkpoint on a loaded machine takes seconds — a stop given up is one to redo.
 */
export const DEFAULT_STOP_TIMEOUT_MS = 25_000

/** KFS_FEATURES unset: the demo's module, relative to the working directory. */
export const DEFAULT_FEATURES_MODULE = 'examples/features.ts'

export type FileReader = (path: string) => string

function readUtf8(path: string): string {
  // A pipe is read until its writer closes it (never, for one nobody writes) and a device such as
  // /dev/zero until memory runs out: either way no command would start.
  if (!statSync(path).isFile()) throw new Error(`${path} is not a regular file (a folder, pipe, device or socket)`)
  return readFileSync(path, 'utf8')
}

/**
 * The data directory, when it exists, must be a folder: one that names a file (or lies under one)
 * read as empty — `kfs registry list` and `kfs tables` answered "nothing" with exit 0, `kfs run`
 * "not published" — while writes failed with ENOTDIR. A missing one is created when first used.
 */
function checkDataDir(source: Source, dataDir: string): void {
  let problem: string | undefined
  try {
    if (!statSync(dataDir).isDirectory()) problem = 'it names a file'
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') problem = 'a part of it is a file'
  }
  if (problem === undefined) return
  const shown = JSON.stringify(dataDir)
  const from = source.has('KFS_DATA_DIR') ? 'KFS_DATA_DIR' : 'the default data directory (KFS_DATA_DIR unset)'
  throw new ConfigError(
    `${from} ${shown} is not a folder (${problem}): point KFS_DATA_DIR at a folder, or a path where kfs may create one`,
    { context: { variable: 'KFS_DATA_DIR' } },
  )
}

/**
 * Builds the configuration from `env` (normally `process.env`) and, when `KFS_CONFIG_FILE` is
 * set, the JSON file it names. Throws `ConfigError` naming the variable, the bad value and the fix.
 */
export function loadConfig(env: Env, fileReader: FileReader = readUtf8): KfsConfig {
  const source = new Source(env, readConfigFile(env, fileReader))

  const dataDir = source.string('KFS_DATA_DIR') ?? '.kfs/data'
  checkDataDir(source, dataDir)
  const brokers = source.list('KFS_KAFKA_BROKERS', checkHostPort, 'a comma-separated list of host:port, e.g. 127.0.0.1:19092')
  const registryUrl = source.url('KFS_SCHEMA_REGISTRY_URL', ['http:', 'https:'])
  const redisUrl = source.url('KFS_REDIS_URL', ['redis:', 'rediss:'])
  // The path of a Redis URL is its database number: ioredis reads '/abc' as database NaN.
  if (redisUrl !== undefined && !/^\/?\d*$/.test(new URL(redisUrl).pathname)) {
    throw source.invalid('KFS_REDIS_URL', redisUrl, 'a URL starting with redis:// or rediss://, with a database number as its path if any (redis://host:6379/0)')
  }

  const config: KfsConfig = {
    dataDir,
    eventLog: brokers === undefined ? embeddedEventLog(source, dataDir) : kafkaEventLog(source, brokers),
    schemaRegistry: registryUrl === undefined ? { kind: 'embedded' } : { kind: 'confluent', url: registryUrl },
    onlineStore: onlineStoreConfig(source, redisUrl, dataDir),
    objectStore: objectStoreConfig(source, dataDir),
    serveHost: source.host('KFS_SERVE_HOST') ?? '127.0.0.1',
    servePort: source.port('KFS_SERVE_PORT') ?? 8080,
    serveApiKeys: source.list('KFS_SERVE_API_KEYS', (k) => k.length >= 16, 'a comma-separated list of keys of at least 16 characters') ?? [],
    serveLog: serveLogConfig(source),
    serveTransport: source.oneOf('KFS_SERVE_TRANSPORT', SERVE_TRANSPORTS) ?? 'auto',
    metricsPort: source.port('KFS_METRICS_PORT'),
    checkpointIntervalMs: source.durationMs('KFS_CHECKPOINT_INTERVAL_MS') ?? 10_000,
    checkpointMaxRecords: source.positiveInt('KFS_CHECKPOINT_MAX_RECORDS') ?? 100_000,
    stopTimeoutMs: source.durationMs('KFS_STOP_TIMEOUT_MS') ?? DEFAULT_STOP_TIMEOUT_MS,
    ...snapshotSettings(source),
    parquetWorker: source.boolean('KFS_PARQUET_WORKER') ?? true,
    featuresModule: source.string('KFS_FEATURES') ?? DEFAULT_FEATURES_MODULE,
    logLevel: source.oneOf('KFS_LOG_LEVEL', LOG_LEVELS) ?? 'info',
  }
  return deepFreeze(config)
}

function onlineStoreConfig(source: Source, redisUrl: string | undefined, dataDir: string): OnlineStoreConfig {
  const commandTimeoutMs = source.durationMs('KFS_REDIS_COMMAND_TIMEOUT_MS')
  if (redisUrl === undefined) {
    if (commandTimeoutMs !== undefined) {
      throw new ConfigError('KFS_REDIS_URL is not set but KFS_REDIS_COMMAND_TIMEOUT_MS is: set KFS_REDIS_URL to use Redis, or unset KFS_REDIS_COMMAND_TIMEOUT_MS', {
        context: { variable: 'KFS_REDIS_URL' },
      })
    }
    return { kind: 'embedded', dir: join(dataDir, 'online') }
  }
  return commandTimeoutMs === undefined ? { kind: 'redis', url: redisUrl } : { kind: 'redis', url: redisUrl, commandTimeoutMs }
}

const KAFKA_ONLY_VARIABLES = ['KFS_KAFKA_CLIENT', 'KFS_KAFKA_CLIENT_ID', 'KFS_KAFKA_SESSION_TIMEOUT_MS', 'KFS_KAFKA_HEARTBEAT_INTERVAL_MS', 'KFS_KAFKA_REBALANCE_TIMEOUT_MS'] as const

/** Settings of the embedded event log, each with why Kafka has no use for it. */
const EMBEDDED_LOG_ONLY_VARIABLES: readonly (readonly [ConfigVariable, string])[] = [
  ['KFS_EMBEDDED_LOG_HANDOVER_MS', 'it times hand-overs to the embedded event log, which Kafka replaces'],
  ['KFS_EMBEDDED_LOG_OPEN_SEGMENTS', "it bounds the embedded event log's open files, and Kafka replaces that log"],
]

function kafkaEventLog(source: Source, brokers: readonly string[]): EventLogConfig {
  for (const [name, why] of EMBEDDED_LOG_ONLY_VARIABLES) {
    if (source.has(name)) {
      throw new ConfigError(`KFS_KAFKA_BROKERS is set but ${name} is: ${why}; unset it`, { context: { variable: name } })
    }
  }
  return {
    kind: 'kafka',
    client: source.oneOf('KFS_KAFKA_CLIENT', KAFKA_CLIENTS) ?? 'kafkajs',
    brokers,
    clientId: source.string('KFS_KAFKA_CLIENT_ID') ?? 'kfs',
    consumerGroup: consumerGroupTiming(source),
  }
}

function embeddedEventLog(source: Source, dataDir: string): EventLogConfig {
  for (const name of KAFKA_ONLY_VARIABLES) {
    if (source.has(name)) {
      const why = name.startsWith('KFS_KAFKA_CLIENT') ? 'the embedded log uses no Kafka client' : 'the embedded log has no consumer groups to time'
      throw new ConfigError(`KFS_KAFKA_BROKERS is not set but ${name} is: set KFS_KAFKA_BROKERS to use Kafka, or unset ${name} (${why})`, {
        context: { variable: 'KFS_KAFKA_BROKERS' },
      })
    }
  }
  const handOverMs = source.durationMs('KFS_EMBEDDED_LOG_HANDOVER_MS')
  const openSegments = source.positiveInt('KFS_EMBEDDED_LOG_OPEN_SEGMENTS')
  return {
    kind: 'embedded',
    dir: join(dataDir, 'log'),
    ...(handOverMs === undefined ? {} : { handOverMs }),
    ...(openSegments === undefined ? {} : { openSegments }),
  }
}

function consumerGroupTiming(source: Source): ConsumerGroupTiming {
  const sessionTimeoutMs = source.durationMs('KFS_KAFKA_SESSION_TIMEOUT_MS') ?? DEFAULT_SESSION_TIMEOUT_MS
  const heartbeatIntervalMs = source.durationMs('KFS_KAFKA_HEARTBEAT_INTERVAL_MS') ?? defaultHeartbeatIntervalMs(sessionTimeoutMs)
  const rebalanceTimeoutMs = source.durationMs('KFS_KAFKA_REBALANCE_TIMEOUT_MS') ?? DEFAULT_REBALANCE_TIMEOUT_MS
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new ConfigError(
      `KFS_KAFKA_HEARTBEAT_INTERVAL_MS (${heartbeatIntervalMs} ms) must be below KFS_KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs} ms), ideally a third of it or less; lower the interval or unset it`,
      { context: { variable: 'KFS_KAFKA_HEARTBEAT_INTERVAL_MS' } },
    )
  }
  return { sessionTimeoutMs, heartbeatIntervalMs, rebalanceTimeoutMs }
}

function serveLogConfig(source: Source): ServeLogConfig | undefined {
  const topic = source.string('KFS_SERVE_LOG_TOPIC')
  const sampleRate = source.fraction('KFS_SERVE_LOG_SAMPLE')
  if (topic === undefined) {
    if (sampleRate !== undefined) {
      throw new ConfigError('KFS_SERVE_LOG_SAMPLE is set but KFS_SERVE_LOG_TOPIC is not: set KFS_SERVE_LOG_TOPIC (e.g. kfs.served-features) to turn the served-feature log on, or unset KFS_SERVE_LOG_SAMPLE', {
        context: { variable: 'KFS_SERVE_LOG_TOPIC' },
      })
    }
    return undefined
  }
  const problem = servedLogTopicProblem(topic)
  if (problem !== undefined) throw source.invalid('KFS_SERVE_LOG_TOPIC', topic, `a topic of the log's own, e.g. kfs.served-features; this one is ${problem}`)
  return { topic, sampleRate: sampleRate ?? DEFAULT_SERVE_LOG_SAMPLE }
}

function readConfigFile(env: Env, fileReader: FileReader): FileValues {
  const path = env[CONFIG_FILE_VARIABLE]
  if (path === undefined || path.trim() === '') return new Map()
  const fix = `point ${CONFIG_FILE_VARIABLE} at a JSON object file such as { "KFS_SERVE_PORT": 8080 }, or unset it`
  let text: string
  try {
    text = fileReader(path)
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new ConfigError(`${CONFIG_FILE_VARIABLE}=${path}: cannot read the file (${reason}); ${fix}`, {
      cause: err,
      context: { variable: CONFIG_FILE_VARIABLE },
    })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new ConfigError(`${CONFIG_FILE_VARIABLE}=${path}: not valid JSON (${reason}); ${fix}`, {
      cause: err,
      context: { variable: CONFIG_FILE_VARIABLE },
    })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${CONFIG_FILE_VARIABLE}=${path}: the file must hold a JSON object; ${fix}`, {
      context: { variable: CONFIG_FILE_VARIABLE },
    })
  }
  const known: ReadonlySet<string> = new Set(CONFIG_VARIABLES)
  const values = new Map<string, string>()
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.has(key)) {
      throw new ConfigError(
        `${CONFIG_FILE_VARIABLE}=${path}: unknown key "${key}"; the file may hold only ${CONFIG_VARIABLES.join(', ')}`,
        { context: { variable: CONFIG_FILE_VARIABLE } },
      )
    }
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      values.set(key, String(value))
    } else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      values.set(key, value.join(','))
    } else {
      throw new ConfigError(
        `${CONFIG_FILE_VARIABLE}=${path}: "${key}" must be a string, number, boolean or array of strings, got ${JSON.stringify(value)}`,
        { context: { variable: key } },
      )
    }
  }
  return values
}

function checkHostPort(item: string): boolean {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(item)
  if (match === null) return false
  const port = Number(match[2])
  return port >= 1 && port <= 65_535
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
