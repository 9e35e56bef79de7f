/**
 * The bad-request corpus, one table, on both transports (uWebSockets.js where it loads and
 * node:http + ws): every kind of malformed target, method, header, framing, body and auth. For
 * each request: the status is one the OpenAPI document lists for the operation (or a router
 * fallback, 404/405), an error body fits the document's Error schema, the answer is the same on
 * both transports, nothing is logged as a server failure, and a good request right after it is
 * answered with the stored value.
 *
 * Requests the HTTP parser itself refuses (a Content-Length that is not a number, a method no
 * parser knows…) never reach the routes: node:http answers them with the error body and closes
 * (node-client-errors.ts), uWebSockets.js closes the connection without a word. Those rows say
 * `parser` and the test pins both behaviours; every other row must answer alike on both.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FeatureValue, RequestFeatureDef } from '../../../features/types.ts'
import type { TransportName } from '../../../serving/server/index.ts'
import { FALLBACK_STATUSES, operationOf, PARSER_STATUSES, schemaErrors, type OpenApiDoc } from './openapi-check.ts'
import { parseResponse, rawRequest, startServer, transportsUnderTest, type TestServer } from './server-harness.ts'

const KEY = 'corpus-key'
const AUTH = `Authorization: Bearer ${KEY}\r\n`
const GOOD = '{"entities":{"user_id":["u1"]},"features":["user_stats:clicks_1h"]}'
const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)

/** A raw GET of `target`, authenticated unless `headers` says otherwise. */
function get(target: string, headers = AUTH): string {
  return `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`
}

