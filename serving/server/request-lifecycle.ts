/**
 * One HTTP request's life on the transport (uWS's semantics on either, transport/types.ts), from
 * `begin` to exactly one answer: the answer is written once (a second `reply`/`fail` is a no-op),
 * never to an aborted response, always corked; every request is counted and timed once whether
 * answered or aborted; work that outlives the timeout is answered 504 and its later result dropped.
 *
 * Nothing here throws back into the transport: an exception escaping a uWS callback aborts the
 * process (the node transport would close the connection unanswered), so `handler` wraps each
 * route, `reply` swallows (and logs) a failed write, and `run` serialises the
 * result inside the request (a body JSON cannot carry — BigInt, a cycle, a throwing toJSON — is a
 * 500, not an exception in a promise callback). The request timeout runs from the request's head:
 * a body still arriving when it passes is 408 REQUEST_TIMEOUT and closes the connection (a client
 * that sends a head and stalls holds nothing longer, on either transport), work still running
 * then is 504. Every 5xx but 503 is logged with an `errorId`
 * that the body carries too, so a client's report can be matched to the log line with the
 * exception; the body itself never carries an exception's text.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../../core/logger.ts'
import { HttpError, statusLine, toHttpError } from '../errors.ts'
import { JsonBody } from '../json-body.ts'
import type { createServingMetrics } from '../metrics.ts'
import type { TransportRequest, TransportResponse } from './transport/types.ts'

export interface Ctx {
  readonly res: TransportResponse
  readonly route: string
  readonly startedMs: number
  requestId: string | undefined
  /** Extra response headers (e.g. 405's `Allow`). */
  headers: Readonly<Record<string, string>> | undefined
  /**
   * A HEAD request: answered as its GET is — status and headers, Content-Length the GET body's
   * (RFC 9110 §9.3.2) — without the body.
   */
  head: boolean
  aborted: boolean
  done: boolean
  /** Its body is still arriving (`awaitBody`), so an overdue request is the client's 408, not a 504. */
  readingBody: boolean
}

export interface RequestLifecycle {
  /** Starts a request on `route` (its metrics label); registers `onAborted` (before any await, as uWS requires). */
  begin(res: TransportResponse, route: string): Ctx
  /** A transport route handler: `begin`, then `handle`; whatever `handle` throws is answered by `fail`. */
  handler(route: string, handle: (ctx: Ctx, req: TransportRequest) => void): (res: TransportResponse, req: TransportRequest) => void
  reply(ctx: Ctx, status: number, body: string, contentType?: string, closeConnection?: boolean): void
  /** Answers 204 No Content with `ctx.headers` (no Content-Type, no Content-Length: RFC 9110 §8.6); the connection stays open. */
  noContent(ctx: Ctx): void
  /** Answers with the error's status and JSON body (logged with an errorId when it is a 5xx other than 503). */
  fail(ctx: Ctx, err: unknown, closeConnection?: boolean): void
  /** Starts the request timeout while its body arrives: past it, 408 and the connection closes. */
  awaitBody(ctx: Ctx): void
  /** Answers 200 with the JSON of `work`'s result (a JsonBody as it is), the error if it fails, or 504 if it takes too long. */
  run(ctx: Ctx, work: () => Promise<object>): void
  /** Requests begun and not yet answered or aborted. */
  readonly inflight: number
}

export const JSON_TYPE = 'application/json'

