/**
 * A WebSocket subscription message naming one name twice in an object: JSON.parse keeps the last
 * silently, so `{"view":"user_stats","entity":"u1","entity":"u2"}` subscribed to u2 while the client
 * (or a proxy or logger keeping the first) meant u1 — a POST body naming a key twice is a 400
 * already. Every object of the message is checked: the message, an entry, a composite entity. Each
 * is an error message naming the name, no subscription is made, and the socket stays usable; the
 * same message with each name once subscribes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openWs, type TestWs } from './ws-client.ts'
import { startServer, type TestServer } from './server-harness.ts'

/** Messages holding `@TWICE@` where `member` (naming `name` again) is put for the case. */
const CASES: readonly { readonly what: string; readonly text: string; readonly member: string; readonly name: string }[] = [
  {
    what: 'the message names subscribe twice',
    text: '{@TWICE@"subscribe":[{"view":"user_stats","entity":"u1"}]}',
    member: '"subscribe":[{"view":"user_stats","entity":"u2"}],',
    name: 'subscribe',
  },
  {
    what: 'an entry names entity twice',
    text: '{"subscribe":[{"view":"user_stats",@TWICE@"entity":"u1"}]}',
    member: '"entity":"u2",',
    name: 'entity',
  },
  {
    what: 'an entry names view twice',
    text: '{"subscribe":[{@TWICE@"view":"user_stats","entity":"u1"}]}',
    member: '"view":"user_item",',
    name: 'view',
  },
  {
    what: 'a composite entity names a join key twice',
    text: '{"subscribe":[{"view":"user_item","entity":{@TWICE@"user_id":"u1","item_id":"9"}}]}',
    member: '"user_id":"u2",',
    name: 'user_id',
  },
]

void describe('serving > audit > a WebSocket message naming a name twice', () => {
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
  const answer = async (): Promise<{ type: string; topics?: number; error?: { code: string; message: string } }> =>
    JSON.parse(await ws.next()) as { type: string }

  for (const c of CASES) {
    void test(`${c.what}: an error message naming it, nothing subscribed; once, it subscribes`, async () => {
      ws.send(c.text.replace('@TWICE@', c.member))
      const refused = await answer()
      assert.equal(refused.type, 'error', JSON.stringify(refused))
      assert.equal(refused.error!.code, 'BAD_REQUEST')
      assert.match(refused.error!.message, new RegExp(`names ${c.name} twice in one object`))
      ws.send(c.text.replace('@TWICE@', ''))
      const subscribed = await answer()
      assert.deepEqual(
        subscribed,
        { type: 'subscribed', topics: 1 },
        'the refused message subscribed to nothing: this is the only topic',
      )
      assert.equal((await answer()).type, 'snapshot')
      ws.send(c.text.replace('@TWICE@', '').replace('subscribe', 'unsubscribe'))
      assert.deepEqual(await answer(), { type: 'subscribed', topics: 0 }, 'unsubscribed: none left for the next case')
    })
  }
})