/** A raw POST /v1/features of `body` with a Content-Length of its bytes (or `length`), authenticated. */
function post(
  body: string | Buffer,
  options: { readonly headers?: string; readonly length?: string; readonly target?: string } = {},
): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  const headers = options.headers ?? `${AUTH}Content-Type: application/json\r\n`
  const head = `POST ${options.target ?? '/v1/features'} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${options.length ?? bytes.length}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes])
}

const body = (fields: Record<string, unknown>): string => JSON.stringify({ entities: { user_id: ['u1'] }, ...fields })

interface Answered {
  readonly status: number
  /** The error code the body must carry; absent for a 2xx. */
  readonly code?: string
  readonly message?: RegExp
  /** The server closes the connection after the answer (an unread or refused body). */
  readonly closes?: boolean
  /** Refused for its framing, before any route: a status the OpenAPI info lists for every request. */
  readonly framing?: boolean
}

/** Refused by the HTTP parser: node:http answers this (and closes), uWS closes unanswered. */
interface ParserRefusal {
  readonly parser: Answered
}

type Case = readonly [what: string, request: string | Buffer, expect: Answered | ParserRefusal]

const badRequest = (message: RegExp, closes?: boolean): Answered => ({
  status: 400,
  code: 'BAD_REQUEST',
  message,
  ...(closes ? { closes } : {}),
})
const notFound = (message: RegExp): Answered => ({ status: 404, code: 'NOT_FOUND', message })
const OK: Answered = { status: 200 }
const TWICE: Answered = { ...badRequest(/Content-Length is given more than once/, true), framing: true }
const PARSER: ParserRefusal = { parser: badRequest(/the request is not valid HTTP\/1\.1: /, true) }

const TARGETS: readonly Case[] = [
  ['an unknown path', get('/v2/features'), notFound(/no such route/)],
  ['an unknown path under a route', get('/v1/registry/x'), notFound(/no such route/)],
  ['a trailing slash', get('/healthz/'), notFound(/no such route/)],
  ['a double slash', get('//healthz'), notFound(/no such route/)],
  ['dot segments', get('/v1/../healthz'), notFound(/no such route/)],
  ['an escaped static segment', get('/%68ealthz'), notFound(/no such route/)],
  ['the path in upper case', get('/HEALTHZ'), notFound(/no such route/)],
  ['an empty entity key (trailing slash)', get('/v1/features/user_stats/'), notFound(/no such route/)],
  ['an empty view name', get('/v1/features//u1'), notFound(/no such route/)],
  ['an empty Iceberg namespace', get('/v1/namespaces//tables'), notFound(/no such route/)],
  ['an unknown view', get('/v1/features/nope/u1'), notFound(/unknown view nope/)],
  ['an inherited name as the view', get('/v1/features/constructor/u1'), notFound(/unknown view constructor/)],
  ['__proto__ as the view', get('/v1/features/__proto__?user_id=u1'), notFound(/unknown view __proto__/)],
  ['a version that is not a number', get('/v1/features/user_stats@x/u1'), notFound(/unknown view user_stats@x/)],
  ['an empty version', get('/v1/features/user_stats@/u1'), notFound(/unknown view user_stats@/)],
  ['a version with a leading zero', get('/v1/features/user_stats@01/u1'), notFound(/unknown view user_stats@01/)],
  ['a version never served', get('/v1/features/user_stats@99/u1'), notFound(/unknown view user_stats@99/)],
  ['a served version', get('/v1/features/user_stats@1/u1'), OK],
  [
    'an entity key over 512 bytes',
    get(`/v1/features/user_stats/${'k'.repeat(513)}`),
    badRequest(/user_id is invalid: longer than 512 bytes/),
  ],
  ['an escaped NUL in the key', get('/v1/features/user_stats/a%00b'), badRequest(/user_id is invalid: not printable/)],
  ['an int key that is not an integer', get('/v1/features/item_stats/abc'), badRequest(/item_id must be a canonical integer/)],
  ['an empty composite key part', get('/v1/features/user_item?user_id=&item_id=1'), badRequest(/user_id is invalid: empty/)],
  ['a composite key part missing', get('/v1/features/user_item?user_id=u1'), badRequest(/missing join key item_id/)],
  ['a composite view by its single-key route', get('/v1/features/user_item/u1'), badRequest(/has a composite key/)],
  [
    'a query on the single-key route',
    get('/v1/features/user_stats/u1?as_of=1'),
    badRequest(/query parameter as_of is not accepted/),
  ],
  [
    'a query on POST /v1/features',
    post(GOOD, { target: '/v1/features?as_of=1' }),
    badRequest(/query parameter as_of is not accepted: POST \/v1\/features takes no query parameters/, true),
  ],
  [
    'a malformed query on POST /v1/features',
    post(GOOD, { target: '/v1/features?x=%zz' }),
    badRequest(/malformed percent-encoding in query parameter x/, true),
  ],
  ['an empty query on POST /v1/features', post(GOOD, { target: '/v1/features?' }), OK],
  ['a long view name', get(`/v1/features/${'v'.repeat(10_000)}/u1`), notFound(/unknown view v{128}… \(10000 characters\)/)],
  [
    'a long query parameter name',
    get(`/v1/features/user_stats?${'q'.repeat(10_000)}=1&user_id=u1`),
    badRequest(/query parameter q{128}… \(10000 characters\) is not a join key/),
  ],
  ['a long Iceberg namespace', get(`/v1/namespaces/${'n'.repeat(10_000)}/tables`), notFound(/no namespace n{128}…/)],
  [
    'a GET of the WebSocket path without Upgrade',
    get('/v1/subscribe'),
    { status: 426, code: 'UPGRADE_REQUIRED', message: /WebSocket endpoint/ },
  ],
  [
    'OPTIONS of a route',
    `OPTIONS /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`,
    { status: 405, code: 'METHOD_NOT_ALLOWED', message: /use POST/ },
  ],
  [
    'DELETE with a body: answered, then closed (the body is not read)',
    `DELETE /v1/registry HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
    { status: 405, code: 'METHOD_NOT_ALLOWED', message: /use GET/, closes: true },
  ],
  ['a method no parser knows', `BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, PARSER],
  ['a method in lower case', `get /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, PARSER],
]

