/**
 * Percent-encoding in request targets, by one rule for path segments and query parameters: a
 * malformed escape or escapes that are not UTF-8 are a 400 naming where. The query used to be
 * read leniently (URLSearchParams): `?user_id=%ff` served the entity U+FFFD — another key, as if
 * asked for — and `?user_id=%zz` the key `%zz`, while the same bytes in the path were a 400.
 * Well-formed targets decode as before (form encoding in the query: `+` is a space). Raw bytes
 * outside printable ASCII are a 400 on both transports: uWebSockets.js served a raw `\xff` as the
 * entity U+FFFD and raw UTF-8 as its character, where node:http's parser refuses both.
 *
 * Query parameters a GET of features does not read are refused too, not ignored: a misspelt join
 * key beside the right ones, or an `as_of` the online endpoint does not take, used to be dropped
 * silently and the caller served the latest row as if that were what it asked for. The composite
 * route reads exactly the view's join keys; the single-key route (key in the path) reads none.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseResponse, rawRequest, startServer, type TestServer } from './server-harness.ts'

/** Targets that must each be a 400 whose message matches. */
const MALFORMED: readonly (readonly [string, string, RegExp])[] = [
  [
    'a byte that is not UTF-8 in a query value',
    '/v1/features/user_item?user_id=%ff&item_id=1',
    /malformed percent-encoding in query parameter user_id/,
  ],
  [
    'a Latin-1 é in a query value',
    '/v1/features/user_item?user_id=caf%e9&item_id=1',
    /malformed percent-encoding in query parameter user_id/,
  ],
  [
    'an encoded lone surrogate in a query value',
    '/v1/features/user_item?user_id=%ed%a0%80&item_id=1',
    /malformed percent-encoding in query parameter user_id/,
  ],
  [
    'a truncated UTF-8 sequence in a query value',
    '/v1/features/user_item?user_id=u%e2%82&item_id=1',
    /malformed percent-encoding in query parameter user_id/,
  ],
  [
    'a lone % in a query value',
    '/v1/features/user_item?user_id=%&item_id=1',
    /malformed percent-encoding in query parameter user_id/,
  ],
  [
    'a % without two hex digits in a query value',
    '/v1/features/user_item?user_id=1&item_id=%zz',
    /malformed percent-encoding in query parameter item_id/,
  ],
  [
    'a % at the end of a query value',
    '/v1/features/user_item?user_id=u1%2&item_id=1',
    /malformed percent-encoding in query parameter user_id/,
  ],
  [
    'a malformed escape in a query name',
    '/v1/features/user_item?user%ff=1&user_id=a&item_id=1',
    /malformed percent-encoding in a query parameter name/,
  ],
  ['a byte that is not UTF-8 in the path key', '/v1/features/user_stats/%ff', /malformed percent-encoding in path/],
  ['a lone % in the path key', '/v1/features/user_stats/%', /malformed percent-encoding in path/],
  ['a malformed escape in the view name', '/v1/features/user%zz/u1', /malformed percent-encoding in path/],
  ['a malformed escape in an Iceberg namespace', '/v1/namespaces/%ff/tables', /malformed percent-encoding in path/],
  // Parameters no route reads.
  [
    'a misspelt join key beside the right ones',
    '/v1/features/user_item?user_id=u1&item_id=i1&itemid=i2',
    /query parameter itemid is not a join key of view user_item \(join keys: user_id, item_id\)/,
  ],
  [
    'an as_of on the composite route',
    '/v1/features/user_item?user_id=u1&item_id=i1&as_of=2024-01-01',
    /query parameter as_of is not a join key/,
  ],
  ['an empty-valued flag', '/v1/features/user_item?user_id=u1&item_id=i1&debug', /query parameter debug is not a join key/],
  [
    'a parameter named __proto__ beside the keys',
    '/v1/features/user_item?__proto__=x&user_id=u1&item_id=i1',
    /query parameter __proto__ is not a join key/,
  ],
  [
    'a parameter named constructor',
    '/v1/features/user_item?user_id=u1&item_id=i1&constructor=x',
    /query parameter constructor is not a join key/,
  ],
  [
    'an as_of on the single-key route',
    '/v1/features/user_stats/u1?as_of=2024-01-01',
    /query parameter as_of is not accepted: GET \/v1\/features\/user_stats\/:key takes no query parameters/,
  ],
  [
    'the join key again on the single-key route',
    '/v1/features/user_stats/u1?user_id=u2',
    /query parameter user_id is not accepted/,
  ],
  ['an escaped name that decodes to a stranger', '/v1/features/user_stats/u1?%61s_of=1', /query parameter as_of is not accepted/],
  [
    'the same name twice, once escaped',
    '/v1/features/user_item?user_id=a&user%5Fid=b&item_id=1',
    /query parameter user_id is given more than once/,
  ],
]

