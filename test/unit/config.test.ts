import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { loadConfig, type Env } from '../../main/config.ts'
import { ConfigError } from '../../core/errors.ts'

const stackEnv: Env = {
  KFS_KAFKA_BROKERS: '127.0.0.1:19092',
  KFS_SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
  KFS_REDIS_URL: 'redis://127.0.0.1:16379',
  KFS_S3_ENDPOINT: 'http://127.0.0.1:19000',
  KFS_S3_BUCKET: 'kfs',
  KFS_S3_REGION: 'us-east-1',
  KFS_S3_ACCESS_KEY_ID: 'minioadmin',
  KFS_S3_SECRET_ACCESS_KEY: 'minioadmin',
}

const noFile = (path: string): string => {
  throw new Error(`no file expected, asked for ${path}`)
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err: unknown) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
    assert.equal(err.code, 'CONFIG_INVALID')
    return err
  }
  assert.fail('expected a ConfigError')
}

void describe('main > config > defaults', () => {
  void test('an empty environment selects every embedded backend under .kfs/data', () => {
    const c = loadConfig({}, noFile)
    assert.equal(c.dataDir, '.kfs/data')
    assert.deepEqual(c.eventLog, { kind: 'embedded', dir: join('.kfs/data', 'log') })
    assert.deepEqual(c.schemaRegistry, { kind: 'embedded' })
    assert.deepEqual(c.onlineStore, { kind: 'embedded', dir: join('.kfs/data', 'online') })
    assert.deepEqual(c.objectStore, { kind: 'local', dir: join('.kfs/data', 'objects') })
    assert.equal(c.servePort, 8080)
    assert.equal(c.serveHost, '127.0.0.1')
    assert.equal(c.metricsPort, undefined)
    assert.equal(c.featuresModule, 'examples/features.ts')
    assert.equal(c.logLevel, 'info')
    assert.equal(c.serveTransport, 'auto')
    assert.ok(c.checkpointIntervalMs > 0)
    assert.ok(c.checkpointMaxRecords > 0)
  })

  void test('embedded dirs follow KFS_DATA_DIR', () => {
    const c = loadConfig({ KFS_DATA_DIR: '/var/lib/kfs' }, noFile)
    assert.deepEqual(c.eventLog, { kind: 'embedded', dir: join('/var/lib/kfs', 'log') })
    assert.deepEqual(c.objectStore, { kind: 'local', dir: join('/var/lib/kfs', 'objects') })
  })

  void test('empty variables count as unset', () => {
    const c = loadConfig({ KFS_KAFKA_BROKERS: '', KFS_SERVE_PORT: '  ' }, noFile)
    assert.equal(c.eventLog.kind, 'embedded')
    assert.equal(c.servePort, 8080)
  })
})

