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
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseDurationMs } from '../core/duration.ts'
import { ConfigError } from '../core/errors.ts'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type EventLogConfig =
  | { readonly kind: 'kafka'; readonly brokers: readonly string[]; readonly clientId: string }
  | { readonly kind: 'embedded'; readonly dir: string }

export type SchemaRegistryConfig = { readonly kind: 'confluent'; readonly url: string } | { readonly kind: 'embedded' }

export type OnlineStoreConfig =
  { readonly kind: 'redis'; readonly url: string } | { readonly kind: 'embedded'; readonly dir: string }

export interface S3Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
}

export type ObjectStoreConfig =
  | {
      readonly kind: 's3'
      /** Absent means AWS's own endpoint for the region. */
      readonly endpoint: string | undefined
      readonly bucket: string
      readonly region: string
      readonly prefix: string
      readonly forcePathStyle: boolean
      /** Absent means the SDK's default credential chain. */
      readonly credentials: S3Credentials | undefined
    }
  | { readonly kind: 'local'; readonly dir: string }

export interface ServeLogConfig {
  readonly topic: string
  /** Fraction of requests logged, 0..1 (deterministic by request id). */
  readonly sampleRate: number
}

export const DEFAULT_SERVE_LOG_SAMPLE = 0.01

export interface KfsConfig {
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
  /** Absent means no metrics endpoint. */
  readonly metricsPort: number | undefined
  readonly checkpointIntervalMs: number
  readonly checkpointMaxRecords: number
  readonly featuresModule: string
  readonly logLevel: LogLevel
}

/** Every variable loadConfig understands; the config file may hold only these. */
export const CONFIG_VARIABLES = [
  'KFS_DATA_DIR',
  'KFS_KAFKA_BROKERS',
  'KFS_KAFKA_CLIENT_ID',
  'KFS_SCHEMA_REGISTRY_URL',
  'KFS_REDIS_URL',
  'KFS_S3_ENDPOINT',
  'KFS_S3_BUCKET',
  'KFS_S3_REGION',
  'KFS_S3_PREFIX',
  'KFS_S3_FORCE_PATH_STYLE',
  'KFS_S3_ACCESS_KEY_ID',
  'KFS_S3_SECRET_ACCESS_KEY',
  'KFS_SERVE_HOST',
  'KFS_SERVE_PORT',
  'KFS_SERVE_API_KEYS',
  'KFS_SERVE_LOG_TOPIC',
  'KFS_SERVE_LOG_SAMPLE',
  'KFS_METRICS_PORT',
  'KFS_CHECKPOINT_INTERVAL_MS',
  'KFS_CHECKPOINT_MAX_RECORDS',
  'KFS_FEATURES',
  'KFS_LOG_LEVEL',
] as const
export type ConfigVariable = (typeof CONFIG_VARIABLES)[number]

export const CONFIG_FILE_VARIABLE = 'KFS_CONFIG_FILE'

export type Env = Readonly<Record<string, string | undefined>>
export type FileReader = (path: string) => string

const SECRET_VARIABLES: ReadonlySet<ConfigVariable> = new Set(['KFS_S3_SECRET_ACCESS_KEY'])

function readUtf8(path: string): string {
  return readFileSync(path, 'utf8')
}

/**
 * Builds the configuration from `env` (normally `process.env`) and, when `KFS_CONFIG_FILE` is
 * set, the JSON file it names. Throws `ConfigError` naming the variable, the bad value and the fix.
 */
