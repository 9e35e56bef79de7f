/**
 * The Redis online store's health (adapters/online-store/redis/server-health.ts): `run_id` and
 * `evicted_keys` read from an INFO reply, whatever the order of sections, CRLF line ends and all;
 * a reply without `run_id` is no health at all (SOURCE_UNAVAILABLE), never an identity of ''.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { healthOf } from '../../../adapters/online-store/redis/server-health.ts'

void test('run_id and evicted_keys are read from an INFO server/stats reply', () => {
  const info = [
    '# Server',
    'redis_version:7.0.15',
    'run_id:9f1c0e4b2a',
    'tcp_port:6379',
    '',
    '# Stats',
    'expired_keys:12',
    'evicted_keys:345',
    'evicted_clients:0',
    '',
  ].join('\r\n')
  assert.deepEqual(healthOf(info), { instance: '9f1c0e4b2a', evictedKeys: 345 })
  assert.deepEqual(healthOf('# Stats\nevicted_keys:0\n# Server\nrun_id:abc\n'), { instance: 'abc', evictedKeys: 0 })
})

void test('a reply without run_id is refused; one without evicted_keys counts none', () => {
  assert.throws(
    () => healthOf('# Stats\nevicted_keys:3\n'),
    (err: Error & { code?: string }) => err.code === 'SOURCE_UNAVAILABLE',
  )
  assert.deepEqual(healthOf('run_id:x\n'), { instance: 'x', evictedKeys: 0 })
})
