/**
 * Every KFS_* setting, with every kind of bad value it can be given, through the CLI as a user
 * meets it: exit 1 with one line on stderr naming the variable (no stack trace, no "unexpected
 * error"), and under `--json` one `{"error": {"code": "CONFIG_INVALID", "context": {"variable"}}}`
 * on stdout — never a crash, a success on a silent default, or a later failure somewhere else.
 * The table must hold every variable main/config-variables.ts lists (a new one needs its rows).
 *
 * Before: KFS_SERVE_HOST, KFS_S3_REGION and KFS_KAFKA_CLIENT_ID took any text; a URL with port 0
 * or a Redis URL with a database path that is no number passed; KFS_S3_REGION, KFS_S3_PREFIX,
 * KFS_S3_FORCE_PATH_STYLE and KFS_KAFKA_CLIENT_ID without their bucket or brokers were dropped;
 * KFS_DEBUG=maybe was "off"; KFS_FEATURES naming nothing failed with "pass --features" (exit 1,
 * code DEFINITION_INVALID) without naming the variable.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { commands } from '../../../main/commands/index.ts'
import { CONFIG_VARIABLES } from '../../../main/config-variables.ts'
import { runKfsInProcess, type CliResult } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-audit-env-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))
const PIPE = join(dataDir, 'kfs-config.json')
assert.equal(spawnSync('mkfifo', [PIPE]).status, 0, 'mkfifo')
before(async () => {
  const r = await runKfsInProcess(['apply'], dataDir)
  assert.equal(r.code, 0, r.stderr)
})

const BROKERS = { KFS_KAFKA_BROKERS: '127.0.0.1:19092' }
const REDIS = { KFS_REDIS_URL: 'redis://127.0.0.1:6379' }
const BUCKET = { KFS_S3_BUCKET: 'kfs-test' }
const LOG_TOPIC = { KFS_SERVE_LOG_TOPIC: 'kfs.served-features' }

interface BadSetting {
  /** The variable the error must name (and put in its context). */
  readonly variable: string
  readonly value: string
  /** Other settings the check needs (a bucket for an S3 setting), or none. */
  readonly with?: Readonly<Record<string, string>>
  /** Set alone, the variable is refused for lacking these: the error names them too. */
  readonly needs?: string
  /** What the message must say is wrong, where one value can be wrong in several ways. */
  readonly says?: RegExp
  /** The command run (default `kfs tables --json`, which reads the configuration and nothing else). */
  readonly args?: readonly string[]
}

const bad = (variable: string, values: readonly string[], extra: Omit<BadSetting, 'variable' | 'value'> = {}): BadSetting[] =>
  values.map((value) => ({ variable, value, ...extra }))
/**
 * Bad URLs, each with what its message must say is wrong: "expected a URL starting with redis://"
 * for redis://h:0, which does start with redis://, hid the port that was wrong.
 */
const badUrls = (
  variable: string,
  cases: Readonly<Record<string, RegExp>>,
  extra: Omit<BadSetting, 'variable' | 'value' | 'says'> = {},
): BadSetting[] => Object.entries(cases).map(([value, says]) => ({ variable, value, says, ...extra }))
const UNPARSED = /does not parse as a URL: check its host, and its port/
const PORT_0 = /with a port from 1 to 65535: port 0 is "any free port"/
const NO_HOST = /that names a host/
const startsWith = (scheme: string) => new RegExp(`; this one starts with ${scheme}:;`)
const durations = ['0', '-1', 'soon', '1.5s', '10 s', '1e3', '1y']
const timers = [...durations, '30d'] // past the longest Node timer
const ports = ['eighty', '0', '-1', '65536', '80.5', '+80']
const counts = ['0', '-1', '1.5', '1e3', 'many', '99999999999999999999']