const HEADERS: readonly Case[] = [
  ['no Content-Type (read as JSON: curl -d sends a form type)', post(GOOD, { headers: AUTH }), OK],
  ['Content-Type text/plain', post(GOOD, { headers: `${AUTH}Content-Type: text/plain\r\n` }), OK],
  [
    'Content-Type given twice',
    post(GOOD, { headers: `${AUTH}Content-Type: text/plain\r\nContent-Type: application/json\r\n` }),
    OK,
  ],
  ['Expect: 100-continue', post(GOOD, { headers: `${AUTH}Expect: 100-continue\r\n` }), { status: 100 }],
  [
    'a body on a GET (read and ignored)',
    `GET /v1/features/user_stats/u1 HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: 3\r\n\r\nabc`,
    OK,
  ],
  [
    'a chunked body',
    Buffer.from(
      `POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n${GOOD.length.toString(16)}\r\n${GOOD}\r\n0\r\n\r\n`,
    ),
    OK,
  ],
  [
    'a chunk size that is not hex',
    Buffer.from(`POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\nzz\r\n${GOOD}\r\n0\r\n\r\n`),
    PARSER,
  ],
  [
    'a transfer coding other than chunked',
    Buffer.from(`POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}Transfer-Encoding: gzip\r\n\r\n${GOOD}`),
    PARSER,
  ],
  [
    'both Content-Length and chunked',
    Buffer.from(
      `POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ),
    PARSER,
  ],
  ['a Content-Length that is not a number', post(GOOD, { length: 'abc' }), PARSER],
  ['a negative Content-Length', post(GOOD, { length: '-5' }), PARSER],
  ['a Content-Length with a sign', post(GOOD, { length: `+${GOOD.length}` }), PARSER],
  [
    'a Content-Length shorter than the body: its answer, then the rest refused as a request',
    post(GOOD, { length: '10' }),
    badRequest(/body is not valid JSON/),
  ],
  [
    'a good request pipelined before garbage: its answer first',
    Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n`),
    OK,
  ],
  [
    'Content-Length twice, different (smuggling)',
    Buffer.from(
      `POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: ${GOOD.length}\r\nContent-Length: 5\r\n\r\n${GOOD}`,
    ),
    TWICE,
  ],
  [
    'Content-Length twice, the same',
    Buffer.from(
      `POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: ${GOOD.length}\r\nContent-Length: ${GOOD.length}\r\n\r\n${GOOD}`,
    ),
    TWICE,
  ],
  [
    'Content-Length twice on a GET',
    `GET /v1/registry HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: 0\r\nContent-Length: 0\r\n\r\n`,
    TWICE,
  ],
  [
    'Content-Length twice on an unknown path',
    `PUT /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}`,
    TWICE,
  ],
  [
    'Content-Length twice, another method',
    `PUT /v1/features HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}`,
    TWICE,
  ],
  ['Content-Length as a list', post(GOOD, { length: `${GOOD.length}, ${GOOD.length}` }), PARSER],
  ['no Content-Length and no body', `POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`, badRequest(/body is not valid JSON/)],
  [
    'a Content-Length over the limit',
    post('{}', { length: String(64 * 1024 * 1024) }),
    { status: 413, code: 'PAYLOAD_TOO_LARGE', message: /body larger than/, closes: true },
  ],
]

