/**
 * A served-log outage costs log records, never requests: the server logs to a Kafka broker that
 * is not there (a closed port), keeps answering 200, and counts the dropped records in /metrics.
 */
import assert from 'node:assert/strict'
import { createServer as createTcpServer } from 'node:net'
import { test } from 'node:test'
import { KafkaBestEffortProducer } from '../../../adapters/event-log/kafka/best-effort-producer.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { ServedLog } from '../../../serving/served-log/index.ts'
import { createServer } from '../../../serving/server/index.ts'
import { row } from '../../contracts/online-store.ts'
import { userStats } from '../../unit/serving/fixtures.ts'

async function closedPort(): Promise<number> {
  const probe = createTcpServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

void test('served log > Kafka unreachable: requests still answer 200, dropped records are counted', async () => {
  const store = new EmbeddedOnlineStore()
  await store.writeRows(userStats, [row('u1', Date.now(), [1, 2, 'Oslo'])])
  const producer = new KafkaBestEffortProducer({ brokers: [`127.0.0.1:${await closedPort()}`], topic: 'served-nowhere', partitions: 1, retries: 1 })
  const log = new ServedLog(producer, async () => (event) => new TextEncoder().encode(JSON.stringify(event)), { sampleRate: 1, flushIntervalMs: 10 })
  const server = createServer({ store, views: [userStats], options: { servedLog: log } })
  const base = `http://127.0.0.1:${await server.listen(0)}`
  try {
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/v1/features/user_stats/u1`)
      assert.equal(res.status, 200)
      assert.equal(((await res.json()) as { features: { clicks_1h: number } }).features.clicks_1h, 1)
    }
    await log.flush()
    const stats = log.stats()
    assert.equal(stats.sampledRequests, 20)
    assert.equal(stats.sent, 0)
    assert.equal(stats.dropped.send_failed + stats.dropped.buffer_full, 20)
    const metrics = await (await fetch(`${base}/metrics`)).text()
    assert.match(metrics, new RegExp(`kfs_serving_served_log_records_total\\{outcome="send_failed"\\} ${stats.dropped.send_failed}`))
    assert.match(metrics, /kfs_serving_served_log_records_total\{outcome="sent"\} 0/)
  } finally {
    await server.close()
    await log.close()
  }
})