export function loadConfig(env: Env, fileReader: FileReader = readUtf8): KfsConfig {
  const source = new Source(env, readConfigFile(env, fileReader))

  const dataDir = source.string('KFS_DATA_DIR') ?? '.kfs/data'
  const brokers = source.list('KFS_KAFKA_BROKERS', checkHostPort, 'a comma-separated list of host:port, e.g. 127.0.0.1:19092')
  const registryUrl = source.url('KFS_SCHEMA_REGISTRY_URL', ['http:', 'https:'])
  const redisUrl = source.url('KFS_REDIS_URL', ['redis:', 'rediss:'])

  const config: KfsConfig = {
    dataDir,
    eventLog:
      brokers === undefined
        ? { kind: 'embedded', dir: join(dataDir, 'log') }
        : { kind: 'kafka', brokers, clientId: source.string('KFS_KAFKA_CLIENT_ID') ?? 'kfs' },
    schemaRegistry: registryUrl === undefined ? { kind: 'embedded' } : { kind: 'confluent', url: registryUrl },
    onlineStore: redisUrl === undefined ? { kind: 'embedded', dir: join(dataDir, 'online') } : { kind: 'redis', url: redisUrl },
    objectStore: objectStoreConfig(source, dataDir),
    serveHost: source.string('KFS_SERVE_HOST') ?? '127.0.0.1',
    servePort: source.port('KFS_SERVE_PORT') ?? 8080,
    serveApiKeys: source.list('KFS_SERVE_API_KEYS', (k) => k.length >= 16, 'a comma-separated list of keys of at least 16 characters') ?? [],
    serveLog: serveLogConfig(source),
    metricsPort: source.port('KFS_METRICS_PORT'),
    checkpointIntervalMs: source.durationMs('KFS_CHECKPOINT_INTERVAL_MS') ?? 10_000,
    checkpointMaxRecords: source.positiveInt('KFS_CHECKPOINT_MAX_RECORDS') ?? 100_000,
    featuresModule: source.string('KFS_FEATURES') ?? 'examples/features.ts',
    logLevel: source.oneOf('KFS_LOG_LEVEL', LOG_LEVELS) ?? 'info',
  }
  return deepFreeze(config)
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
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic) || topic.startsWith('__')) {
    throw source.invalid('KFS_SERVE_LOG_TOPIC', topic, "a Kafka topic name (letters, digits, '.', '_', '-'), e.g. kfs.served-features")
  }
  return { topic, sampleRate: sampleRate ?? DEFAULT_SERVE_LOG_SAMPLE }
}

function objectStoreConfig(source: Source, dataDir: string): ObjectStoreConfig {
  const endpoint = source.url('KFS_S3_ENDPOINT', ['http:', 'https:'])
  const bucket = source.string('KFS_S3_BUCKET')
  const accessKeyId = source.string('KFS_S3_ACCESS_KEY_ID')
  const secretAccessKey = source.string('KFS_S3_SECRET_ACCESS_KEY')
  if (bucket === undefined) {
    for (const name of ['KFS_S3_ENDPOINT', 'KFS_S3_ACCESS_KEY_ID', 'KFS_S3_SECRET_ACCESS_KEY'] as const) {
      if (source.has(name)) {
        throw new ConfigError(
          `KFS_S3_BUCKET is not set but ${name} is: set KFS_S3_BUCKET to use S3, or unset ${name} to use the local object store under KFS_DATA_DIR`,
          { context: { variable: 'KFS_S3_BUCKET' } },
        )
      }
    }
    return { kind: 'local', dir: join(dataDir, 'objects') }
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw source.invalid('KFS_S3_BUCKET', bucket, 'an S3 bucket name: 3-63 characters of a-z, 0-9, "." and "-"')
  }
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    const missing = accessKeyId === undefined ? 'KFS_S3_ACCESS_KEY_ID' : 'KFS_S3_SECRET_ACCESS_KEY'
    throw new ConfigError(
      `${missing} is not set: set KFS_S3_ACCESS_KEY_ID and KFS_S3_SECRET_ACCESS_KEY together, or neither to use the AWS default credential chain`,
      { context: { variable: missing } },
    )
  }
  const prefix = source.string('KFS_S3_PREFIX') ?? ''
  if (prefix.startsWith('/')) {
    throw source.invalid('KFS_S3_PREFIX', prefix, 'a key prefix without a leading "/", e.g. kfs/prod')
  }
  return {
    kind: 's3',
    endpoint,
    bucket,
    region: source.string('KFS_S3_REGION') ?? 'us-east-1',
    prefix,
    // Self-hosted S3 servers (MinIO) rarely have wildcard DNS for virtual-hosted buckets.
    forcePathStyle: source.boolean('KFS_S3_FORCE_PATH_STYLE') ?? endpoint !== undefined,
    credentials: accessKeyId === undefined || secretAccessKey === undefined ? undefined : { accessKeyId, secretAccessKey },
  }
}