const BODIES: readonly Case[] = [
  ['an empty body', post(''), badRequest(/body is not valid JSON/)],
  ['not JSON', post('entities=u1'), badRequest(/body is not valid JSON/)],
  ['truncated JSON', post(GOOD.slice(0, 30)), badRequest(/body is not valid JSON/)],
  ['an object as a key (not JSON)', post('{{}:1}'), badRequest(/body is not valid JSON/)],
  [
    'a byte-order mark before the JSON',
    post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(GOOD)])),
    badRequest(/body is not valid JSON/),
  ],
  [
    'bytes that are not UTF-8',
    post(Buffer.from('{"entities":{"user_id":["caf\u00e9"]},"features":["user_stats:clicks_1h"]}', 'latin1')),
    badRequest(/not valid UTF-8/),
  ],
  [
    'a raw NUL byte in a string',
    post('{"entities":{"user_id":["u\u00001"]},"features":["user_stats:clicks_1h"]}'),
    badRequest(/body is not valid JSON/),
  ],
  [
    'an escaped NUL in a key value',
    post(body({ features: ['user_stats:clicks_1h'], entities: { user_id: ['u\u00001'] } })),
    badRequest(/user_id is invalid: not printable/),
  ],
  [
    'a lone surrogate in a key value',
    post('{"entities":{"user_id":["\\ud800"]},"features":["user_stats:clicks_1h"]}'),
    badRequest(/lone surrogate/),
  ],
  [
    'a lone surrogate as a feature',
    post('{"entities":{"user_id":["u1"]},"features":["\\udfff"]}'),
    notFound(/unknown request feature/),
  ],
  ['JSON null', post('null'), badRequest(/body must be a JSON object/)],
  ['a JSON array', post('[]'), badRequest(/body must be a JSON object/)],
  ['a JSON string', post('"x"'), badRequest(/body must be a JSON object/)],
  ['a JSON number', post('1'), badRequest(/body must be a JSON object/)],
  ['deep nesting', post(deep(200_000)), badRequest(/body must be a JSON object/)],
  [
    'deep nesting in entities',
    post(`{"entities":${deep(100_000)},"features":["user_stats:clicks_1h"]}`),
    badRequest(/entities must be an object/),
  ],
  ['no entities', post('{"features":["user_stats:clicks_1h"]}'), badRequest(/entities must be an object/)],
  ['entities null', post('{"entities":null,"features":["user_stats:clicks_1h"]}'), badRequest(/entities must be an object/)],
  [
    'entities an array',
    post('{"entities":[["u1"]],"features":["user_stats:clicks_1h"]}'),
    badRequest(/entities must be an object/),
  ],
  ['entities empty', post('{"entities":{},"features":["user_stats:clicks_1h"]}'), badRequest(/at least one join key/)],
  [
    'a number as a join key name',
    post('{"entities":{"1":["u1"]},"features":["user_stats:clicks_1h"]}'),
    badRequest(/entities\.1 is not a join key/),
  ],
  [
    'a join key list that is a string',
    post('{"entities":{"user_id":"u1"},"features":["user_stats:clicks_1h"]}'),
    badRequest(/entities\.user_id must be a non-empty list/),
  ],
  [
    'an empty join key list',
    post('{"entities":{"user_id":[]},"features":["user_stats:clicks_1h"]}'),
    badRequest(/entities\.user_id must be a non-empty list/),
  ],
  [
    'a null key value',
    post(body({ entities: { user_id: [null] }, features: ['user_stats:clicks_1h'] })),
    badRequest(/user_id must be a string/),
  ],
  [
    'a boolean key value',
    post(body({ entities: { user_id: [true] }, features: ['user_stats:clicks_1h'] })),
    badRequest(/user_id must be a string/),
  ],
  [
    'an object key value',
    post(body({ entities: { user_id: [{}] }, features: ['user_stats:clicks_1h'] })),
    badRequest(/user_id must be a string/),
  ],
  [
    'an empty key value',
    post(body({ entities: { user_id: [''] }, features: ['user_stats:clicks_1h'] })),
    badRequest(/user_id is invalid: empty/),
  ],
  [
    'a huge key value',
    post(body({ entities: { user_id: ['u'.repeat(900_000)] }, features: ['user_stats:clicks_1h'] })),
    badRequest(/user_id is invalid: longer than 512 bytes/),
  ],
  [
    'an int key past 2^53 as a number',
    post(body({ entities: { item_id: [2 ** 60] }, features: ['item_stats:price'] })),
    badRequest(/past 2\^53/),
  ],
  [
    'lists of two lengths',
    post(body({ entities: { user_id: ['a', 'b'], item_id: [1, 2, 3] }, features: ['user_stats:clicks_1h'] })),
    badRequest(/has 2 values; expected 1 or 3/),
  ],
  [
    'too many entities',
    post(body({ entities: { user_id: Array.from({ length: 2001 }, (_, i) => `u${i}`) }, features: ['user_stats:clicks_1h'] })),
    { status: 413, code: 'BATCH_TOO_LARGE', message: /2001 lookups/ },
  ],
  ['neither features nor service', post(body({})), badRequest(/give exactly one of features or service/)],
  [
    'both features and service',
    post(body({ features: ['user_stats:clicks_1h'], service: 'ranking' })),
    badRequest(/give exactly one of features or service/),
  ],
  ['features a string', post(body({ features: 'user_stats:clicks_1h' })), badRequest(/features must be a non-empty list/)],
  ['features empty', post(body({ features: [] })), badRequest(/features must be a non-empty list/)],
  ['a feature that is a number', post(body({ features: [1] })), badRequest(/features must be non-empty strings/)],
  ['a feature that is null', post(body({ features: [null] })), badRequest(/features must be non-empty strings/)],
  ['a feature that is an object', post(body({ features: [{}] })), badRequest(/features must be non-empty strings/)],
  [
    'a feature listed twice',
    post(body({ features: ['user_stats:clicks_1h', 'user_stats:clicks_1h'] })),
    badRequest(/listed twice/),
  ],
  [
    'a huge array of features',
    post(body({ features: Array.from({ length: 50_000 }, (_, i) => `user_stats:f${i}`) })),
    notFound(/unknown feature user_stats:f0/),
  ],
  ['an unknown view in a feature', post(body({ features: ['nope:clicks_1h'] })), notFound(/unknown view nope/)],
  ['an unknown feature of a view', post(body({ features: ['user_stats:nope'] })), notFound(/unknown feature user_stats:nope/)],
  [
    'an inherited name as a feature',
    post(body({ features: ['user_stats:toString'] })),
    notFound(/unknown feature user_stats:toString/),
  ],
  [
    'an unknown field beside the right ones',
    post(body({ features: ['user_stats:clicks_1h'], as_of: 1 })),
    badRequest(/unknown field as_of: a feature request has entities, features or service, and request/),
  ],
  [
    'a misspelt field',
    post(body({ features: ['user_stats:clicks_1h'], requests: { amount: 1 } })),
    badRequest(/unknown field requests/),
  ],
  [
    '__proto__ as a field',
    post('{"entities":{"user_id":["u1"]},"features":["user_stats:clicks_1h"],"__proto__":{}}'),
    badRequest(/unknown field __proto__/),
  ],
  [
    'a top-level key twice',
    post('{"entities":{"user_id":["u1"]},"entities":{"user_id":["u2"]},"features":["user_stats:clicks_1h"]}'),
    badRequest(/names key entities twice in one object/),
  ],
  [
    'a join key twice',
    post('{"entities":{"user_id":["u1"],"user_id":["u2"]},"features":["user_stats:clicks_1h"]}'),
    badRequest(/names key user_id twice/),
  ],
  [
    'a request input twice',
    post('{"entities":{"user_id":["u1"]},"features":["echo_amount"],"request":{"amount":1,"amount":2}}'),
    badRequest(/names key amount twice/),
  ],
  [
    'a key twice, once escaped',
    post('{"entities":{"user_id":["u1"]},"entit\\u0069es":{"user_id":["u2"]},"features":["user_stats:clicks_1h"]}'),
    badRequest(/names key entities twice/),
  ],
  [
    'the same key in two objects (not a duplicate)',
    post('{"entities":{"user_id":["u1"]},"features":["echo_amount"],"request":{"user_id":1,"amount":2}}'),
    OK,
  ],
  [
    'a key that looks escaped inside a value (not a key)',
    post('{"entities":{"user_id":["entities\\""]},"features":["user_stats:clicks_1h"]}'),
    OK,
  ],
  [
    'an absurdly long view in a feature',
    post(body({ features: [`${'v'.repeat(500_000)}:clicks_1h`] })),
    notFound(/unknown view v{128}… \(500000 characters\)/),
  ],
  [
    'an absurdly long request feature',
    post(body({ features: ['f'.repeat(500_000)] })),
    notFound(/unknown request feature f{128}…/),
  ],
  ['an absurdly long service', post(body({ service: 's'.repeat(500_000) })), notFound(/unknown service s{128}…/)],
  [
    'an absurdly long join key name',
    post(JSON.stringify({ entities: { ['k'.repeat(500_000)]: ['u1'] }, features: ['user_stats:clicks_1h'] })),
    badRequest(/entities\.k{128}… \(500000 characters\) is not a join key/),
  ],
  [
    'an absurdly long field',
    post(body({ features: ['user_stats:clicks_1h'], ['x'.repeat(500_000)]: 1 })),
    badRequest(/unknown field x{128}…/),
  ],
  [
    'a feature of a version that is not a number',
    post(body({ features: ['user_stats@1.0:clicks_1h'] })),
    notFound(/unknown view user_stats@1\.0/),
  ],
  ['an unknown request feature', post(body({ features: ['constructor'] })), notFound(/unknown request feature constructor/)],
  ['a service that is a number', post(body({ service: 1 })), badRequest(/service must be a string/)],
  ['an unknown service', post(body({ service: '__proto__' })), notFound(/unknown service __proto__/)],
  ['request an array', post(body({ features: ['user_stats:clicks_1h'], request: [1] })), badRequest(/request must be an object/)],
  [
    'a request input of the wrong type',
    post(body({ features: ['echo_amount'], request: { amount: 'x' } })),
    badRequest(/request\.amount \(double\) is required/),
  ],
  ['a request input missing', post(body({ features: ['echo_amount'] })), badRequest(/request\.amount \(double\) is required/)],
  [
    'a body over the limit',
    post(body({ features: ['user_stats:clicks_1h'], pad: 'x'.repeat(1024 * 1024) })),
    { status: 413, code: 'PAYLOAD_TOO_LARGE', message: /body larger than/, closes: true },
  ],
]

