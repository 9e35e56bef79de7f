/**
 * Serving robustness, request inputs the audit corpus sends: every malformed `entities` shape of a
 * batch request, bodies that are not UTF-8, and a GET naming a join key twice. Each is a 400
 * naming the problem — never a 500, never a request that checks nothing, never one whose
 * answer grows with rows × an input nobody checked (a 1 MiB body used to build a 512 MiB
 * answer for seconds on the event loop, then fail it with a 500).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FeatureValue, RequestFeatureDef } from '../../../features/types.ts'
import { startServer, type TestServer } from './server-harness.ts'

const USERS = Array.from({ length: 2000 }, (_, i) => `u${i}`)
const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)

/** A request-time feature of request inputs only: it reads no view, so it makes no lookups. */
const echoAmount: RequestFeatureDef = {
  kind: 'requestFeature',
  name: 'echo_amount',
  request: { amount: 'double' },
  features: [],
  outputType: 'double',
  fn: (request) => request.amount as FeatureValue,
  description: '',
}

/** Bodies (as sent) that must each be a 400 whose message matches. */
const BAD_BODIES: readonly (readonly [string, string, RegExp])[] = [
  ['no entities at all', '{"entities":{},"features":["user_stats:clicks_1h"]}', /at least one join key/],
  ['a name no served view has', '{"entities":{"user_id":["u1"],"userid":["u2"]},"features":["user_stats:clicks_1h"]}', /entities\.userid is not a join key/],
  [
    'a 1 MiB value under a name no view has, repeated over 2,000 rows',
    JSON.stringify({ entities: { user_id: USERS, junk: ['x'.repeat(1_000_000)] }, features: ['user_stats:clicks_1h'] }),
    /entities\.junk is not a join key/,
  ],
  ['deep nesting under a name no view has', `{"entities":{"user_id":["u1"],"x":[${deep(100_000)}]},"features":["user_stats:clicks_1h"]}`, /entities\.x is not a join key/],
  // item_id is a served join key that user features do not read: its values are echoed, so checked.
  ['an object under a served key this request does not read', `{"entities":{"user_id":["u1"],"item_id":[{"a":${deep(100_000)}}]},"features":["user_stats:clicks_1h"]}`, /item_id values must be strings or integers/],
  ['a fraction under an unread served key', '{"entities":{"user_id":["u1"],"item_id":[1.5]},"features":["user_stats:clicks_1h"]}', /item_id values must be strings or integers/],
  ['a value over 512 bytes under an unread served key', JSON.stringify({ entities: { user_id: USERS, item_id: ['i'.repeat(513)] }, features: ['user_stats:clicks_1h'] }), /item_id is invalid: longer than 512 bytes/],
  ['a control character under an unread served key', '{"entities":{"user_id":["u1"],"item_id":["a\\u0000b"]},"features":["user_stats:clicks_1h"]}', /item_id is invalid: not printable \(it holds control characters\)/],
  ['an inherited name', '{"entities":{"user_id":["u1"],"constructor":["x"]},"features":["user_stats:clicks_1h"]}', /entities\.constructor is not a join key/],
]

void describe('serving > audit > malformed batch entities', () => {
  let server: TestServer
  before(async () => {
    server = await startServer({ requestFeatures: [echoAmount], options: { maxBodyBytes: 2 * 1024 * 1024 } })
  })
  after(() => server.close())

  const post = async (body: string | Buffer): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${server.base}/v1/features`, { method: 'POST', body })
    return { status: res.status, text: await res.text() }
  }

  for (const [what, body, message] of BAD_BODIES) {
    void test(`${what}: 400 naming it, small, no errorId`, async () => {
      const res = await post(body)
      assert.equal(res.status, 400, res.text)
      const error = (JSON.parse(res.text) as { error: { code: string; message: string; errorId?: string } }).error
      assert.equal(error.code, 'BAD_REQUEST')
      assert.match(error.message, message)
      assert.equal(error.errorId, undefined)
      // The refusal names the input, it does not carry it back (the 1 MiB value, the deep nesting).
      assert.ok(res.text.length < 2048, `a ${res.text.length}-character answer`)
    })
  }

  void test('a served join key no view of the request reads is still accepted and echoed (user features, item_id given)', async () => {
    const res = await post('{"entities":{"user_id":["u1","u2"],"item_id":[9]},"features":["user_stats:clicks_1h"]}')
    assert.equal(res.status, 200, res.text)
    const rows = (JSON.parse(res.text) as { rows: { entities: unknown; values: unknown[] }[] }).rows
    assert.deepEqual(rows.map((r) => [r.entities, r.values]), [
      [{ user_id: 'u1', item_id: 9 }, [7]],
      [{ user_id: 'u2', item_id: 9 }, [null]],
    ])
  })

  void test('a request-time feature that reads no view: rows are bounded like lookups (413), and within the bound it answers', async () => {
    const many = Array.from({ length: 2001 }, (_, i) => `u${i}`)
    const over = await post(JSON.stringify({ entities: { user_id: many }, features: ['echo_amount'], request: { amount: 2 } }))
    assert.equal(over.status, 413, over.text)
    assert.match(over.text, /BATCH_TOO_LARGE.*2001 rows/)
    const ok = await post(JSON.stringify({ entities: { user_id: ['u1', 'u2'] }, features: ['echo_amount'], request: { amount: 2 } }))
    assert.equal(ok.status, 200, ok.text)
    assert.deepEqual((JSON.parse(ok.text) as { rows: { values: unknown[] }[] }).rows.map((r) => r.values), [[2], [2]])
  })

  void test('a double request input beyond range (1e400, -1e400: JSON reads them as ±Infinity) is the client\'s 400, not a logged 500', async () => {
    for (const literal of ['1e400', '-1e400']) {
      const res = await post(`{"entities":{"user_id":["u1"]},"features":["echo_amount"],"request":{"amount":${literal}}}`)
      assert.equal(res.status, 400, res.text)
      assert.match(res.text, /request\.amount is beyond the range of a double/)
    }
    const ok = await post('{"entities":{"user_id":["u1"]},"features":["echo_amount"],"request":{"amount":1e308}}')
    assert.equal(ok.status, 200, ok.text)
  })

  void test('a body that is not UTF-8 is a 400, not read as U+FFFD (another entity)', async () => {
    const latin1 = Buffer.from('{"entities":{"user_id":["caf\u00e9"]},"features":["user_stats:clicks_1h"]}', 'latin1')
    const res = await post(latin1)
    assert.equal(res.status, 400, res.text)
    assert.match(res.text, /not valid UTF-8/)
    const utf8 = await post(Buffer.from(latin1.toString('latin1'), 'utf8'))
    assert.equal(utf8.status, 200, utf8.text)
    assert.match(utf8.text, /"user_id":"café"/)
  })

  void test('GET naming a query parameter twice is a 400, not the last value silently', async () => {
    const twice = await fetch(`${server.base}/v1/features/user_item?user_id=a&user_id=b&item_id=1`)
    assert.equal(twice.status, 400)
    assert.match(await twice.text(), /user_id is given more than once/)
    const once = await fetch(`${server.base}/v1/features/user_item?user_id=a&item_id=1`)
    assert.equal(once.status, 200)
    await once.text()
  })

  void test('the server logged no failure and still answers', async () => {
    assert.deepEqual(server.logs.filter((l) => l.level === 'error' || l.level === 'fatal'), [])
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200)
  })
})