void describe('main > config > servers', () => {
  void test('the stack script environment selects Kafka, the registry, Redis and S3', () => {
    const c = loadConfig(stackEnv, noFile)
    assert.deepEqual(c.eventLog, {
      kind: 'kafka',
      client: 'kafkajs',
      brokers: ['127.0.0.1:19092'],
      clientId: 'kfs',
      consumerGroup: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, rebalanceTimeoutMs: 60_000 },
    })
    assert.deepEqual(c.schemaRegistry, { kind: 'confluent', url: 'http://127.0.0.1:18081/apis/ccompat/v7' })
    assert.deepEqual(c.onlineStore, { kind: 'redis', url: 'redis://127.0.0.1:16379' })
    assert.deepEqual(c.objectStore, {
      kind: 's3',
      endpoint: 'http://127.0.0.1:19000',
      bucket: 'kfs',
      region: 'us-east-1',
      prefix: '',
      forcePathStyle: true,
      credentials: { accessKeyId: 'minioadmin', secretAccessKey: 'minioadmin' },
    })
  })

  void test('each backend is chosen independently', () => {
    const c = loadConfig({ KFS_REDIS_URL: 'redis://localhost:6379' }, noFile)
    assert.equal(c.onlineStore.kind, 'redis')
    assert.equal(c.eventLog.kind, 'embedded')
    assert.equal(c.objectStore.kind, 'local')
    assert.equal(c.schemaRegistry.kind, 'embedded')
  })

  void test('several brokers are split and trimmed', () => {
    const c = loadConfig({ KFS_KAFKA_BROKERS: 'a.example:9092, b.example:9093,[::1]:9094' }, noFile)
    assert.ok(c.eventLog.kind === 'kafka')
    assert.deepEqual(c.eventLog.brokers, ['a.example:9092', 'b.example:9093', '[::1]:9094'])
  })

  void test('the Kafka client library: kafkajs unless KFS_KAFKA_CLIENT names @platformatic/kafka; Kafka only', () => {
    const client = (env: Env) => {
      const c = loadConfig({ KFS_KAFKA_BROKERS: '127.0.0.1:19092', ...env }, noFile)
      assert.ok(c.eventLog.kind === 'kafka')
      return c.eventLog.client
    }
    assert.equal(client({}), 'kafkajs')
    assert.equal(client({ KFS_KAFKA_CLIENT: 'Platformatic' }), 'platformatic')
    assert.equal(client({ KFS_KAFKA_CLIENT: 'kafkajs' }), 'kafkajs')
    assert.match(configError(() => client({ KFS_KAFKA_CLIENT: 'rdkafka' })).message, /KFS_KAFKA_CLIENT=.* is invalid.*one of kafkajs, platformatic/)
    assert.match(configError(() => loadConfig({ KFS_KAFKA_CLIENT: 'platformatic' }, noFile)).message, /KFS_KAFKA_BROKERS is not set but KFS_KAFKA_CLIENT is/)
  })

  void test('consumer group timing: durations, a heartbeat derived from the session, and its bounds', () => {
    const timing = (env: Env) => {
      const c = loadConfig({ KFS_KAFKA_BROKERS: '127.0.0.1:19092', ...env }, noFile)
      assert.ok(c.eventLog.kind === 'kafka')
      return c.eventLog.consumerGroup
    }
    assert.deepEqual(timing({ KFS_KAFKA_SESSION_TIMEOUT_MS: '45s', KFS_KAFKA_HEARTBEAT_INTERVAL_MS: '3000', KFS_KAFKA_REBALANCE_TIMEOUT_MS: '2m' }), {
      sessionTimeoutMs: 45_000,
      heartbeatIntervalMs: 3_000,
      rebalanceTimeoutMs: 120_000,
    })
    // Unset, the heartbeat is a third of a short session and 1 s of a long one.
    assert.equal(timing({ KFS_KAFKA_SESSION_TIMEOUT_MS: '600' }).heartbeatIntervalMs, 200)
    assert.equal(timing({ KFS_KAFKA_SESSION_TIMEOUT_MS: '30s' }).heartbeatIntervalMs, 1_000)
    const tooSlow = configError(() => timing({ KFS_KAFKA_SESSION_TIMEOUT_MS: '6s', KFS_KAFKA_HEARTBEAT_INTERVAL_MS: '6s' }))
    assert.match(tooSlow.message, /KFS_KAFKA_HEARTBEAT_INTERVAL_MS \(6000 ms\) must be below KFS_KAFKA_SESSION_TIMEOUT_MS \(6000 ms\)/)
    for (const bad of ['0', '-5', 'soon', '1.5s']) {
      assert.match(configError(() => timing({ KFS_KAFKA_SESSION_TIMEOUT_MS: bad })).message, /KFS_KAFKA_SESSION_TIMEOUT_MS=.* is invalid/)
    }
    for (const name of ['KFS_KAFKA_SESSION_TIMEOUT_MS', 'KFS_KAFKA_HEARTBEAT_INTERVAL_MS', 'KFS_KAFKA_REBALANCE_TIMEOUT_MS']) {
      const err = configError(() => loadConfig({ [name]: '10s' }, noFile))
      assert.match(err.message, new RegExp(`KFS_KAFKA_BROKERS is not set but ${name} is`))
    }
  })

  void test('the embedded log hand-over interval needs the embedded log', () => {
    const c = loadConfig({ KFS_DATA_DIR: '/d', KFS_EMBEDDED_LOG_HANDOVER_MS: '5s' }, noFile)
    assert.deepEqual(c.eventLog, { kind: 'embedded', dir: '/d/log', handOverMs: 5_000 })
    assert.deepEqual(loadConfig({ KFS_DATA_DIR: '/d' }, noFile).eventLog, { kind: 'embedded', dir: '/d/log' })
    const withKafka = configError(() =>
      loadConfig({ KFS_KAFKA_BROKERS: '127.0.0.1:19092', KFS_EMBEDDED_LOG_HANDOVER_MS: '5s' }, noFile),
    )
    assert.match(withKafka.message, /KFS_KAFKA_BROKERS is set but KFS_EMBEDDED_LOG_HANDOVER_MS is/)
    for (const bad of ['0', '-5', 'soon', '1.5s']) {
      assert.match(
        configError(() => loadConfig({ KFS_EMBEDDED_LOG_HANDOVER_MS: bad }, noFile)).message,
        /KFS_EMBEDDED_LOG_HANDOVER_MS=.* is invalid/,
      )
    }
  })

  void test('the embedded log open-segment bound needs the embedded log and a whole number ≥ 1', () => {
    assert.deepEqual(loadConfig({ KFS_DATA_DIR: '/d', KFS_EMBEDDED_LOG_OPEN_SEGMENTS: '8' }, noFile).eventLog, { kind: 'embedded', dir: '/d/log', openSegments: 8 })
    assert.deepEqual(loadConfig({ KFS_DATA_DIR: '/d', KFS_EMBEDDED_LOG_OPEN_SEGMENTS: '8', KFS_EMBEDDED_LOG_HANDOVER_MS: '2s' }, noFile).eventLog, {
      kind: 'embedded',
      dir: '/d/log',
      handOverMs: 2_000,
      openSegments: 8,
    })
    const withKafka = configError(() => loadConfig({ KFS_KAFKA_BROKERS: '127.0.0.1:19092', KFS_EMBEDDED_LOG_OPEN_SEGMENTS: '8' }, noFile))
    assert.match(withKafka.message, /KFS_KAFKA_BROKERS is set but KFS_EMBEDDED_LOG_OPEN_SEGMENTS is/)
    for (const bad of ['0', '-5', 'many', '1.5', '99999999999999999999']) {
      assert.match(configError(() => loadConfig({ KFS_EMBEDDED_LOG_OPEN_SEGMENTS: bad }, noFile)).message, /KFS_EMBEDDED_LOG_OPEN_SEGMENTS=.* is invalid/)
    }
  })

  void test('a Redis command timeout needs Redis', () => {
    const c = loadConfig({ KFS_REDIS_URL: 'redis://127.0.0.1:6379', KFS_REDIS_COMMAND_TIMEOUT_MS: '5s' }, noFile)
    assert.deepEqual(c.onlineStore, { kind: 'redis', url: 'redis://127.0.0.1:6379', commandTimeoutMs: 5_000 })
    assert.match(configError(() => loadConfig({ KFS_REDIS_COMMAND_TIMEOUT_MS: '5s' }, noFile)).message, /KFS_REDIS_URL is not set but KFS_REDIS_COMMAND_TIMEOUT_MS is/)
    assert.match(configError(() => loadConfig({ KFS_REDIS_URL: 'redis://127.0.0.1:6379', KFS_REDIS_COMMAND_TIMEOUT_MS: 'never' }, noFile)).message, /KFS_REDIS_COMMAND_TIMEOUT_MS="never"/)
  })

  void test('S3 on AWS: no endpoint, virtual-hosted style, default credential chain', () => {
    const c = loadConfig({ KFS_S3_BUCKET: 'my-bucket', KFS_S3_REGION: 'eu-west-1', KFS_S3_PREFIX: 'kfs/prod' }, noFile)
    assert.ok(c.objectStore.kind === 's3')
    assert.equal(c.objectStore.endpoint, undefined)
    assert.equal(c.objectStore.forcePathStyle, false)
    assert.equal(c.objectStore.credentials, undefined)
    assert.equal(c.objectStore.region, 'eu-west-1')
    assert.equal(c.objectStore.prefix, 'kfs/prod')
  })

  void test('numbers, durations and levels are parsed', () => {
    const c = loadConfig(
      {
        KFS_SERVE_PORT: '9000',
        KFS_METRICS_PORT: '9464',
        KFS_CHECKPOINT_INTERVAL_MS: '2500',
        KFS_CHECKPOINT_MAX_RECORDS: '5000',
        KFS_LOG_LEVEL: 'DEBUG',
        KFS_FEATURES: 'my/features.ts',
        KFS_SERVE_TRANSPORT: 'Node',
      },
      noFile,
    )
    assert.equal(c.serveTransport, 'node')
    assert.equal(c.servePort, 9000)
    assert.equal(c.metricsPort, 9464)
    assert.equal(c.checkpointIntervalMs, 2500)
    assert.equal(c.checkpointMaxRecords, 5000)
    assert.equal(c.logLevel, 'debug')
    assert.equal(c.featuresModule, 'my/features.ts')
    assert.equal(loadConfig({ KFS_CHECKPOINT_INTERVAL_MS: '30s' }, noFile).checkpointIntervalMs, 30_000)
    // The stop's deadline: inside docker stop's 10 s grace by default (main/config.ts DEFAULT_STOP_TIMEOUT_MS).
    assert.equal(c.stopTimeoutMs, 25_000)
    assert.equal(loadConfig({ KFS_STOP_TIMEOUT_MS: '20s' }, noFile).stopTimeoutMs, 20_000)
    assert.equal(loadConfig({ KFS_STOP_TIMEOUT_MS: '2500' }, noFile).stopTimeoutMs, 2_500)
  })

  void test('the result is deeply frozen', () => {
    const c = loadConfig(stackEnv, noFile)
    assert.ok(Object.isFrozen(c))
    assert.ok(Object.isFrozen(c.objectStore))
    assert.ok(c.eventLog.kind === 'kafka' && Object.isFrozen(c.eventLog.brokers))
    assert.throws(() => {
      ;(c as { servePort: number }).servePort = 1
    }, TypeError)
  })
})

