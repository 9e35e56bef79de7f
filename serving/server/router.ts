/**
 * The router: the one place routes are registered on the transport's app (transport/types.ts). Every route passes the request
 * guard (serving/middleware/request-guard.ts) by its `RoutePolicy` before its handler runs, so a
 * route cannot be mounted without its auth and body-limit policy being applied. After the routes
 * come the fallbacks, which answer without auth: OPTIONS of a known path is 204 with `Allow`,
 * another method on a known path 405 with `Allow`, a plain GET of a WebSocket path 426, anything
 * else 404. HEAD of a GET route runs that route (its guard too) and answers as its GET would,
 * without the body (RFC 9110 §9.3.2); HEAD anywhere else gets its fallback's answer without the
 * body. Both transports answer alike (test/unit/serving/head-and-options.test.ts).
 *
 * Hot path (GET and POST of features): the guard's check and one call into the route's handler;
 * a body route adds the body reader, one small object per request.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../../core/logger.ts'
import { HttpError, statusLine, toHttpError } from '../errors.ts'
import type { RequestGuard, RoutePolicy } from '../middleware/request-guard.ts'
import { JSON_TYPE, type Ctx, type RequestLifecycle } from './request-lifecycle.ts'
import { DUPLICATE_CONTENT_LENGTH } from './transport/node-client-errors.ts'
import type { TransportApp, TransportRequest, TransportSocket, TransportSocketBehavior } from './transport/types.ts'

export interface HttpRoute {
  readonly method: 'get' | 'post'
  readonly pattern: string
  /** The route's metrics label. */
  readonly name: string
  readonly policy: RoutePolicy
  /** Runs once the guard let the request in; reads everything it needs from `req` before any await (uWS rule). */
  readonly handle: (ctx: Ctx, req: TransportRequest) => void
  /** For a `policy.body` route: the whole body, once it arrived within the limit (after `handle`). */
  readonly onBody?: (ctx: Ctx, body: Buffer) => void
}

export interface WsRoute<S> {
  readonly method: 'ws'
  readonly pattern: string
  /** The route's name in logs. */
  readonly name: string
  readonly policy: RoutePolicy
  /** A refusal judged before the guard's (e.g. 503 while shutting down). */
  refuse?(): HttpError | undefined
  /** The state of a socket whose upgrade was admitted. */
  socketState(): S
  readonly behavior: WsBehavior<S>
}

/** A WebSocket route's settings and handlers; the router adds the upgrade handler (where the guard runs). */
export interface WsBehavior<S> extends Pick<TransportSocketBehavior<S>, 'maxPayloadLength' | 'idleTimeout' | 'maxBackpressure' | 'closeOnBackpressureLimit'> {
  // Method syntax on purpose: a route over its own socket state still fits `Route`.
  open?(ws: TransportSocket<S>): void
  message?(ws: TransportSocket<S>, message: ArrayBuffer, isBinary: boolean): void
  close?(ws: TransportSocket<S>, code: number, message: ArrayBuffer): void
}

export type Route = HttpRoute | WsRoute<unknown>

/** A mounted route as tests and docs see it. */
export interface RouteInfo {
  readonly method: 'GET' | 'POST' | 'WS'
  readonly pattern: string
  readonly access: RoutePolicy['access']
}

