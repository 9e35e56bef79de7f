import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { feature, row, runOnlineStoreContract, view } from '../../contracts/online-store.ts'
import { redisUrl, uniquePrefix } from './redis-env.ts'
import { ROWS_PER_CALL } from '../../../adapters/online-store/redis/write-row-script.ts'

runOnlineStoreContract('redis', async () => {
  const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: uniquePrefix() })
  await store.ready()
  return { store, advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), nowMs: () => Date.now() }
})

const stats = view('stats', [feature('count', 'long'), feature('sum', 'double')], { ttlMs: 60_000 })

void test('online store > redis > one hash per (view, version, entity), hash-tagged, with a TTL', async () => {
  const prefix = uniquePrefix()
  const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: prefix })
  const raw = new Redis(redisUrl())
  try {
    await store.ready()
    await store.writeRows(stats, [row('u1', 1_700_000_000_123, [4, null])])
    const key = `${prefix}:stats:1:{u1}`
    assert.deepEqual(await raw.hgetall(key), { '@as_of': '1700000000123', count: '4' })
    const pttl = await raw.pttl(key)
    assert.ok(pttl > 0 && pttl <= 60_000, `PTTL ${pttl}`)
  } finally {
    await store.close()
    raw.disconnect()
  }
})

void test('online store > redis > reloads the script after SCRIPT FLUSH (NOSCRIPT fallback)', async () => {
  const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: uniquePrefix() })
  const raw = new Redis(redisUrl())
  try {
    await store.ready()
    await raw.script('FLUSH')
    assert.deepEqual(await store.writeRows(stats, [row('u1', 10, [1, 1]), row('u2', 10, [2, 2])]), { written: 2, stale: 0 })
    await raw.script('FLUSH')
    const reads = await store.readRows(['u2', 'u1', 'u3', 'u2'].map((entityKey) => ({ view: stats, entityKey, features: ['count'] })), 20)
    assert.deepEqual(reads.map((r) => r.values[0]), [2, 1, null, 2])
  } finally {
    await store.close()
    raw.disconnect()
  }
})

void test('online store > redis > unreachable Redis: reads fail fast with SOURCE_UNAVAILABLE, writes retry then give up', async () => {
  // A port that refuses connections: bind one, note it, close it.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
  const retries: number[] = []
  const store = new RedisOnlineStore({
    url: `redis://127.0.0.1:${port}`,
    writeAttempts: 3,
    writeMinDelayMs: 1,
    writeMaxDelayMs: 2,
    logger: {
      fatal() {},
      error() {},
      warn: (obj: object | string) => void (typeof obj === 'object' && retries.push((obj as { attempt: number }).attempt)),
      info() {},
      debug() {},
      trace() {},
      child() {
        return this
      },
    },
  })
  try {
    assert.equal(store.isReady(), false)
    await assert.rejects(store.readRows([{ view: stats, entityKey: 'u1', features: ['count'] }], 0), { name: 'SourceError', code: 'SOURCE_UNAVAILABLE' })
    await assert.rejects(store.writeRows(stats, [row('u1', 1, [1, 1])]), (err: Error & { code?: string; cause?: { code?: string } }) => {
      assert.equal(err.code, 'RETRIES_EXHAUSTED')
      assert.equal(err.cause?.code, 'SINK_UNAVAILABLE')
      return true
    })
    assert.deepEqual(retries, [1, 2])
  } finally {
    await store.close()
  }
})

void test('online store > redis > a write spanning many script calls lands every fresh row and no stale one', async () => {
  const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: uniquePrefix() })
  try {
    await store.ready()
    const keys = Array.from({ length: 3 * ROWS_PER_CALL + 5 }, (_, i) => `k${i}`)
    await store.writeRows(stats, keys.filter((_, i) => i % 3 === 0).map((k) => row(k, 500, [-1, -1])))
    // Every third key holds a newer row already, so those rows of this write are stale.
    const result = await store.writeRows(stats, keys.map((k, i) => row(k, 100 + i, [i, i / 2])))
    const stale = keys.filter((_, i) => i % 3 === 0).length
    assert.deepEqual(result, { written: keys.length - stale, stale })
    const reads = await store.readRows(keys.map((entityKey) => ({ view: stats, entityKey, features: ['count', 'sum'] })), 1_000)
    assert.deepEqual(
      reads.map((r) => [r.asOfMs, ...r.values]),
      keys.map((_, i) => (i % 3 === 0 ? [500, -1, -1] : [100 + i, i, i / 2])),
    )
  } finally {
    await store.close()
  }
})

void test('online store > redis > a string with a lone surrogate is stored as U+FFFD, not refused', async () => {
  const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: uniquePrefix() })
  const names = view('names', [feature('name', 'string')], { ttlMs: 60_000 })
  try {
    await store.ready()
    assert.deepEqual(await store.writeRows(names, [row('u1', 10, ['a\ud800b'])]), { written: 1, stale: 0 })
    const [read] = await store.readRows([{ view: names, entityKey: 'u1', features: ['name'] }], 20)
    assert.deepEqual(read?.values, ['a\ufffdb'])
  } finally {
    await store.close()
  }
})