void describe('main > config > bad values', () => {
  const cases: Array<{ env: Env; variable: string; value: string }> = [
    { env: { KFS_SERVE_PORT: 'eighty' }, variable: 'KFS_SERVE_PORT', value: 'eighty' },
    { env: { KFS_SERVE_PORT: '70000' }, variable: 'KFS_SERVE_PORT', value: '70000' },
    { env: { KFS_SERVE_PORT: '0' }, variable: 'KFS_SERVE_PORT', value: '0' },
    { env: { KFS_METRICS_PORT: '-1' }, variable: 'KFS_METRICS_PORT', value: '-1' },
    { env: { KFS_KAFKA_BROKERS: '127.0.0.1' }, variable: 'KFS_KAFKA_BROKERS', value: '127.0.0.1' },
    { env: { KFS_KAFKA_BROKERS: 'a:1,,b:2' }, variable: 'KFS_KAFKA_BROKERS', value: 'a:1,,b:2' },
    { env: { KFS_REDIS_URL: 'http://127.0.0.1:6379' }, variable: 'KFS_REDIS_URL', value: 'http://127.0.0.1:6379' },
    { env: { KFS_REDIS_URL: '127.0.0.1:6379' }, variable: 'KFS_REDIS_URL', value: '127.0.0.1:6379' },
    { env: { KFS_SCHEMA_REGISTRY_URL: 'registry:8081' }, variable: 'KFS_SCHEMA_REGISTRY_URL', value: 'registry:8081' },
    { env: { KFS_S3_BUCKET: 'Bad_Bucket' }, variable: 'KFS_S3_BUCKET', value: 'Bad_Bucket' },
    { env: { KFS_S3_BUCKET: 'kfs', KFS_S3_ENDPOINT: 'ftp://x' }, variable: 'KFS_S3_ENDPOINT', value: 'ftp://x' },
    { env: { KFS_S3_BUCKET: 'kfs', KFS_S3_PREFIX: '/abs' }, variable: 'KFS_S3_PREFIX', value: '/abs' },
    { env: { KFS_S3_BUCKET: 'kfs', KFS_S3_FORCE_PATH_STYLE: 'maybe' }, variable: 'KFS_S3_FORCE_PATH_STYLE', value: 'maybe' },
    { env: { KFS_CHECKPOINT_INTERVAL_MS: '0' }, variable: 'KFS_CHECKPOINT_INTERVAL_MS', value: '0' },
    { env: { KFS_CHECKPOINT_INTERVAL_MS: 'soon' }, variable: 'KFS_CHECKPOINT_INTERVAL_MS', value: 'soon' },
    { env: { KFS_CHECKPOINT_MAX_RECORDS: '1.5' }, variable: 'KFS_CHECKPOINT_MAX_RECORDS', value: '1.5' },
    { env: { KFS_STOP_TIMEOUT_MS: '0' }, variable: 'KFS_STOP_TIMEOUT_MS', value: '0' },
    { env: { KFS_STOP_TIMEOUT_MS: '-1' }, variable: 'KFS_STOP_TIMEOUT_MS', value: '-1' },
    { env: { KFS_STOP_TIMEOUT_MS: 'soon' }, variable: 'KFS_STOP_TIMEOUT_MS', value: 'soon' },
    { env: { KFS_LOG_LEVEL: 'verbose' }, variable: 'KFS_LOG_LEVEL', value: 'verbose' },
    { env: { KFS_SERVE_TRANSPORT: 'uwebsockets' }, variable: 'KFS_SERVE_TRANSPORT', value: 'uwebsockets' },
  ]
  for (const { env, variable, value } of cases) {
    void test(`${variable}=${value} is rejected with the name, the value and a fix`, () => {
      const err = configError(() => loadConfig(env, noFile))
      assert.ok(err.message.includes(variable), err.message)
      assert.ok(err.message.includes(JSON.stringify(value)), err.message)
      assert.match(err.message, /expected .+; fix it or unset/)
      assert.equal(err.context?.['variable'], variable)
    })
  }

  void test('S3 settings without a bucket are rejected rather than silently ignored', () => {
    const err = configError(() => loadConfig({ KFS_S3_ENDPOINT: 'http://127.0.0.1:19000' }, noFile))
    assert.match(err.message, /KFS_S3_BUCKET/)
    assert.match(err.message, /KFS_S3_ENDPOINT/)
  })

  void test('half a credential pair is rejected', () => {
    const err = configError(() => loadConfig({ KFS_S3_BUCKET: 'kfs', KFS_S3_ACCESS_KEY_ID: 'id' }, noFile))
    assert.match(err.message, /KFS_S3_SECRET_ACCESS_KEY/)
  })

  void test('a secret is never echoed in the message', () => {
    const err = configError(() => loadConfig({ KFS_S3_ENDPOINT: 'http://x:1', KFS_S3_SECRET_ACCESS_KEY: 'hunter2' }, noFile))
    assert.ok(!err.message.includes('hunter2'))
  })
})

