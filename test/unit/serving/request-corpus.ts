/**
 * The bad-request corpus (audit-request-corpus.test.ts runs it on both transports): raw requests,
 * each with the answer it must get. Request targets, methods, headers, framing and
 * authentication here; the bodies of POST /v1/features in request-corpus-bodies.ts.
 */
import type { FeatureValue, RequestFeatureDef } from '../../../features/types.ts'

export const KEY = 'corpus-key'
export const AUTH = `Authorization: Bearer ${KEY}\r\n`
export const GOOD = '{"entities":{"user_id":["u1"]},"features":["user_stats:clicks_1h"]}'
export const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)

/** A raw GET of `target`, authenticated unless `headers` says otherwise. */
export function get(target: string, headers = AUTH): string {
  return `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`
}

/** A raw POST /v1/features of `body` with a Content-Length of its bytes (or `length`), authenticated. */
export function post(
  body: string | Buffer,
  options: { readonly headers?: string; readonly length?: string; readonly target?: string } = {},
): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  const headers = options.headers ?? `${AUTH}Content-Type: application/json\r\n`
  const head = `POST ${options.target ?? '/v1/features'} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${options.length ?? bytes.length}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes])
}

export const body = (fields: Record<string, unknown>): string => JSON.stringify({ entities: { user_id: ['u1'] }, ...fields })

export interface Answered {
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
export interface ParserRefusal {
  readonly parser: Answered
}

export type Case = readonly [what: string, request: string | Buffer, expect: Answered | ParserRefusal]

export const badRequest = (message: RegExp, closes?: boolean): Answered => ({
  status: 400,
  code: 'BAD_REQUEST',
  message,
  ...(closes ? { closes } : {}),
})
export const notFound = (message: RegExp): Answered => ({ status: 404, code: 'NOT_FOUND', message })
export const OK: Answered = { status: 200 }
const TWICE: Answered = { ...badRequest(/Content-Length is given more than once/, true), framing: true }
const PARSER: ParserRefusal = { parser: badRequest(/the request is not valid HTTP\/1\.1: /, true) }

export const TARGETS: readonly Case[] = [
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
  ['OPTIONS of a route', `OPTIONS /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`, { status: 204 }],
  [
    'DELETE with a body: answered, then closed (the body is not read)',
    `DELETE /v1/registry HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
    { status: 405, code: 'METHOD_NOT_ALLOWED', message: /use GET, HEAD, OPTIONS/, closes: true },
  ],
  ['a method no parser knows', `BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, PARSER],
  ['a method in lower case', `get /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, PARSER],
]

