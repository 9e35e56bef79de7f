/**
 * One HTTP request's life on uWS, from `begin` to exactly one answer: the answer is written once
 * (a second `reply`/`fail` is a no-op), never to an aborted response, always corked; every request
 * is counted and timed once whether answered or aborted; work that outlives the timeout is
 * answered 504 and its later result dropped.
 */
import type uWS from 'uWebSockets.js'
import type { Logger } from '../../core/logger.ts'
import { HttpError, statusLine, toHttpError } from '../errors.ts'
import type { createServingMetrics } from '../metrics.ts'

export interface Ctx {
  readonly res: uWS.HttpResponse
  readonly route: string
  readonly startedMs: number
  requestId: string | undefined
  aborted: boolean
  done: boolean
}

export interface RequestLifecycle {
  /** Starts a request on `route` (its metrics label); registers `onAborted` (before any await, as uWS requires). */
  begin(res: uWS.HttpResponse, route: string): Ctx
  reply(ctx: Ctx, status: number, body: string, contentType?: string, closeConnection?: boolean): void
  /** Answers with the error's status and JSON body (logged when it is an unexpected 5xx). */
  fail(ctx: Ctx, err: unknown, closeConnection?: boolean): void
  /** Answers 200 with the JSON of `work`'s result, the error if it fails, or 504 if it takes too long. */
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

  const begin = (res: uWS.HttpResponse, route: string): Ctx => {
    const ctx: Ctx = { res, route, startedMs: performance.now(), requestId: undefined, aborted: false, done: false }
    inflight++
    res.onAborted(() => {
      ctx.aborted = true
      settle(ctx, 499)
    })
    return ctx
  }

  const reply = (ctx: Ctx, status: number, body: string, contentType = JSON_TYPE, closeConnection = false): void => {
    if (!settle(ctx, status)) return
    ctx.res.cork(() => {
      ctx.res.writeStatus(statusLine(status)).writeHeader('content-type', contentType)
      if (ctx.requestId !== undefined) ctx.res.writeHeader('x-request-id', ctx.requestId)
      ctx.res.end(body, closeConnection)
    })
  }

  const fail = (ctx: Ctx, err: unknown, closeConnection = false): void => {
    const { status, body } = toHttpError(err)
    if (status >= 500 && status !== 503) logger.error({ err, route: ctx.route }, 'request failed')
    reply(ctx, status, JSON.stringify(body), JSON_TYPE, closeConnection)
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
      fail(ctx, new HttpError(504, 'TIMEOUT', `request took longer than ${requestTimeoutMs} ms`))
    }
    if (waiting.size === 0) {
      clearInterval(sweeper)
      sweeper = undefined
    }
  }

  const run = (ctx: Ctx, work: () => Promise<object>): void => {
    let pending: Promise<object>
    try {
      pending = work()
    } catch (err: unknown) {
      pending = Promise.reject(err)
    }
    waiting.add(ctx)
    sweeper ??= setInterval(sweep, sweepMs)
    pending.then(
      (body) => {
        waiting.delete(ctx)
        reply(ctx, 200, JSON.stringify(body))
      },
      (err: unknown) => {
        waiting.delete(ctx)
        fail(ctx, err)
      },
    )
  }

  return {
    begin,
    reply,
    fail,
    run,
    get inflight() {
      return inflight
    },
  }
}
