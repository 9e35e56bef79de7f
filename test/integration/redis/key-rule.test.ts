/**
 * The key rule at the Redis online store, the last guard (docs/semantics.md §20), over the corpus
 * (test/unit/key-doors/corpus.ts): a write of any bad key — a single key or a part of a composite
 * one — is refused SINK_REJECTED with core's reason, nothing of its batch written; a read of one
 * is refused BAD_REQUEST with the same reason. Every tricky-but-valid key is written, read back by
 * the same key, and served by `POST /v1/features` and `GET /v1/features/:view/:key` over Redis.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import { createServer } from '../../../serving/server/index.ts'
import { entity, feature, row, view } from '../../contracts/online-store.ts'
import { BAD_PARTS, GOOD_PARTS, reasonOf } from '../../unit/key-doors/corpus.ts'
import { captureLogger } from '../../unit/serving/server-harness.ts'
import { redisUrl, uniquePrefix } from './redis-env.ts'

const NOW = 1_700_000_000_000
const users = view('users', [feature('n', 'long'), feature('name', 'string')], {
  entity: entity('user', ['user_id']),
  ttlMs: 3_600_000,
})
const pairs = view('pairs', [feature('n', 'long')], { entity: entity('user_item', ['user_id', 'item_id']), ttlMs: 3_600_000 })
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

void describe('online store > redis > the key rule', () => {
  const prefix = uniquePrefix()
  let store: RedisOnlineStore
  let raw: Redis
  before(async () => {
    store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: prefix })
    raw = new Redis(redisUrl())
    await store.ready()
  })
  after(async () => {
    await store.close()
    raw.disconnect()
  })

  void test("each bad key: a write refused SINK_REJECTED and a read BAD_REQUEST, with core's reason; nothing written", async () => {
    const problems: string[] = []
    for (const b of BAD_PARTS) {
      const reason = reasonOf(b.part)
      const cases = [
        [users, b.part, ''],
        [pairs, encodeEntityKey(['u1', b.part]), ' (part 2 of 2)'],
        [pairs, encodeEntityKey([b.part, 'u1']), ' (part 1 of 2)'],
      ] as const
      for (const [v, key, where] of cases) {
        const is = new RegExp(`is ${escaped(reason + where)}$`)
        const values = v === users ? [1, 'x'] : [1]
        const wrote = await store.writeRows(v, [row('fine', NOW, values), row(key, NOW, values)]).then(
          () => 'written',
          (err: Error & { code?: string }) => `${err.code}: ${err.message}`,
        )
        if (!wrote.startsWith('SINK_REJECTED') || !is.test(wrote)) problems.push(`${b.what} write: ${wrote.slice(0, 200)}`)
        const read = await store.readRows([{ view: v, entityKey: key, features: ['n'] }], NOW).then(
          () => 'read',
          (err: Error & { code?: string }) => `${err.code}: ${err.message}`,
        )
        if (!read.startsWith('BAD_REQUEST') || !is.test(read)) problems.push(`${b.what} read: ${read.slice(0, 200)}`)
      }
    }
    assert.deepEqual(problems, [])
    assert.deepEqual(await raw.keys(`${prefix}:*`), [], 'no refused batch wrote anything')
  })

  void test('each valid key is written, read back by the same key, and served over Redis', async () => {
    await store.writeRows(
      users,
      GOOD_PARTS.map((g, i) => row(g.part, NOW - 1000, [i, g.part])),
    )
    const reads = await store.readRows(
      GOOD_PARTS.map((g) => ({ view: users, entityKey: g.part, features: ['n', 'name'] })),
      NOW,
    )
    assert.deepEqual(
      reads.map((r) => [r.status, ...r.values]),
      GOOD_PARTS.map((g, i) => ['PRESENT', i, g.part]),
    )
    const server = createServer({
      store,
      views: [users],
      services: [],
      requestFeatures: [],
      options: { clock: { nowMs: () => NOW, sleep: async () => {} }, logger: captureLogger() },
    })
    const port = await server.listen(0)
    try {
      const keys = GOOD_PARTS.map((g) => g.part)
      const res = await fetch(`http://127.0.0.1:${port}/v1/features`, {
        method: 'POST',
        body: JSON.stringify({ entities: { user_id: keys }, features: ['users:n'] }),
      })
      const body = (await res.json()) as { rows: { entities: { user_id: string }; values: unknown[] }[] }
      assert.deepEqual(
        body.rows.map((r) => [r.entities.user_id, r.values[0]]),
        keys.map((k, i) => [k, i]),
      )
      for (const [i, k] of keys.entries()) {
        const one = (await (await fetch(`http://127.0.0.1:${port}/v1/features/users/${encodeURIComponent(k)}`)).json()) as {
          status: string
          features: { n: unknown }
        }
        assert.deepEqual([one.status, one.features.n], ['PRESENT', i], k.slice(0, 20))
      }
    } finally {
      await server.close()
    }
  })
})