const SETTINGS: readonly BadSetting[] = [
  ...bad('KFS_DATA_DIR', ['/dev/null', '/dev/null/below-a-file']),
  ...bad('KFS_KAFKA_BROKERS', ['127.0.0.1', 'a:1,,b:2', 'host:0', 'host:70000', 'host:port', 'http://host:9092']),
  ...bad('KFS_KAFKA_CLIENT_ID', ['kfs'], { needs: 'KFS_KAFKA_BROKERS' }),
  ...bad('KFS_KAFKA_CLIENT', ['librdkafka', 'KafkaJS2'], { with: BROKERS }),
  ...bad('KFS_KAFKA_CLIENT', ['kafkajs'], { needs: 'KFS_KAFKA_BROKERS' }),
  ...bad('KFS_KAFKA_SESSION_TIMEOUT_MS', timers, { with: BROKERS }),
  ...bad('KFS_KAFKA_SESSION_TIMEOUT_MS', ['10s'], { needs: 'KFS_KAFKA_BROKERS' }),
  ...bad('KFS_KAFKA_HEARTBEAT_INTERVAL_MS', [...timers, '20s'], { with: BROKERS }), // 20 s: not below the 10 s session
  ...bad('KFS_KAFKA_HEARTBEAT_INTERVAL_MS', ['1s'], { needs: 'KFS_KAFKA_BROKERS' }),
  ...bad('KFS_KAFKA_REBALANCE_TIMEOUT_MS', timers, { with: BROKERS }),
  ...bad('KFS_KAFKA_REBALANCE_TIMEOUT_MS', ['60s'], { needs: 'KFS_KAFKA_BROKERS' }),
  ...bad('KFS_EMBEDDED_LOG_HANDOVER_MS', timers),
  ...bad('KFS_EMBEDDED_LOG_HANDOVER_MS', ['1s'], { with: BROKERS }),
  ...bad('KFS_EMBEDDED_LOG_OPEN_SEGMENTS', counts),
  ...bad('KFS_EMBEDDED_LOG_OPEN_SEGMENTS', ['8'], { with: BROKERS }),
  ...badUrls('KFS_SCHEMA_REGISTRY_URL', {
    'registry:8081': startsWith('registry'),
    'ftp://registry': startsWith('ftp'),
    'http://': UNPARSED,
    'http://h:99999': UNPARSED,
    'http://h:0': PORT_0,
    'not a url': UNPARSED,
  }),
  ...badUrls('KFS_REDIS_URL', {
    'http://127.0.0.1:6379': startsWith('http'),
    '127.0.0.1:6379': UNPARSED,
    'redis://': NO_HOST,
    'redis://h:0': PORT_0,
    'redis://h:6379/abc': /with a database number as its path/,
    'redis://h/0/1': /with a database number as its path/,
  }),
  ...bad('KFS_REDIS_COMMAND_TIMEOUT_MS', timers, { with: REDIS }),
  ...bad('KFS_REDIS_COMMAND_TIMEOUT_MS', ['1s'], { needs: 'KFS_REDIS_URL' }),
  ...badUrls(
    'KFS_S3_ENDPOINT',
    { 'ftp://minio': startsWith('ftp'), 'minio:9000': startsWith('minio'), 'http://minio:0': PORT_0, 'http://': UNPARSED },
    { with: BUCKET },
  ),
  ...bad('KFS_S3_ENDPOINT', ['http://minio:9000'], { needs: 'KFS_S3_BUCKET' }),
  ...bad('KFS_S3_BUCKET', ['Bad_Bucket', 'ab', 'x'.repeat(64), '-kfs', 'kfs/prod']),
  ...bad('KFS_S3_REGION', ['not a region', 'us-east-1/x', 'é'], { with: BUCKET }),
  ...bad('KFS_S3_REGION', ['us-east-1'], { needs: 'KFS_S3_BUCKET' }),
  ...bad('KFS_S3_PREFIX', ['/abs'], { with: BUCKET }),
  ...bad('KFS_S3_PREFIX', ['kfs/prod'], { needs: 'KFS_S3_BUCKET' }),
  ...bad('KFS_S3_FORCE_PATH_STYLE', ['maybe', '2'], { with: BUCKET }),
  ...bad('KFS_S3_FORCE_PATH_STYLE', ['true'], { needs: 'KFS_S3_BUCKET' }),
  ...bad('KFS_S3_ACCESS_KEY_ID', ['key-id'], { with: BUCKET, needs: 'KFS_S3_SECRET_ACCESS_KEY' }), // half a pair
  ...bad('KFS_S3_SECRET_ACCESS_KEY', ['hunter2'], { with: BUCKET, needs: 'KFS_S3_ACCESS_KEY_ID' }),
  ...bad('KFS_S3_ACCESS_KEY_ID', ['key-id'], { needs: 'KFS_S3_BUCKET' }),
  ...bad('KFS_S3_SECRET_ACCESS_KEY', ['hunter2'], { needs: 'KFS_S3_BUCKET' }),
  ...bad('KFS_SERVE_HOST', ['not a host', 'http://127.0.0.1', '127.0.0.1:8080', '-', 'host_name', '[::1]']),
  ...bad('KFS_SERVE_PORT', ports),
  ...bad('KFS_SERVE_API_KEYS', ['short', 'a-long-enough-key-1,', 'a-long-enough-key-1,,a-long-enough-key-2']),
  ...bad('KFS_SERVE_LOG_TOPIC', ['has space', 'kfs.dead-letters', '__consumer_offsets']),
  ...bad('KFS_SERVE_LOG_SAMPLE', ['2', '-0.1', 'NaN', '1%', 'half'], { with: LOG_TOPIC }),
  ...bad('KFS_SERVE_LOG_SAMPLE', ['0.5'], { needs: 'KFS_SERVE_LOG_TOPIC' }),
  ...bad('KFS_SERVE_TRANSPORT', ['uwebsockets', 'http']),
  ...bad('KFS_METRICS_PORT', ports),
  ...bad('KFS_CHECKPOINT_INTERVAL_MS', timers),
  ...bad('KFS_CHECKPOINT_MAX_RECORDS', counts),
  ...bad('KFS_STOP_TIMEOUT_MS', timers, { args: ['run', '--until-caught-up', '--json'] }),
  ...bad('KFS_SNAPSHOT_RETENTION_MS', [...durations, '99999999999999999999']),
  ...bad('KFS_SNAPSHOT_MIN_KEEP', counts),
  ...bad('KFS_SNAPSHOT_MAX_KEEP', counts),
  // Fewer than the newest snapshots always kept (KFS_SNAPSHOT_MIN_KEEP, 100 unless set).
  ...bad('KFS_SNAPSHOT_MAX_KEEP', ['99', '1']),
  ...bad('KFS_SNAPSHOT_MAX_KEEP', ['500'], { with: { KFS_SNAPSHOT_MIN_KEEP: '600' } }),
  ...bad('KFS_ORPHAN_MIN_AGE_MS', [...durations, '99999999999999999999']),
  // `off` turns it off; nothing else that is not an age does.
  ...bad('KFS_COMPACT_OLDER_THAN_MS', [...durations, '99999999999999999999', 'no', 'false', 'offf'], { says: /or off/ }),
  ...bad('KFS_COMPACT_EVERY_MS', [...durations, '99999999999999999999']),
  ...bad('KFS_COMPACT_MAX_PARTITIONS', counts),
  ...bad('KFS_COMPACT_MAX_ARCHIVE_FILES', counts),
  ...bad('KFS_PARQUET_WORKER', ['2', 'maybe', 'off']),
  ...bad('KFS_FEATURES', ['/no/such/features.ts', 'no/such/folder', 'README.md', '/etc', PIPE], { args: ['apply', '--json'] }),
  ...bad('KFS_LOG_LEVEL', ['verbose', 'loud', '3']),
  // Not configuration-file settings, read from the environment alone.
  ...bad('KFS_DEBUG', ['maybe', '2', 'on']),
  // A pipe nobody writes (and /dev/zero) were read for ever: no command started, and none stopped.
  ...bad('KFS_CONFIG_FILE', ['/no/such/kfs.json', '/tmp', '/dev/null', '/dev/zero', PIPE]),
]

