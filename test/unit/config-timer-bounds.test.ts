/**
 * Every millisecond setting of the configuration (each `*_MS` variable) but the ages (snapshot
 * retention, orphan age, compaction age and pace: compared with timestamps) ends up as a timeout or interval, and Node's timers replace a delay past 2^31 − 1 ms (about 24.8 days) by 1 ms: a
 * KFS_REDIS_COMMAND_TIMEOUT_MS of 30 days would time every command out at once. So each is
 * refused above that bound where the configuration is read, naming the variable and the bound.
 *
 * The table is keyed by the variables themselves: a new `*_MS` variable without a row fails to
 * type-check, and the first test fails if the table and CONFIG_VARIABLES ever disagree.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MAX_TIMER_MS } from '../../core/duration.ts'
import { ConfigError } from '../../core/errors.ts'
import { loadConfig, type Env, type KfsConfig } from '../../main/config.ts'
import { CONFIG_VARIABLES, type ConfigVariable } from '../../main/config-variables.ts'

/** Ages compared with timestamps, never armed as timers (main/config-source.ts `ageMs`): not bounded by a timer's reach. */
const AGE_SETTINGS = {
  KFS_SNAPSHOT_RETENTION_MS: (c: KfsConfig) => c.snapshotRetention.maxAgeMs,
  KFS_ORPHAN_MIN_AGE_MS: (c: KfsConfig) => c.orphanMinAgeMs,
  KFS_COMPACT_OLDER_THAN_MS: (c: KfsConfig) => c.featureCompactionAgeMs,
  KFS_COMPACT_EVERY_MS: (c: KfsConfig) => c.compactionPacing.everyMs,
} as const

type MsVariable = Exclude<Extract<ConfigVariable, `${string}_MS`>, keyof typeof AGE_SETTINGS>

const kafka = { KFS_KAFKA_BROKERS: '127.0.0.1:19092' }
const consumerGroup = (c: KfsConfig) => (c.eventLog.kind === 'kafka' ? c.eventLog.consumerGroup : undefined)

/** Per variable: what else it needs set to be read, the largest value it may take, and where it lands. */
const MS_SETTINGS: Record<
  MsVariable,
  { readonly with: Env; readonly largest: number; readonly read: (c: KfsConfig) => number | undefined }
> = {
  KFS_KAFKA_SESSION_TIMEOUT_MS: { with: kafka, largest: MAX_TIMER_MS, read: (c) => consumerGroup(c)?.sessionTimeoutMs },
  // The heartbeat must stay below the session timeout, so its largest is one less.
  KFS_KAFKA_HEARTBEAT_INTERVAL_MS: {
    with: { ...kafka, KFS_KAFKA_SESSION_TIMEOUT_MS: String(MAX_TIMER_MS) },
    largest: MAX_TIMER_MS - 1,
    read: (c) => consumerGroup(c)?.heartbeatIntervalMs,
  },
  KFS_KAFKA_REBALANCE_TIMEOUT_MS: { with: kafka, largest: MAX_TIMER_MS, read: (c) => consumerGroup(c)?.rebalanceTimeoutMs },
  KFS_REDIS_COMMAND_TIMEOUT_MS: {
    with: { KFS_REDIS_URL: 'redis://127.0.0.1:6379' },
    largest: MAX_TIMER_MS,
    read: (c) => (c.onlineStore.kind === 'redis' ? c.onlineStore.commandTimeoutMs : undefined),
  },
  KFS_CHECKPOINT_INTERVAL_MS: { with: {}, largest: MAX_TIMER_MS, read: (c) => c.checkpointIntervalMs },
  KFS_STOP_TIMEOUT_MS: { with: {}, largest: MAX_TIMER_MS, read: (c) => c.stopTimeoutMs },
  // An age, not a timer, but read as every other *_MS: one vocabulary, one bound.
  KFS_EMBEDDED_LOG_HANDOVER_MS: {
    with: {},
    largest: MAX_TIMER_MS,
    read: (c) => (c.eventLog.kind === 'embedded' ? c.eventLog.handOverMs : undefined),
  },
}

/** Past the bound, in every spelling: ms, the first ms too many, days and weeks, far past it. */
const TOO_LONG = [String(MAX_TIMER_MS + 1), '2147483648ms', '25d', '4w', '30d', '99999999999']

const noFile = (path: string): string => assert.fail(`no config file expected, asked for ${path}`)

void describe('main > config > millisecond settings are bounded by what a Node timer can wait', () => {
  void test('the table covers every *_MS variable', () => {
    assert.deepEqual([...Object.keys(MS_SETTINGS), ...Object.keys(AGE_SETTINGS)].sort(), CONFIG_VARIABLES.filter((v) => v.endsWith('_MS')).sort())
  })

  for (const [variable, read] of Object.entries(AGE_SETTINGS)) {
    void test(`${variable}: an age, never a timer — a month, a year, whole ms up to 2^53 taken as given`, () => {
      for (const [value, ms] of [['30d', 30 * 86_400_000], ['4w', 28 * 86_400_000], ['365d', 365 * 86_400_000], [String(MAX_TIMER_MS + 1), MAX_TIMER_MS + 1], [String(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER]] as const) {
        assert.equal(read(loadConfig({ [variable]: value }, noFile)), ms, value)
      }
    })

    void test(`${variable}: past whole ms, zero or not a duration is a config error naming the variable`, () => {
      for (const value of ['99999999999999999999', '0', 'soon']) {
        assert.throws(
          () => loadConfig({ [variable]: value }, noFile),
          (err: unknown) => err instanceof ConfigError && err.context?.variable === variable && /positive number of milliseconds/.test(err.message),
          value,
        )
      }
    })
  }

  for (const [variable, setting] of Object.entries(MS_SETTINGS) as [MsVariable, (typeof MS_SETTINGS)[MsVariable]][]) {
    void test(`${variable}: up to ${setting.largest} ms is taken as given`, () => {
      for (const value of [String(setting.largest), '24d']) {
        const config = loadConfig({ ...setting.with, [variable]: value }, noFile)
        assert.equal(setting.read(config), value === '24d' ? 24 * 86_400_000 : setting.largest, value)
      }
    })

    void test(`${variable}: longer is a config error naming the variable and the bound`, () => {
      for (const value of TOO_LONG) {
        assert.throws(
          () => loadConfig({ ...setting.with, [variable]: value }, noFile),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError, `${value}: ${String(err)}`)
            assert.equal(err.context?.variable, variable)
            assert.match(
              err.message,
              new RegExp(`^${variable}="${value}" \\(from environment\\) is invalid: expected at most 2147483647 ms`),
            )
            return true
          },
          value,
        )
      }
    })
  }

  void test('the bound is the one Node keeps: a timer of MAX_TIMER_MS is kept, one more ms is replaced by 1 ms with a warning', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error): void => void warnings.push(w.name)
    process.on('warning', onWarning)
    try {
      clearTimeout(setTimeout(() => assert.fail('must not fire'), MAX_TIMER_MS))
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(warnings, [], 'no warning at the bound')
      clearTimeout(setTimeout(() => assert.fail('must not fire'), MAX_TIMER_MS + 1))
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(warnings, ['TimeoutOverflowWarning'], 'past the bound')
    } finally {
      process.off('warning', onWarning)
    }
  })
})