const AUTHS: readonly Case[] = [
  ['no Authorization', get('/v1/registry', ''), { status: 401, code: 'UNAUTHORIZED', message: /API key/ }],
  [
    'an unknown key',
    get('/v1/registry', 'Authorization: Bearer nope\r\n'),
    { status: 401, code: 'UNAUTHORIZED', message: /API key/ },
  ],
  [
    'a lower-case scheme',
    get('/v1/registry', `Authorization: bearer ${KEY}\r\n`),
    { status: 401, code: 'UNAUTHORIZED', message: /API key/ },
  ],
  [
    'Basic instead of Bearer',
    get('/v1/registry', `Authorization: Basic ${Buffer.from(`${KEY}:`).toString('base64')}\r\n`),
    { status: 401, code: 'UNAUTHORIZED', message: /API key/ },
  ],
  [
    'two spaces after Bearer',
    get('/v1/registry', `Authorization: Bearer  ${KEY}\r\n`),
    { status: 401, code: 'UNAUTHORIZED', message: /API key/ },
  ],
  [
    'the key as ?access_token= on HTTP',
    get(`/v1/registry?access_token=${KEY}`, ''),
    { status: 401, code: 'UNAUTHORIZED', message: /API key/ },
  ],
  [
    'an unauthenticated POST: refused, then closed (its body is not read)',
    post(GOOD, { headers: '' }),
    { status: 401, code: 'UNAUTHORIZED', message: /API key/, closes: true },
  ],
  ['/healthz needs no key', get('/healthz', ''), OK],
  ['trailing whitespace after the key (trimmed by the parser)', get('/v1/registry', `Authorization: Bearer ${KEY} \r\n`), OK],
]