export const HEADERS: readonly Case[] = [
  ['no Content-Type (read as JSON: curl -d sends a form type)', post(GOOD, { headers: AUTH }), OK],
  ['Content-Type text/plain', post(GOOD, { headers: `${AUTH}Content-Type: text/plain\r\n` }), OK],
  [
    'Content-Type given twice',
    post(GOOD, { headers: `${AUTH}Content-Type: text/plain\r\nContent-Type: application/json\r\n` }),
    OK,
  ],
  ['an Expect the server does not know (ignored, as uWS does)', post(GOOD, { headers: `${AUTH}Expect: bogus\r\n` }), OK],
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

export const AUTHS: readonly Case[] = [
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

/** A request-time feature of one request input. */
export const echoAmount: RequestFeatureDef = {
  kind: 'requestFeature',
  name: 'echo_amount',
  request: { amount: 'double' },
  features: [],
  outputType: 'double',
  fn: (request) => request.amount as FeatureValue,
  description: '',
}

const bodyLate: Answered = {
  status: 408,
  code: 'REQUEST_TIMEOUT',
  message: /the request body did not arrive within 2000 ms/,
  closes: true,
}

/** Clients that send a head and then stall mid-body: each is answered once the request timeout (2 s) passes, and closed. */
export const STALLS: readonly Case[] = [
  ['a head announcing a body that never comes', post('', { length: '10' }), bodyLate],
  ['a body shorter than its Content-Length', post(GOOD, { length: String(GOOD.length + 1) }), bodyLate],
  [
    'a chunked body without its last chunk',
    Buffer.from(`POST /v1/features HTTP/1.1\r\nHost: x\r\n${AUTH}Transfer-Encoding: chunked\r\n\r\n5\r\n{"ent\r\n`),
    bodyLate,
  ],
]

const WS_HEAD = `GET /v1/subscribe HTTP/1.1\r\nHost: x\r\n${AUTH}Upgrade: websocket\r\nConnection: Upgrade\r\n`
const WS_KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
const upgradeRequired = (message: RegExp): Answered => ({ status: 426, code: 'UPGRADE_REQUIRED', message })

/** WebSocket handshakes the route does not take. */
export const HANDSHAKES: readonly Case[] = [
  ['no Sec-WebSocket-Key', `${WS_HEAD}Sec-WebSocket-Version: 13\r\n\r\n`, upgradeRequired(/send Sec-WebSocket-Key/)],
  [
    'a key that is not 16 bytes in base64',
    `${WS_HEAD}Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    upgradeRequired(/send Sec-WebSocket-Key/),
  ],
  ['no Sec-WebSocket-Version', `${WS_HEAD}${WS_KEY}\r\n`, upgradeRequired(/send Sec-WebSocket-Version: 13/)],
  ['version 8', `${WS_HEAD}${WS_KEY}Sec-WebSocket-Version: 8\r\n\r\n`, upgradeRequired(/send Sec-WebSocket-Version: 13/)],
  [
    'Upgrade: h2c on the WebSocket path',
    `GET /v1/subscribe HTTP/1.1\r\nHost: x\r\n${AUTH}Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n`,
    upgradeRequired(/send Upgrade: websocket/),
  ],
  [
    'an unknown key on a good handshake',
    `GET /v1/subscribe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${WS_KEY}Sec-WebSocket-Version: 13\r\n\r\n`,
    { status: 401, code: 'UNAUTHORIZED', message: /API key/ },
  ],
  [
    'Upgrade: websocket on an HTTP route (served as the plain request)',
    `GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${WS_KEY}Sec-WebSocket-Version: 13\r\n\r\n`,
    OK,
  ],
]

/** A concrete path of every route, with the method it takes (the WebSocket path: a GET that upgrades). */
export const ROUTE_PATHS: readonly (readonly [path: string, allow: string])[] = [
  ['/healthz', 'GET'],
  ['/metrics', 'GET'],
  ['/v1/registry', 'GET'],
  ['/', 'GET'],
  ['/openapi.json', 'GET'],
  ['/v1/features/user_stats/u1', 'GET'],
  ['/v1/features/user_item', 'GET'],
  ['/v1/features', 'POST'],
  ['/v1/subscribe', 'GET'],
  ['/v1/config', 'GET'],
  ['/v1/namespaces', 'GET'],
  ['/v1/namespaces/kfs', 'GET'],
  ['/v1/namespaces/kfs/tables', 'GET'],
  ['/v1/namespaces/kfs/tables/user_stats', 'GET'],
]

/** The `Allow` of a route taking `method`: HEAD beside GET, and OPTIONS (serving/server/router.ts). */
export const allowOf = (method: string): string => (method === 'GET' ? 'GET, HEAD, OPTIONS' : `${method}, OPTIONS`)

/**
 * Every method but HEAD and OPTIONS (no body to check; head-and-options.test.ts has them) on every
 * route that does not take it: 405 naming the ones it takes.
 */
export const METHODS: readonly Case[] = ROUTE_PATHS.flatMap(([path, allow]) =>
  // CONNECT: node:http hands it to a tunnel event, and closed the connection unanswered before.
  ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'CONNECT']
    .filter((method) => method !== allow)
    .map((method): Case => [
      `${method} ${path}`,
      `${method} ${path} HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`,
      { status: 405, code: 'METHOD_NOT_ALLOWED', message: new RegExp(`^${method} is not allowed on .*; use ${allowOf(allow)}$`) },
    ]),
)