export function createRequestLifecycle(options: {
  readonly metrics: ReturnType<typeof createServingMetrics>
  readonly logger: Logger
  readonly requestTimeoutMs: number
}): RequestLifecycle {
  const { metrics, logger, requestTimeoutMs } = options
  let inflight = 0

  // prom-client resolves label values on every call; a route's children are resolved once.
  const latencyOf = new Map<string, { observe(seconds: number): void }>()
  const responsesOf = new Map<string, { inc(): void }>()

  /** Bookkeeping once per request, whether it was answered or aborted; true if it may be answered. */
  const settle = (ctx: Ctx, status: number): boolean => {
    if (ctx.done) return false
    ctx.done = true
    inflight--
    let latency = latencyOf.get(ctx.route)
    if (latency === undefined) latencyOf.set(ctx.route, (latency = metrics.latency.labels({ route: ctx.route })))
    latency.observe((performance.now() - ctx.startedMs) / 1000)
    const key = `${ctx.route} ${status}`
    let responses = responsesOf.get(key)
    if (responses === undefined) responsesOf.set(key, (responses = metrics.responses.labels({ route: ctx.route, status: String(status) })))
    responses.inc()
    return !ctx.aborted
  }

  const begin = (res: TransportResponse, route: string): Ctx => {
    const ctx: Ctx = { res, route, startedMs: performance.now(), requestId: undefined, headers: undefined, head: false, aborted: false, done: false, readingBody: false }
    inflight++
    res.onAborted(() => {
      ctx.aborted = true
      settle(ctx, 499)
    })
    return ctx
  }

  const reply = (ctx: Ctx, status: number, body: string, contentType = JSON_TYPE, closeConnection = false): void => {
    if (!settle(ctx, status)) return
    try {
      ctx.res.cork(() => {
        ctx.res.writeStatus(statusLine(status)).writeHeader('content-type', contentType)
        if (ctx.requestId !== undefined) ctx.res.writeHeader('x-request-id', ctx.requestId)
        if (ctx.headers !== undefined) for (const [name, value] of Object.entries(ctx.headers)) ctx.res.writeHeader(name, value)
        // A HEAD answer that must close its connection (its framing lost) carries the body, then
        // closes: the connection ends with it, and uWS can close only an answer with a body.
        if (!ctx.head || closeConnection) ctx.res.end(body, closeConnection)
        else ctx.res.writeHeader('Content-Length', String(Buffer.byteLength(body))).endWithoutBody()
      })
    } catch (err: unknown) {
      // The connection went away between the abort check and the write; the answer has no reader.
      logger.warn({ err, route: ctx.route, status }, 'response could not be written')
    }
  }

  const noContent = (ctx: Ctx): void => {
    if (!settle(ctx, 204)) return
    try {
      ctx.res.cork(() => {
        ctx.res.writeStatus(statusLine(204))
        if (ctx.headers !== undefined) for (const [name, value] of Object.entries(ctx.headers)) ctx.res.writeHeader(name, value)
        ctx.res.endWithoutBody()
      })
    } catch (err: unknown) {
      logger.warn({ err, route: ctx.route, status: 204 }, 'response could not be written')
    }
  }

  const fail = (ctx: Ctx, err: unknown, closeConnection = false): void => {
    let status = 500
    let text: string
    try {
      const mapped = toHttpError(err)
      status = mapped.status
      text = status >= 500 && status !== 503 ? JSON.stringify({ error: { ...mapped.body.error, errorId: logFailure(ctx, err) } }) : JSON.stringify(mapped.body)
    } catch (mappingErr: unknown) {
      // Only a hostile error object (a Proxy, a throwing getter) gets here; answer it as a bug.
      status = 500
      text = JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error', errorId: logFailure(ctx, mappingErr) } })
    }
    reply(ctx, status, text, JSON_TYPE, closeConnection)
  }

  /** Logs a server-side failure of the request under a new error id and returns the id (unique even when a client reuses its x-request-id). */
  const logFailure = (ctx: Ctx, err: unknown): string => {
    const errorId = randomUUID()
    logger.error({ err, route: ctx.route, errorId, ...(ctx.requestId === undefined ? {} : { requestId: ctx.requestId }) }, 'request failed')
    return errorId
  }

  const handler =
    (route: string, handle: (ctx: Ctx, req: TransportRequest) => void) =>
    (res: TransportResponse, req: TransportRequest): void => {
      const ctx = begin(res, route)
      try {
        handle(ctx, req)
      } catch (err: unknown) {
        fail(ctx, err)
      }
    }

  /** The 200 answer to `body`; serialising is part of the request, so its failure is this request's 500. */
  const succeed = (ctx: Ctx, body: object): void => {
    if (body instanceof JsonBody) return reply(ctx, 200, body.text)
    let text: string | undefined
    try {
      text = JSON.stringify(body)
    } catch (err: unknown) {
      return fail(ctx, err)
    }
    if (typeof text !== 'string') return fail(ctx, new Error(`response body serialised to ${typeof text}`))
    reply(ctx, 200, text)
  }

  /**
   * Requests awaiting their work. One sweep timer, running only while some wait, answers the
   * overdue ones with 504 — a timer and a race per request cost more than the lookup itself.
   */
  const waiting = new Set<Ctx>()
  const sweepMs = Math.max(5, Math.min(100, requestTimeoutMs / 4))
  let sweeper: NodeJS.Timeout | undefined
  const sweep = (): void => {
    const now = performance.now()
    for (const ctx of waiting) {
      if (now - ctx.startedMs < requestTimeoutMs) continue
      waiting.delete(ctx)
      if (ctx.readingBody) fail(ctx, new HttpError(408, 'REQUEST_TIMEOUT', `the request body did not arrive within ${requestTimeoutMs} ms`), true)
      else fail(ctx, new HttpError(504, 'TIMEOUT', `request took longer than ${requestTimeoutMs} ms`))
    }
    if (waiting.size === 0) {
      clearInterval(sweeper)
      sweeper = undefined
    }
  }

  const awaitBody = (ctx: Ctx): void => {
    ctx.readingBody = true
    waiting.add(ctx)
    sweeper ??= setInterval(sweep, sweepMs)
  }

  const run = (ctx: Ctx, work: () => Promise<object>): void => {
    ctx.readingBody = false
    let pending: Promise<object>
    try {
      pending = work()
    } catch (err: unknown) {
      pending = Promise.reject(err)
    }
    waiting.add(ctx)
    sweeper ??= setInterval(sweep, sweepMs)
    pending
      .then(
        (body) => {
          waiting.delete(ctx)
          succeed(ctx, body)
        },
        (err: unknown) => {
          waiting.delete(ctx)
          fail(ctx, err)
        },
      )
      // Neither callback throws; should one ever, the request still gets its answer.
      .catch((err: unknown) => fail(ctx, err))
  }

  return {
    begin,
    handler,
    reply,
    noContent,
    fail,
    awaitBody,
    run,
    get inflight() {
      return inflight
    },
  }
}
