/**
 * The request guard on its own (no server): which policy asks for what, in which order, and the
 * bounded body reader. The answers over HTTP are pinned in auth-and-limits.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BoundedBody, createRequestGuard, type RequestHead, type RoutePolicy } from '../../../serving/middleware/request-guard.ts'

function head(headers: Record<string, string> = {}, query?: string): RequestHead & { readonly read: string[] } {
  const read: string[] = []
  return {
    read,
    getHeader: (name) => {
      read.push(name)
      return headers[name] ?? ''
    },
    getQuery: () => query,
  }
}

const codeOf = (err: { status: number; code: string } | undefined): string | undefined => (err === undefined ? undefined : `${err.status} ${err.code}`)

const apiKey: RoutePolicy = { access: 'api-key' }
const withBody: RoutePolicy = { access: 'api-key', body: true }
const upgrade: RoutePolicy = { access: 'api-key', queryToken: true }

void describe('serving > middleware > request guard', () => {
  const guard = createRequestGuard({ apiKeys: ['alpha', 'beta'], maxBodyBytes: 10 })

  void test('api-key routes take exactly "Bearer <configured key>"; public routes never ask', () => {
    for (const [authorization, expected] of [
      ['Bearer alpha', undefined],
      ['Bearer beta', undefined],
      ['', '401 UNAUTHORIZED'],
      ['Bearer ', '401 UNAUTHORIZED'],
      ['Bearer gamma', '401 UNAUTHORIZED'],
      ['Bearer alpha ', '401 UNAUTHORIZED'],
      ['bearer alpha', '401 UNAUTHORIZED'],
      ['alpha', '401 UNAUTHORIZED'],
    ] as const) {
      assert.equal(codeOf(guard.check(apiKey, head({ authorization }))), expected, JSON.stringify(authorization))
    }
    const anonymous = head()
    assert.equal(guard.check({ access: 'public' }, anonymous), undefined)
    assert.deepEqual(anonymous.read, [], 'a public route without a body reads no header')
  })

  void test('?access_token= counts only where the policy allows it, and a Bearer header wins over it', () => {
    assert.equal(codeOf(guard.check(apiKey, head({}, 'access_token=alpha'))), '401 UNAUTHORIZED')
    assert.equal(guard.check(upgrade, head({}, 'access_token=alpha')), undefined)
    assert.equal(guard.check(upgrade, head({}, 'x=1&access_token=be%74a')), undefined)
    assert.equal(codeOf(guard.check(upgrade, head({}, 'access_token=nope'))), '401 UNAUTHORIZED')
    assert.equal(codeOf(guard.check(upgrade, head({ authorization: 'Bearer nope' }, 'access_token=alpha'))), '401 UNAUTHORIZED')
    assert.equal(codeOf(guard.check(upgrade, head())), '401 UNAUTHORIZED')
  })

  void test('body routes refuse a declared length over the limit with 413, after auth', () => {
    const key = { authorization: 'Bearer alpha' }
    assert.equal(guard.check(withBody, head({ ...key, 'content-length': '10' })), undefined)
    assert.equal(guard.check(withBody, head(key)), undefined, 'no length declared: judged while streaming')
    const refused = guard.check(withBody, head({ ...key, 'content-length': '11' }))
    assert.equal(codeOf(refused), '413 PAYLOAD_TOO_LARGE')
    assert.equal(refused?.message, 'body larger than 10 bytes')
    assert.equal(codeOf(guard.check(withBody, head({ 'content-length': '11' }))), '401 UNAUTHORIZED')
    assert.equal(guard.check(apiKey, head({ ...key, 'content-length': '999' })), undefined, 'a route without a body has no size limit to judge')
  })

  void test('with no keys configured every route is open and no credential header is read', () => {
    const open = createRequestGuard({ maxBodyBytes: 10 })
    const anonymous = head({}, 'access_token=whatever')
    assert.equal(open.check(apiKey, anonymous), undefined)
    assert.equal(open.check(upgrade, anonymous), undefined)
    assert.deepEqual(anonymous.read, [])
    assert.equal(codeOf(open.check(withBody, head({ 'content-length': '11' }))), '413 PAYLOAD_TOO_LARGE')
  })
})

void describe('serving > middleware > bounded body', () => {
  const bytes = (text: string): ArrayBuffer => new TextEncoder().encode(text).buffer as ArrayBuffer

  void test('joins chunks, copying each (the caller may reuse a chunk once append returns)', () => {
    const body = new BoundedBody(10)
    const reused = new Uint8Array(bytes('abc'))
    assert.equal(body.append(reused.buffer as ArrayBuffer), undefined)
    reused.fill(0x7a)
    assert.equal(body.append(bytes('defg')), undefined)
    assert.equal(body.append(bytes('')), undefined)
    assert.equal(body.append(bytes('hij')), undefined)
    assert.equal(body.bytes().toString('utf8'), 'abcdefghij')
  })

  void test('one chunk is the body itself; no chunk is an empty body', () => {
    const one = new BoundedBody(10)
    one.append(bytes('{"a":1}'))
    assert.equal(one.bytes().toString('utf8'), '{"a":1}')
    assert.equal(new BoundedBody(10).bytes().length, 0)
  })

  void test('refuses with 413 the chunk that takes it past the limit', () => {
    const body = new BoundedBody(5)
    assert.equal(body.append(bytes('abc')), undefined)
    const refused = body.append(bytes('def'))
    assert.equal(codeOf(refused), '413 PAYLOAD_TOO_LARGE')
    assert.equal(refused?.message, 'body larger than 5 bytes')
  })
})