/** Well-formed targets: 200, and the entity they decode to. */
const WELL_FORMED: readonly (readonly [string, string, Record<string, string>])[] = [
  ['plain', '/v1/features/user_item?user_id=u1&item_id=i1', { user_id: 'u1', item_id: 'i1' }],
  ['UTF-8 escapes', '/v1/features/user_item?user_id=caf%C3%A9&item_id=%F0%9F%98%80', { user_id: 'café', item_id: '😀' }],
  ['+ is a space, %2B a plus', '/v1/features/user_item?user_id=a+b&item_id=a%2Bb', { user_id: 'a b', item_id: 'a+b' }],
  ['an escaped & and =', '/v1/features/user_item?user_id=a%26b&item_id=c%3Dd', { user_id: 'a&b', item_id: 'c=d' }],
  ['empty pieces between &', '/v1/features/user_item?&user_id=u1&&item_id=i1&', { user_id: 'u1', item_id: 'i1' }],
  ['UTF-8 escapes in the path', '/v1/features/user_stats/caf%C3%A9', { user_id: 'café' }],
  // Query parameters the route reads, and empty queries.
  [
    'the composite route with exactly its join keys',
    '/v1/features/user_item?item_id=i1&user_id=u1',
    { user_id: 'u1', item_id: 'i1' },
  ],
  ['the single-key route with an empty query', '/v1/features/user_stats/u1?', { user_id: 'u1' }],
  ['the single-key route with only empty pieces', '/v1/features/user_stats/u1?&&', { user_id: 'u1' }],
  ['the composite route for a single-key view', '/v1/features/user_stats?user_id=u1', { user_id: 'u1' }],
]

void describe('serving > audit > percent-encoding in request targets', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  for (const [what, target, message] of MALFORMED) {
    void test(`${what}: 400 naming it`, async () => {
      const res = await fetch(`${server.base}${target}`)
      const text = await res.text()
      assert.equal(res.status, 400, `${target}: ${text}`)
      const error = (JSON.parse(text) as { error: { code: string; message: string } }).error
      assert.equal(error.code, 'BAD_REQUEST')
      assert.match(error.message, message)
    })
  }

  for (const [what, target, entity] of WELL_FORMED) {
    void test(`${what}: served, decoded`, async () => {
      const res = await fetch(`${server.base}${target}`)
      const text = await res.text()
      assert.equal(res.status, 200, `${target}: ${text}`)
      assert.deepEqual((JSON.parse(text) as { entity: unknown }).entity, entity)
    })
  }

  /** Targets with raw bytes (as sent, not percent-encoded): each a 400 on either transport. */
  const RAW: readonly (readonly [string, Buffer])[] = [
    ['a raw byte that is not UTF-8 in the path key', Buffer.from('/v1/features/user_stats/u\xff1', 'latin1')],
    ['raw UTF-8 in the path key', Buffer.concat([Buffer.from('/v1/features/user_stats/caf'), Buffer.from('\u00e9')])],
    ['a raw byte that is not UTF-8 in a query value', Buffer.from('/v1/features/user_item?user_id=u\xff1&item_id=1', 'latin1')],
    [
      'raw UTF-8 in a query value',
      Buffer.concat([Buffer.from('/v1/features/user_item?user_id=caf'), Buffer.from('\u00e9&item_id=1')]),
    ],
    ['a raw DEL in the path key', Buffer.from('/v1/features/user_stats/u\x7f1', 'latin1')],
    ['a raw byte in the view name', Buffer.from('/v1/features/user_st\xe4ts/u1', 'latin1')],
  ]
  for (const [what, target] of RAW) {
    void test(`${what}: 400, not another entity`, async () => {
      const answer = await rawRequest(
        server.port,
        Buffer.concat([Buffer.from('GET '), target, Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]),
        { idleMs: 5_000 },
      )
      const res = parseResponse(answer.text)
      assert.equal(res.status, 400, answer.text)
      // node:http's parser refuses the target itself (node-client-errors.ts); on uWS kfs's own refusal says what is wrong.
      assert.match(
        res.body,
        server.transport === 'node'
          ? /"code":"BAD_REQUEST".*the request is not valid HTTP\/1\.1: Invalid char in url/
          : /"code":"BAD_REQUEST".*holds a character that is not printable ASCII: percent-encode it/,
      )
    })
  }

  void test('the server logged no failure and still answers', async () => {
    assert.deepEqual(
      server.logs.filter((l) => l.level === 'error' || l.level === 'fatal'),
      [],
    )
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200)
  })
})