const CORPUS: readonly (readonly [section: string, cases: readonly Case[]])[] = [
  ['request targets and methods', TARGETS],
  ['headers and framing', HEADERS],
  ['bodies of POST /v1/features', BODIES],
  ['authentication', AUTHS],
]

/** A request-time feature of one request input. */
const echoAmount: RequestFeatureDef = {
  kind: 'requestFeature',
  name: 'echo_amount',
  request: { amount: 'double' },
  features: [],
  outputType: 'double',
  fn: (request) => request.amount as FeatureValue,
  description: '',
}

interface Observed {
  readonly transport: TransportName
  readonly text: string
  readonly closedByServer: boolean
}

/** The method and path of a raw request, for the operation it addresses. */
function methodAndPath(request: string | Buffer): [string, string] {
  const line = (typeof request === 'string' ? request : request.subarray(0, 2048).toString('latin1')).split('\r\n')[0]!
  const [method = '', target = ''] = line.split(' ')
  return [method, target.split('?')[0]!]
}

void describe('serving > audit > the bad-request corpus on both transports', () => {
  const servers: TestServer[] = []
  let doc: OpenApiDoc
  before(async () => {
    for (const transport of transportsUnderTest()) {
      const s = await startServer({ requestFeatures: [echoAmount], options: { transport, apiKeys: [KEY] } })
      if (servers.some((other) => other.transport === s.transport)) await s.close()
      else servers.push(s)
    }
    doc = (await (
      await fetch(`${servers[0]!.base}/openapi.json`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as OpenApiDoc
  })
  after(async () => {
    for (const s of servers) await s.close()
  })

  const goodRequestAnswered = async (s: TestServer): Promise<void> => {
    const res = await fetch(`${s.base}/v1/features/user_stats/u1`, { headers: { authorization: `Bearer ${KEY}` } })
    assert.equal(res.status, 200, `${s.transport}: the next good request`)
    assert.equal(((await res.json()) as { features: { clicks_1h: unknown } }).features.clicks_1h, 7)
  }

  for (const [section, cases] of CORPUS) {
    for (const [what, request, expect] of cases) {
      void test(`${section}: ${what}`, async () => {
        const observed: Observed[] = []
        for (const s of servers) {
          const answer = await rawRequest(s.port, request, {
            idleMs: 5000,
            untilClose: ('parser' in expect ? expect.parser : expect).closes === true,
          })
          observed.push({ transport: s.transport, ...answer })
          await goodRequestAnswered(s)
        }
        const [method, path] = methodAndPath(request)
        const compared: unknown[] = []
        for (const { transport, text, closedByServer } of observed) {
          const where = `${transport}: ${text.slice(0, 300)}`
          if ('parser' in expect && transport === 'uws') {
            assert.equal(text, '', `${where}: uWS sends nothing`)
            assert.ok(closedByServer, `${where}: uWS closes`)
            continue
          }
          const expected = 'parser' in expect ? expect.parser : expect
          const res = parseResponse(text)
          assert.equal(res.status, expected.status, where)
          if (expected.closes === true) assert.ok(closedByServer, `${where}: the server closes the connection`)
          if (res.status === 100) continue
          const operation = operationOf(doc, method, path)
          const listed =
            'parser' in expect || expected.framing === true
              ? [...PARSER_STATUSES]
              : [...Object.keys(operation?.responses ?? {}).map(Number), ...FALLBACK_STATUSES]
          assert.ok(
            listed.includes(res.status),
            `${where}: ${res.status} is not in the OpenAPI document for ${method} ${path} (${listed.join(', ')})`,
          )
          if (expected.code === undefined) continue
          assert.equal(res.headers['content-type'], 'application/json', where)
          const error = JSON.parse(res.body) as { error: { code: string; message: string; errorId?: string } }
          assert.deepEqual(schemaErrors(doc, { $ref: '#/components/schemas/Error' }, error), [], where)
          assert.equal(error.error.code, expected.code, where)
          assert.match(error.error.message, expected.message ?? /./, where)
          assert.equal(error.error.errorId, undefined, `${where}: a client's mistake is not a server failure`)
          // The answer names what was wrong; it does not carry the input back.
          assert.ok(res.body.length < 2048, `${where}: a ${res.body.length}-byte answer`)
          compared.push({ status: res.status, body: error })
        }
        if (compared.length > 1)
          for (const other of compared.slice(1)) assert.deepEqual(other, compared[0], 'the transports answer alike')
        for (const s of servers) {
          assert.deepEqual(
            s.logs.filter((l) => l.level === 'error' || l.level === 'fatal'),
            [],
            `${s.transport}: nothing logged as a server failure`,
          )
        }
      })
    }
  }
})