type FileValues = ReadonlyMap<string, string>

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

/** Reads one variable at a time, environment first, and phrases every complaint the same way. */
class Source {
  readonly #env: Env
  readonly #file: FileValues

  constructor(env: Env, file: FileValues) {
    this.#env = env
    this.#file = file
  }

  has(name: ConfigVariable): boolean {
    return this.#raw(name) !== undefined
  }

  #raw(name: ConfigVariable): { value: string; from: string } | undefined {
    const fromEnv = this.#env[name]
    // An empty variable counts as unset, as shells make `FOO=` easy to leave behind.
    if (fromEnv !== undefined && fromEnv.trim() !== '') return { value: fromEnv.trim(), from: 'environment' }
    const fromFile = this.#file.get(name)
    if (fromFile !== undefined && fromFile.trim() !== '') return { value: fromFile.trim(), from: 'config file' }
    return undefined
  }

  invalid(name: ConfigVariable, value: string, expected: string): ConfigError {
    const shown = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(value)
    const from = this.#raw(name)?.from ?? 'environment'
    return new ConfigError(
      `${name}=${shown} (from ${from}) is invalid: expected ${expected}; fix it or unset ${name} to use the default`,
      { context: { variable: name } },
    )
  }

  string(name: ConfigVariable): string | undefined {
    return this.#raw(name)?.value
  }

  list(name: ConfigVariable, check: (item: string) => boolean, expected: string): readonly string[] | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const items = raw.split(',').map((s) => s.trim())
    if (items.some((item) => !check(item))) throw this.invalid(name, raw, expected)
    return items
  }

  url(name: ConfigVariable, protocols: readonly string[]): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    let parsed: URL
    try {
      parsed = new URL(raw)
    } catch {
      throw this.invalid(name, raw, `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`)
    }
    if (!protocols.includes(parsed.protocol) || parsed.hostname === '') {
      throw this.invalid(name, raw, `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`)
    }
    return raw.replace(/\/+$/, '')
  }

  port(name: ConfigVariable): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
    if (!(n >= 1 && n <= 65_535)) throw this.invalid(name, raw, 'a TCP port number from 1 to 65535')
    return n
  }

  positiveInt(name: ConfigVariable): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
    if (!Number.isSafeInteger(n) || n < 1) throw this.invalid(name, raw, 'a whole number of at least 1')
    return n
  }

  durationMs(name: ConfigVariable): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    let ms: number
    try {
      ms = /^\d+$/.test(raw) ? Number(raw) : parseDurationMs(raw, name)
    } catch {
      ms = Number.NaN
    }
    if (!Number.isSafeInteger(ms) || ms < 1) {
      throw this.invalid(name, raw, "a positive number of milliseconds (e.g. 10000) or a duration such as '10s'")
    }
    return ms
  }

  fraction(name: ConfigVariable): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const n = /^(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : Number.NaN
    if (!(n >= 0 && n <= 1)) throw this.invalid(name, raw, 'a fraction from 0 to 1, e.g. 0.01 for 1 %')
    return n
  }

  boolean(name: ConfigVariable): boolean | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const lower = raw.toLowerCase()
    if (lower === 'true' || lower === '1' || lower === 'yes') return true
    if (lower === 'false' || lower === '0' || lower === 'no') return false
    throw this.invalid(name, raw, 'true or false')
  }

  oneOf<T extends string>(name: ConfigVariable, allowed: readonly T[]): T | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const match = allowed.find((a) => a === raw.toLowerCase())
    if (match === undefined) throw this.invalid(name, raw, `one of ${allowed.join(', ')}`)
    return match
  }
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
