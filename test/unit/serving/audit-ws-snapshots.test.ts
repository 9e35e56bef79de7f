/**
 * Which snapshots a WebSocket subscribe message gets: one per topic the socket holds after the
 * message. A message that subscribed and unsubscribed one topic (`{"subscribe":[u1],
 * "unsubscribe":[u1]}`) got a snapshot of u1 though the socket held no such subscription — the
 * client was sent state for a topic it had just dropped. Each message of the table is followed by
 * a sentinel subscribe, whose snapshot ends what the message's snapshots can be.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openWs } from './ws-client.ts'
import { startServer, type TestServer } from './server-harness.ts'

const topic = (entity: string) => ({ view: 'user_stats', entity })

/** A message, the topic count it leaves, and the entities whose snapshots it gets (in order). */
const CASES: readonly { what: string; before?: unknown; message: unknown; topics: number; snapshots: readonly string[] }[] = [
  {
    what: 'subscribe and unsubscribe one topic',
    message: { subscribe: [topic('u1')], unsubscribe: [topic('u1')] },
    topics: 0,
    snapshots: [],
  },
  {
    what: 'two subscribed, one of them unsubscribed',
    message: { subscribe: [topic('u1'), topic('u2')], unsubscribe: [topic('u1')] },
    topics: 1,
    snapshots: ['u2'],
  },
  { what: 'one topic twice', message: { subscribe: [topic('u1'), topic('u1')] }, topics: 1, snapshots: ['u1'] },
  { what: 'unsubscribe a topic never held', message: { unsubscribe: [topic('u1')] }, topics: 0, snapshots: [] },
  {
    what: 'a held topic dropped, another added',
    before: { subscribe: [topic('u1')] },
    message: { subscribe: [topic('u2')], unsubscribe: [topic('u1')] },
    topics: 1,
    snapshots: ['u2'],
  },
  {
    what: 'a held topic asked for again',
    before: { subscribe: [topic('u1')] },
    message: { subscribe: [topic('u1')] },
    topics: 1,
    snapshots: ['u1'],
  },
]

void describe('serving > audit > WebSocket snapshots follow what the socket holds', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  for (const c of CASES) {
    void test(`${c.what}: ${c.topics} topic(s), snapshots of [${c.snapshots.join(', ')}]`, async () => {
      const ws = await openWs(server.port, '/v1/subscribe')
      try {
        const next = async () => JSON.parse(await ws.next()) as { type: string; topics?: number; entity?: string }
        if (c.before !== undefined) {
          ws.send(JSON.stringify(c.before))
          assert.equal((await next()).type, 'subscribed')
          assert.equal((await next()).type, 'snapshot')
        }
        ws.send(JSON.stringify(c.message))
        assert.deepEqual(await next(), { type: 'subscribed', topics: c.topics })
        ws.send(JSON.stringify({ subscribe: [topic('sentinel')] }))
        const snapshots: string[] = []
        for (;;) {
          const m = await next()
          if (m.type === 'subscribed') continue
          assert.equal(m.type, 'snapshot')
          if (m.entity === 'sentinel') break
          snapshots.push(m.entity!)
        }
        assert.deepEqual(snapshots, c.snapshots)
      } finally {
        ws.close()
      }
    })
  }
})
