import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError } from '../../../core/errors.ts'
import { loadConfig } from '../../../main/config.ts'

void describe('serving > served log > config', () => {
  void test('off unless KFS_SERVE_LOG_TOPIC is set; the sample rate defaults to 1 %', () => {
    assert.equal(loadConfig({}).serveLog, undefined)
    assert.deepEqual(loadConfig({ KFS_SERVE_LOG_TOPIC: 'kfs.served-features' }).serveLog, { topic: 'kfs.served-features', sampleRate: 0.01 })
    for (const [raw, rate] of [['0', 0], ['1', 1], ['0.25', 0.25], ['.5', 0.5], ['1.0', 1]] as const) {
      assert.equal(loadConfig({ KFS_SERVE_LOG_TOPIC: 't', KFS_SERVE_LOG_SAMPLE: raw }).serveLog?.sampleRate, rate, raw)
    }
  })

  void test('bad values name the variable', () => {
    for (const env of [
      { KFS_SERVE_LOG_TOPIC: 't', KFS_SERVE_LOG_SAMPLE: '1.5' },
      { KFS_SERVE_LOG_TOPIC: 't', KFS_SERVE_LOG_SAMPLE: '-0.1' },
      { KFS_SERVE_LOG_TOPIC: 't', KFS_SERVE_LOG_SAMPLE: '10%' },
      { KFS_SERVE_LOG_TOPIC: 'bad topic' },
      { KFS_SERVE_LOG_TOPIC: '__internal' },
      { KFS_SERVE_LOG_SAMPLE: '0.1' },
    ]) {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && /KFS_SERVE_LOG_(TOPIC|SAMPLE)/.test(err.message), JSON.stringify(env))
    }
  })
})