void describe('main > config > file', () => {
  const file =
    (contents: Record<string, string>) =>
    (path: string): string => {
      const text = contents[path]
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`)
      return text
    }

  void test('values come from the file, and the environment overrides them', () => {
    const reader = file({
      '/etc/kfs.json': JSON.stringify({ KFS_SERVE_PORT: 9001, KFS_KAFKA_BROKERS: ['k1:9092', 'k2:9092'], KFS_LOG_LEVEL: 'warn' }),
    })
    const c = loadConfig({ KFS_CONFIG_FILE: '/etc/kfs.json', KFS_LOG_LEVEL: 'error' }, reader)
    assert.equal(c.servePort, 9001)
    assert.ok(c.eventLog.kind === 'kafka')
    assert.deepEqual(c.eventLog.brokers, ['k1:9092', 'k2:9092'])
    assert.equal(c.logLevel, 'error')
  })

  void test('a bad value from the file says it came from the file', () => {
    const reader = file({ '/etc/kfs.json': JSON.stringify({ KFS_SERVE_PORT: 'x' }) })
    const err = configError(() => loadConfig({ KFS_CONFIG_FILE: '/etc/kfs.json' }, reader))
    assert.match(err.message, /KFS_SERVE_PORT="x" \(from config file\)/)
  })

  void test('a missing file, bad JSON, a non-object, an unknown key or a nested value is rejected', () => {
    const reader = file({
      '/bad.json': '{ "KFS_SERVE_PORT": ',
      '/array.json': '[1, 2]',
      '/typo.json': JSON.stringify({ KFS_SERVE_PROT: 1 }),
      '/nested.json': JSON.stringify({ KFS_SERVE_PORT: { value: 1 } }),
    })
    for (const path of ['/missing.json', '/bad.json', '/array.json', '/typo.json', '/nested.json']) {
      const err = configError(() => loadConfig({ KFS_CONFIG_FILE: path }, reader))
      assert.ok(err.message.includes(path), err.message)
    }
    assert.match(configError(() => loadConfig({ KFS_CONFIG_FILE: '/typo.json' }, reader)).message, /KFS_SERVE_PROT/)
  })
})