export function mountRoutes(
  app: TransportApp,
  routes: readonly Route[],
  args: { readonly guard: RequestGuard; readonly lifecycle: RequestLifecycle; readonly logger: Logger },
): readonly RouteInfo[] {
  const { guard, lifecycle, logger } = args
  const { handler, fail } = lifecycle

  /** Streams the body through the guard's bounded reader; an over-limit body is 413 and closes the connection (the rest is unread). */
  const readBody = (ctx: Ctx, onBody: (ctx: Ctx, body: Buffer) => void): void => {
    const body = guard.body()
    lifecycle.awaitBody(ctx)
    ctx.res.onData((chunk, isLast) => {
      // A transport callback of its own: nothing may throw out of it.
      try {
        if (ctx.done) return
        const refusal = body.append(chunk)
        if (refusal !== undefined) return fail(ctx, refusal, true)
        if (isLast) onBody(ctx, body.bytes())
      } catch (err: unknown) {
        fail(ctx, err, true)
      }
    })
  }

  const mountHttp = (route: HttpRoute): void => {
    const { policy, onBody } = route
    // A refused body route closes the connection: its body is never read.
    const closeOnRefusal = policy.body === true
    const serve = (ctx: Ctx, req: TransportRequest): void => {
      if (contentLengthTwice(req)) return fail(ctx, AMBIGUOUS_LENGTH, true)
      const refusal = guard.check(policy, req)
      if (refusal !== undefined) return fail(ctx, refusal, closeOnRefusal)
      route.handle(ctx, req)
      if (onBody !== undefined && !ctx.done) readBody(ctx, onBody)
    }
    app[route.method](route.pattern, handler(route.name, serve))
    if (route.method === 'get')
      app.head(
        route.pattern,
        handler(route.name, (ctx, req) => {
          ctx.head = true
          serve(ctx, req)
        }),
      )
  }

  const mountWs = (route: WsRoute<unknown>): void => {
    app.ws<unknown>(route.pattern, {
      ...route.behavior,
      upgrade: (res, req, context) => {
        let answered = false
        try {
          const refusal = route.refuse?.() ?? handshakeRefusal(req, route.pattern) ?? guard.check(route.policy, req)
          if (refusal !== undefined) {
            const { status, body } = toHttpError(refusal)
            answered = true
            res.cork(() => {
              res.writeStatus(statusLine(status)).writeHeader('content-type', JSON_TYPE)
              if (status === 426) res.writeHeader('upgrade', 'websocket').writeHeader('sec-websocket-version', '13')
              res.end(JSON.stringify(body))
            })
            return
          }
          const state = route.socketState()
          answered = true
          res.upgrade(state, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context)
        } catch (err: unknown) {
          const errorId = randomUUID()
          logger.error({ err, route: route.name, where: 'upgrade', errorId }, 'WebSocket upgrade failed')
          if (answered) return
          try {
            res.cork(() =>
              res
                .writeStatus(statusLine(500))
                .writeHeader('content-type', JSON_TYPE)
                .end(JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error', errorId } })),
            )
          } catch {
            // Nothing more can be written; the log line has it.
          }
        }
      },
    })
  }

  for (const route of routes) {
    if (route.method === 'ws') mountWs(route)
    else mountHttp(route)
  }
  mountFallbacks(app, routes, lifecycle)
  return routes.map((r) => ({ method: r.method === 'ws' ? 'WS' : r.method === 'get' ? 'GET' : 'POST', pattern: r.pattern, access: r.policy.access }))
}

/**
 * Every known path answers OPTIONS with 204 and the methods it has (`Allow`), another method with
 * 405 and `Allow` (a WebSocket path answers a plain GET or HEAD with 426); the rest is 404. HEAD is
 * answered without a body. A request body is not read here, so the connection is closed after the
 * answer when one was sent — except after OPTIONS and HEAD, whose bodiless answers uWS cannot
 * close (transport/types.ts `endWithoutBody`): their body, framed, is skipped by the parser and
 * the connection kept. No CORS headers: the server sends none on any route.
 */
function mountFallbacks(app: TransportApp, routes: readonly Route[], lifecycle: RequestLifecycle): void {
  const { handler, fail } = lifecycle
  const allowOf = allowedMethods(routes)
  const webSocketPaths = new Set(routes.filter((r) => r.method === 'ws').map((r) => r.pattern))
  for (const [pattern, allow] of allowOf) {
    app.any(
      pattern,
      handler('other', (ctx, req) => {
        if (contentLengthTwice(req)) return fail(ctx, AMBIGUOUS_LENGTH, true)
        const verb = req.getMethod()
        ctx.head = verb === 'head'
        if (verb === 'options') {
          ctx.headers = { allow }
          return lifecycle.noContent(ctx)
        }
        if (webSocketPaths.has(pattern) && (verb === 'get' || verb === 'head')) {
          ctx.headers = { upgrade: 'websocket', 'sec-websocket-version': '13' }
          // uWS sends an upgrade whose key is not valid here rather than to the WebSocket route.
          const refusal = req.getHeader('upgrade').toLowerCase() === 'websocket' ? badKey(pattern) : new HttpError(426, 'UPGRADE_REQUIRED', `${pattern} is a WebSocket endpoint: send Upgrade: websocket`)
          return fail(ctx, refusal, unreadBody(ctx, req))
        }
        ctx.headers = { allow }
        // Upper-cased, not getCaseSensitiveMethod(): on a WebSocket path uWS gives that in lower case
        // ('post is not allowed'); both parsers refuse a method that is not upper case, so this is as sent.
        const method = req.getMethod().toUpperCase()
        fail(ctx, new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${pattern}; use ${allow}`, { allow }), unreadBody(ctx, req))
      }),
    )
  }
  app.any(
    '/*',
    handler('other', (ctx, req) => {
      if (contentLengthTwice(req)) return fail(ctx, AMBIGUOUS_LENGTH, true)
      ctx.head = req.getMethod() === 'head'
      fail(ctx, new HttpError(404, 'NOT_FOUND', 'no such route'), unreadBody(ctx, req))
    }),
  )
}

/** Per path, the `Allow` of its answers: its methods, HEAD beside GET, and OPTIONS. */
export function allowedMethods(routes: readonly Route[]): ReadonlyMap<string, string> {
  const methodsOf = new Map<string, string[]>()
  for (const r of routes) {
    const methods = methodsOf.get(r.pattern) ?? []
    methods.push(...(r.method === 'post' ? ['POST'] : ['GET', 'HEAD']))
    methodsOf.set(r.pattern, methods)
  }
  return new Map([...methodsOf].map(([pattern, methods]) => [pattern, [...methods, 'OPTIONS'].join(', ')]))
}

/** A Sec-WebSocket-Key: 16 bytes in base64 (RFC 6455 §4.1). */
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/

function badKey(pattern: string): HttpError {
  return new HttpError(426, 'UPGRADE_REQUIRED', `${pattern} needs a WebSocket handshake: send Sec-WebSocket-Key (16 bytes in base64) with Upgrade: websocket`)
}

/**
 * A handshake the WebSocket route does not take, judged alike on both transports: uWS never
 * hands an upgrade without a valid key to the route (the fallback answers it), where ws answered
 * node:http's with a text/html 400; a version other than 13 uWS accepted and ws refused with 400.
 * Both are 426 with the error body and the version to send (RFC 6455 §4.4).
 */
function handshakeRefusal(req: TransportRequest, pattern: string): HttpError | undefined {
  if (!WS_KEY.test(req.getHeader('sec-websocket-key'))) return badKey(pattern)
  if (req.getHeader('sec-websocket-version') !== '13') {
    return new HttpError(426, 'UPGRADE_REQUIRED', `${pattern} speaks WebSocket version 13: send Sec-WebSocket-Version: 13`)
  }
  return undefined
}

const AMBIGUOUS_LENGTH = new HttpError(400, 'BAD_REQUEST', DUPLICATE_CONTENT_LENGTH)

/**
 * Two Content-Length headers: uWS reads the body by the first, where a proxy in front may have
 * framed it by the last and sent the rest as the next request (request smuggling). node:http's
 * parser refuses it (node-client-errors.ts); the router refuses it on uWS alike and closes the
 * connection, whose framing is lost. Only a request with a length pays for the header walk.
 */
function contentLengthTwice(req: TransportRequest): boolean {
  if (req.getHeader('content-length') === '') return false
  let lengths = 0
  req.forEach((key) => {
    if (key === 'content-length') lengths++
  })
  return lengths > 1
}

/** Whether to close after a fallback's answer: a body was sent and is left unread (a HEAD's is skipped: see mountFallbacks). */
function unreadBody(ctx: Ctx, req: TransportRequest): boolean {
  return !ctx.head && hasBody(req)
}

function hasBody(req: TransportRequest): boolean {
  const length = req.getHeader('content-length')
  return (length !== '' && length !== '0') || req.getHeader('transfer-encoding') !== ''
}
