/**
 * Serving robustness, keys no UTF-8 can carry: a binary WebSocket frame that is not UTF-8, and a
 * lone surrogate (`"\ud800"` in JSON) as a join key, over HTTP and WebSocket. Each is refused
 * naming the problem, not read as U+FFFD — the key of another entity (`\ufffd`) in Redis, where
 * the key name is UTF-8. The socket stays open; well-formed keys, astral characters included,
 * are served as before.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openWs, type TestWs } from './ws-client.ts'
import { startServer, type TestServer } from './server-harness.ts'

/** Strings JSON can carry that are not well-formed Unicode. */
const LONE = ['\ud800', 'a\udfff', '\udc00\ud800', 'x\ud83d']

void describe('serving > audit > keys that are not UTF-8', () => {
  let server: TestServer
  let ws: TestWs
  before(async () => {
    server = await startServer()
    ws = await openWs(server.port, '/v1/subscribe')
  })
  after(async () => {
    ws.close()
    await server.close()
  })

  const post = async (body: unknown): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${server.base}/v1/features`, { method: 'POST', body: JSON.stringify(body) })
    return { status: res.status, text: await res.text() }
  }
  const answer = async (): Promise<{ type: string; error?: { code: string; message: string }; entity?: string; status?: string }> =>
    JSON.parse(await ws.next()) as { type: string }

  for (const key of LONE) {
    const shown = JSON.stringify(key)
    void test(`POST: ${shown} as a read join key, and as a served one the request does not read, is a 400`, async () => {
      for (const entities of [{ user_id: [key] }, { user_id: ['u1'], item_id: [key] }]) {
        const res = await post({ entities, features: ['user_stats:clicks_1h'] })
        assert.equal(res.status, 400, res.text)
        assert.match(res.text, /is invalid: not well-formed Unicode \(it holds a lone surrogate\)/)
      }
    })

    void test(`WebSocket: subscribing to ${shown} is an error message, and the socket stays usable`, async () => {
      ws.send(JSON.stringify({ subscribe: [{ view: 'user_stats', entity: key }] }))
      const refused = await answer()
      assert.equal(refused.type, 'error')
      assert.match(refused.error!.message, /holds a lone surrogate/)
    })
  }

  void test('a binary frame that is not UTF-8 is an error message, not a subscription to caf\\ufffd; the socket stays usable', async () => {
    ws.sendFrame(Buffer.from('{"subscribe":[{"view":"user_stats","entity":"caf\xe9"}]}', 'latin1'))
    const refused = await answer()
    assert.equal(refused.type, 'error')
    assert.equal(refused.error!.code, 'BAD_REQUEST')
    assert.match(refused.error!.message, /not UTF-8 text/)
    ws.sendFrame(Buffer.from(JSON.stringify({ subscribe: [{ view: 'user_stats', entity: 'u1' }] })))
    assert.deepEqual(await answer(), { type: 'subscribed', topics: 1 })
    const snapshot = await answer()
    assert.deepEqual([snapshot.type, snapshot.entity, snapshot.status], ['snapshot', 'u1', 'PRESENT'])
  })

  void test('well-formed keys are served as before: an astral character (a surrogate pair), accents', async () => {
    for (const key of ['caf\u00e9', 'u\ud83d\ude00']) {
      const res = await post({ entities: { user_id: [key] }, features: ['user_stats:clicks_1h'] })
      assert.equal(res.status, 200, res.text)
      assert.equal((JSON.parse(res.text) as { rows: { entities: { user_id: string } }[] }).rows[0]!.entities.user_id, key)
    }
  })

  void test('nothing was logged as a failure', () => {
    assert.deepEqual(server.logs.filter((l) => l.level === 'error' || l.level === 'fatal'), [])
  })
})