void test('online store > redis > a connection ioredis ended on its own is reconnected; a closed store fails at once with SINK_CLOSED', async () => {
  // ioredis's own "disconnect and reconnect" (what it does on a failed ready check) racing a
  // connect ends the client for good: status 'end', every command "Connection is closed".
  const client = new Redis(redisUrl(), { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  void client.connect().catch(() => {})
  client.disconnect(true)
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(client.status, 'end', 'the ioredis race this test relies on still ends the client')
  const store = new RedisOnlineStore({ client, keyPrefix: uniquePrefix(), writeMinDelayMs: 10, writeMaxDelayMs: 100 })
  try {
    assert.deepEqual(await store.writeRows(stats, [row('u1', 10, [1, 1])]), { written: 1, stale: 0 })
    const [read] = await store.readRows([{ view: stats, entityKey: 'u1', features: ['count'] }], 20)
    assert.deepEqual(read!.values, [1])
    // The same state again, reached by a read first.
    client.disconnect()
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(client.status, 'end')
    const reads = await retryUntilAnswered(() => store.readRows([{ view: stats, entityKey: 'u1', features: ['count'] }], 20))
    assert.deepEqual(reads[0]!.values, [1])
  } finally {
    await store.close()
  }
  // Closed by its owner: no retry budget is spent (a shutdown must not wait minutes on it).
  await assert.rejects(store.writeRows(stats, [row('u2', 10, [1, 1])]), { name: 'SinkWriteError', code: 'SINK_CLOSED' })
  await assert.rejects(store.readRows([{ view: stats, entityKey: 'u1', features: ['count'] }], 20), { code: 'SINK_CLOSED' })
  client.disconnect()
})

void test('online store > redis > an ended change-feed connection is reconnected and subscribed again', async () => {
  const client = new Redis(redisUrl(), { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  let subscriber: Redis | undefined
  const duplicate = client.duplicate.bind(client)
  client.duplicate = (...args: Parameters<Redis['duplicate']>) => (subscriber = duplicate(...args))
  const store = new RedisOnlineStore({ client, keyPrefix: uniquePrefix() })
  const seen: string[] = []
  try {
    await store.ready()
    const unsubscribe = await store.subscribeChanges([stats], (change) => seen.push(change.entityKey))
    assert.ok(subscriber, 'the store subscribes on a connection of its own')
    const ended = once(subscriber, 'end')
    subscriber.disconnect()
    await ended
    await retryUntilAnswered(async () => {
      await store.writeRows(stats, [row(`u${seen.length}-${Date.now()}`, 10, [1, 1])])
      await new Promise((resolve) => setTimeout(resolve, 20))
      if (seen.length === 0) throw new Error('no change seen yet')
    })
    assert.equal(subscriber.status, 'ready')
    await unsubscribe()
  } finally {
    await store.close()
    client.disconnect()
  }
})

/** Reads fail fast while a connection is being made (no offline queue): the caller retries, as the server's 503 tells clients to. */
async function retryUntilAnswered<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read()
    } catch (err: unknown) {
      if (attempt === 50) throw err
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

void test('online store > redis > the reads of one poll phase leave in one write, and every one is answered', async () => {
  const client = new Redis(redisUrl())
  const store = new RedisOnlineStore({ client, keyPrefix: uniquePrefix() })
  try {
    await store.ready()
    await store.writeRows(stats, [row('u1', 10, [1, 1.5]), row('u2', 10, [2, 2.5])])
    // Count what reaches the socket's own write calls (Node gives a corked socket's buffer to _writev at once).
    const socket = (client as unknown as { stream: { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void } }).stream
    const writes: number[] = []
    const write = socket._write.bind(socket)
    const writev = socket._writev.bind(socket)
    socket._write = (...a: unknown[]) => (writes.push(1), write(...a))
    socket._writev = (chunks: unknown[], cb: unknown) => (writes.push(chunks.length), writev(chunks, cb))
    const keys = Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? 'none' : i % 3 === 0 ? 'u1' : 'u2'))
    const reads = await Promise.all(keys.map((entityKey) => store.readRows([{ view: stats, entityKey, features: ['count', 'sum'] }], 20)))
    assert.deepEqual(
      reads.map(([r]) => r?.values),
      keys.map((k) => (k === 'u1' ? [1, 1.5] : k === 'u2' ? [2, 2.5] : [null, null])),
    )
    assert.deepEqual(writes, [30], 'the 30 reads went out as one write of 30 commands')
    // The next poll phase corks again: a later read is answered too.
    const [later] = await store.readRows([{ view: stats, entityKey: 'u2', features: ['count'] }], 20)
    assert.deepEqual(later?.values, [2])
  } finally {
    await store.close()
    client.disconnect()
  }
})