/** A setting refused: exit 1, one line on stderr naming it, and the one JSON error on stdout. */
function assertRefused(r: CliResult, s: BadSetting): void {
  const what = `${s.variable}=${s.value}${s.needs === undefined ? '' : ` without ${s.needs}`}`
  assert.equal(r.code, 1, `${what}: exit ${r.code}, expected 1\n${r.stdout}${r.stderr}`)
  assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at .+:\d+:\d+\)?\n/, `${what}: a crash, not a config error:\n${r.stderr}`)
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line\n${r.stderr}`)
  assert.ok(r.stderr.includes(s.variable), `${what}: stderr does not name ${s.variable}:\n${r.stderr}`)
  if (s.needs !== undefined) assert.ok(r.stderr.includes(s.needs), `${what}: stderr does not name ${s.needs}:\n${r.stderr}`)
  if (s.says !== undefined) assert.match(r.stderr, s.says, `${what}: the message does not say what is wrong`)
  if (s.variable === 'KFS_S3_SECRET_ACCESS_KEY') assert.ok(!r.stderr.includes('hunter2'), 'a secret is never echoed')
  const doc = JSON.parse(r.stdout) as { error: { code: string; context?: { variable?: string } } }
  assert.equal(doc.error.code, 'CONFIG_INVALID', `${what}: ${r.stdout}`)
  const named = doc.error.context?.variable
  assert.ok(named === s.variable || named === s.needs, `${what}: context.variable ${named}`)
}

void describe('cli > every KFS_* setting with every kind of bad value: exit 1 naming the variable', () => {
  for (const s of SETTINGS) {
    const args = s.args ?? ['tables', '--json']
    void test(`${s.variable}=${JSON.stringify(s.value)}${s.needs === undefined ? '' : ` without ${s.needs}`}: kfs ${args.join(' ')}`, async () => {
      assertRefused(await runKfsInProcess(args, dataDir, {}, { ...s.with, [s.variable]: s.value }), s)
    })
  }

  void test('the table holds every variable the configuration reads, and the two read from the environment alone', () => {
    const covered = new Set(SETTINGS.map((s) => s.variable))
    for (const name of [...CONFIG_VARIABLES, 'KFS_DEBUG', 'KFS_CONFIG_FILE'])
      assert.ok(covered.has(name), `no bad value of ${name}`)
  })
})

void describe('cli > good values of the newly checked settings still pass', () => {
  const good: readonly Record<string, string>[] = [
    { KFS_SERVE_HOST: '0.0.0.0' },
    { KFS_SERVE_HOST: '::1' },
    { KFS_SERVE_HOST: 'localhost' },
    { KFS_SERVE_HOST: 'kfs-serve.internal' },
    { ...BUCKET, KFS_S3_REGION: 'eu-west-1' },
    { ...BUCKET, KFS_S3_REGION: 'minio_local' },
    { ...REDIS, KFS_REDIS_URL: 'redis://127.0.0.1:6379/2' },
    { ...REDIS, KFS_REDIS_URL: 'rediss://user:pw@redis.internal/' },
    { ...BROKERS, KFS_KAFKA_CLIENT_ID: 'kfs-prod' },
    { KFS_DEBUG: 'true' },
    { KFS_DEBUG: '0' },
    { KFS_COMPACT_OLDER_THAN_MS: 'off' },
    { KFS_COMPACT_OLDER_THAN_MS: 'OFF' },
    { KFS_COMPACT_OLDER_THAN_MS: '7d' },
  ]
  for (const env of good) {
    void test(`${JSON.stringify(env)}: the configuration loads`, async () => {
      // Not through a command: these name servers (S3, Redis, Kafka) the unit tests do not start.
      const { loadConfig } = await import('../../../main/config.ts')
      assert.doesNotThrow(() => loadConfig({ KFS_DATA_DIR: dataDir, ...env }))
      const { debugStacks } = await import('../../../main/config-source.ts')
      assert.doesNotThrow(() => debugStacks(env))
    })
  }
})

void describe('cli > every command refuses a bad setting before doing anything; help still works', () => {
  /** Arguments each command accepts on the applied demo module (a bad setting must stop every one). */
  const VALID: Readonly<Record<string, readonly string[]>> = {
    apply: [],
    registry: ['list'],
    produce: ['--generate', '3'],
    ingest: ['--source', 'clicks'],
    run: ['--until-caught-up', '--idle', '1s'],
    serve: ['--port', '0'],
    replay: ['--views', 'user_clicks'],
    'verify-parity': [],
    'training-set': ['--rebuild', '0123456789abcdef', '--out', join(dataDir, 'x.parquet')],
    'skew-report': [],
    codegen: ['--service', 'fraud_model'],
    'dead-letters': ['list'],
    compact: [],
    tables: [],
    groups: ['list'],
  }
  const setting: BadSetting = { variable: 'KFS_CHECKPOINT_MAX_RECORDS', value: 'many' }
  for (const command of commands) {
    void test(`kfs ${command.name} with ${setting.variable}=${setting.value}: exit 1 naming it; --help exit 0`, async () => {
      const valid = VALID[command.name]
      assert.ok(valid !== undefined, `no valid arguments for kfs ${command.name} in this table`)
      const env = { [setting.variable]: setting.value }
      assertRefused(await runKfsInProcess([command.name, ...valid, '--json'], dataDir, {}, env), setting)
      const help = await runKfsInProcess([command.name, '--help'], dataDir, {}, env)
      assert.equal(help.code, 0, help.stderr)
      assert.match(help.stdout, new RegExp(`^Usage: kfs ${command.name}`))
    })
  }
})
