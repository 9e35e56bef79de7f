/**
 * Query parameters a GET of features does not read are refused, not ignored: a misspelt join key
 * beside the right ones, or an `as_of` the online endpoint does not take, used to be dropped
 * silently and the caller served the latest row as if that were what it asked for. The composite
 * route reads exactly the view's join keys; the single-key route (key in the path) reads none.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startServer, type TestServer } from './server-harness.ts'

/** Targets that must each be a 400 naming the parameter. */
const REFUSED: readonly (readonly [string, string, RegExp])[] = [
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
]

/** Targets that stay served: 200 with the entity they name. */
const SERVED: readonly (readonly [string, string, Record<string, string>])[] = [
  [
    'the composite route with exactly its join keys',
    '/v1/features/user_item?item_id=i1&user_id=u1',
    { user_id: 'u1', item_id: 'i1' },
  ],
  ['the single-key route with an empty query', '/v1/features/user_stats/u1?', { user_id: 'u1' }],
  ['the single-key route with only empty pieces', '/v1/features/user_stats/u1?&&', { user_id: 'u1' }],
  ['the composite route for a single-key view', '/v1/features/user_stats?user_id=u1', { user_id: 'u1' }],
]

void describe('serving > audit > query parameters a GET does not read', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  for (const [what, target, message] of REFUSED) {
    void test(`${what}: 400 naming it`, async () => {
      const res = await fetch(`${server.base}${target}`)
      const text = await res.text()
      assert.equal(res.status, 400, `${target}: ${text}`)
      const error = (JSON.parse(text) as { error: { code: string; message: string } }).error
      assert.equal(error.code, 'BAD_REQUEST')
      assert.match(error.message, message)
    })
  }

  for (const [what, target, entity] of SERVED) {
    void test(`${what}: served`, async () => {
      const res = await fetch(`${server.base}${target}`)
      const text = await res.text()
      assert.equal(res.status, 200, `${target}: ${text}`)
      assert.deepEqual((JSON.parse(text) as { entity: unknown }).entity, entity)
    })
  }

  void test('the server logged no failure and still answers', async () => {
    assert.deepEqual(
      server.logs.filter((l) => l.level === 'error' || l.level === 'fatal'),
      [],
    )
    assert.equal((await fetch(`${server.base}/v1/features/user_stats/u1`)).status, 200)
  })
})
