/**
 * The HTTP/WebSocket server on uWebSockets.js (uWS stays in serving/server/: here and in
 * request-lifecycle.ts, which answers each request exactly once). Handlers are the pure
 * functions of serving/handlers/; this file does routing, limits, auth and server lifecycle.
 *
 * uWS rules followed throughout: everything read from `req` is read before the first await (the
 * request object dies when the callback returns); `onAborted` is registered before any await and
 * an aborted response is never written; writes after an await go through `res.cork`.
 *
 * Security: with `apiKeys` configured every route but `/healthz` needs `Authorization: Bearer
 * <key>` (WebSocket clients that cannot set headers may pass `?access_token=<key>`); with no keys
 * configured the server is open — meant for a trusted network only. Keys are compared by SHA-256
 * digest so lookup time does not depend on how much of a guess matches.
 */
import { createHash, randomUUID } from 'node:crypto'
import uWS from 'uWebSockets.js'
import type { Clock } from '../../core/clock.ts'
import { systemClock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import { silentLogger } from '../../core/logger.ts'
import type { FeatureServiceDef, FeatureViewDef, RequestFeatureDef } from '../../features/types.ts'
import type { ServingStore } from '../../ports/serving-store.ts'
import { HttpError } from '../errors.ts'
import { createFeatureCatalog } from '../feature-catalog.ts'
import { renderCatalogPage } from '../handlers/catalog-page.ts'
import { getFeatures, getViewFeatures, type FeatureHandlerDeps } from '../handlers/get-features.ts'
import { buildRegistry } from '../handlers/registry.ts'
import { HotCache, type HotCacheOptions } from '../hot-cache.ts'
import { createServingMetrics } from '../metrics.ts'
import { isValidRequestId } from '../served-log/sampling.ts'
import type { ServedLogRecorder, ServedLogStats } from '../served-log/served-log.ts'
import { createRequestLifecycle, type Ctx } from './request-lifecycle.ts'
import { attachSubscriptions, type SubscriptionLimits } from './subscriptions.ts'

export interface ServerOptions {
  readonly host?: string
  /** Accepted bearer keys; empty or absent = no authentication. */
  readonly apiKeys?: readonly string[]
  readonly maxBodyBytes?: number
  /** Most (view, entity) lookups per request. */
  readonly maxLookups?: number
  readonly requestTimeoutMs?: number
  /** Hot-key cache; off when absent. */
  readonly cache?: HotCacheOptions
  readonly shutdownGraceMs?: number
  /** WebSocket limits (serving/server/subscriptions.ts has the defaults). */
  readonly subscriptions?: SubscriptionLimits
  readonly clock?: Clock
  readonly logger?: Logger
  /**
   * The served-feature log (serving/served-log/); absent = off. When set, feature responses carry
   * `x-request-id` (the client's, when it sent a valid one; else a generated UUID), the id the
   * log samples by. The server does not close it: the owner flushes it after `close()`.
   */
  readonly servedLog?: ServedLogRecorder & { stats(): ServedLogStats }
}

export interface FeatureServer {
  /** Starts listening (port 0 = any free port) and resolves with the bound port. */
  listen(port: number): Promise<number>
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes sockets. Does not close the store. */
  close(): Promise<void>
  metricsText(): Promise<string>
}


export function createServer(args: {
  readonly store: ServingStore
  readonly views: readonly FeatureViewDef[]
  readonly services?: readonly FeatureServiceDef[]
  readonly requestFeatures?: readonly RequestFeatureDef[]
  readonly options?: ServerOptions
}): FeatureServer {
  const options = args.options ?? {}
  const logger = (options.logger ?? silentLogger).child({ component: 'serving.server' })
  const catalog = createFeatureCatalog({ views: args.views, services: args.services ?? [], requestFeatures: args.requestFeatures ?? [] })
  const registryJson = JSON.stringify(buildRegistry(catalog))
  const catalogHtml = renderCatalogPage(JSON.parse(registryJson) as ReturnType<typeof buildRegistry>)
  const metrics = createServingMetrics()
  const cache = options.cache ? new HotCache(options.cache) : undefined
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
  const lifecycle = createRequestLifecycle({ metrics, logger, requestTimeoutMs: options.requestTimeoutMs ?? 2000 })
  const keyDigests = new Set((options.apiKeys ?? []).map(digest))
  const servedLog = options.servedLog
  const deps: FeatureHandlerDeps = { catalog, store: args.store, cache, clock: options.clock ?? systemClock, maxLookups: options.maxLookups ?? 2000, servedLog }
  let listenSocket: uWS.us_listen_socket | undefined
  let unsubscribe: (() => Promise<void>) | undefined
  let closing: Promise<void> | undefined

  metrics.cache.reset()
  const scrapeCounters = (): void => {
    metrics.wsSubscriptions.set(subscriptions.total)
    if (servedLog) {
      const { sent, dropped } = servedLog.stats()
      metrics.servedLog.set({ outcome: 'sent' }, sent)
      for (const [reason, n] of Object.entries(dropped)) metrics.servedLog.set({ outcome: reason }, n)
    }
    if (!cache) return
    metrics.cache.set({ result: 'hit' }, cache.hits)
    metrics.cache.set({ result: 'miss' }, cache.misses)
  }

  const authorized = (authorization: string, accessToken = ''): boolean => {
    if (keyDigests.size === 0) return true
    const presented = authorization.startsWith('Bearer ') ? authorization.slice(7) : accessToken
    return presented.length > 0 && keyDigests.has(digest(presented))
  }

  const { handler, reply, fail, run } = lifecycle

  /** The id the served log samples by; read from `req` before any await (uWS rule). */
  const identify = (ctx: Ctx, req: uWS.HttpRequest): void => {
    if (!servedLog) return
    const given = req.getHeader('x-request-id')
    ctx.requestId = given !== '' && isValidRequestId(given) ? given : randomUUID()
  }

  const unauthorized = new HttpError(401, 'UNAUTHORIZED', 'missing or unknown API key (Authorization: Bearer <key>)')

  const app = uWS.App()

  app.get(
    '/healthz',
    handler('healthz', (ctx) => {
      const up = args.store.isReady?.() ?? true
      if (up) reply(ctx, 200, '{"status":"ok"}')
      else reply(ctx, 503, JSON.stringify({ status: 'unavailable', reason: 'online store not connected' }))
    }),
  )

  app.get(
    '/metrics',
    handler('metrics', (ctx, req) => {
      if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
      scrapeCounters()
      metrics.registry.metrics().then(
        (text) => reply(ctx, 200, text, metrics.registry.contentType),
        (err: unknown) => fail(ctx, err),
      )
    }),
  )

  app.get(
    '/v1/registry',
    handler('registry', (ctx, req) => {
      if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
      reply(ctx, 200, registryJson)
    }),
  )

  app.get(
    '/',
    handler('catalog', (ctx, req) => {
      if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
      reply(ctx, 200, catalogHtml, 'text/html; charset=utf-8')
    }),
  )

  app.get(
    '/v1/features/:view/:entityKey',
    handler('get_features', (ctx, req) => {
      if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
      const view = req.getParameter(0)
      const rawKey = req.getParameter(1)
      identify(ctx, req)
      run(ctx, () => getViewFeatures({ view: decodePath(view), entityKey: decodePath(rawKey) }, deps, ctx.requestId))
    }),
  )

  app.get(
    '/v1/features/:view',
    handler('get_features', (ctx, req) => {
      if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
      const view = req.getParameter(0)
      const query = Object.fromEntries(new URLSearchParams(req.getQuery() ?? ''))
      identify(ctx, req)
      run(ctx, () => getViewFeatures({ view: decodePath(view), query }, deps, ctx.requestId))
    }),
  )

  app.post(
    '/v1/features',
    handler('post_features', (ctx, req) => {
      if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized, true)
      const declared = Number(req.getHeader('content-length') || '0')
      if (declared > maxBodyBytes) return fail(ctx, tooLarge(maxBodyBytes), true)
      identify(ctx, req)
      const chunks: Buffer[] = []
      let size = 0
      ctx.res.onData((chunk, isLast) => {
        // A uWS callback of its own: nothing may throw out of it.
        try {
          if (ctx.done) return
          size += chunk.byteLength
          if (size > maxBodyBytes) return fail(ctx, tooLarge(maxBodyBytes), true)
          // uWS reuses the chunk's memory after this callback: copy it.
          chunks.push(Buffer.from(new Uint8Array(chunk)))
          if (!isLast) return
          run(ctx, async () => getFeatures(parseJsonBody(Buffer.concat(chunks)), deps, ctx.requestId))
        } catch (err: unknown) {
          fail(ctx, err, true)
        }
      })
    }),
  )

  const subscriptions = attachSubscriptions(app, {
    catalog,
    deps,
    metrics,
    logger,
    limits: options.subscriptions ?? {},
    admit: (authorization, accessToken) => {
      if (closing) return new HttpError(503, 'SHUTTING_DOWN', 'server is shutting down')
      return authorized(authorization, accessToken) ? undefined : unauthorized
    },
  })

  // Every known path answers another method with 405 and the methods it has; the rest is 404.
  // A request body is not read here, so the connection is closed after the answer.
  for (const [pattern, allow] of ROUTE_METHODS) {
    app.any(
      pattern,
      handler('other', (ctx, req) => {
        if (pattern === SUBSCRIBE_PATH && req.getMethod() === 'get') {
          ctx.headers = { upgrade: 'websocket' }
          return fail(ctx, new HttpError(426, 'UPGRADE_REQUIRED', `${SUBSCRIBE_PATH} is a WebSocket endpoint: send Upgrade: websocket`), hasBody(req))
        }
        ctx.headers = { allow }
        fail(ctx, new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.getCaseSensitiveMethod()} is not allowed on ${pattern}; use ${allow}`, { allow }), hasBody(req))
      }),
    )
  }

  app.any(
    '/*',
    handler('other', (ctx, req) => fail(ctx, new HttpError(404, 'NOT_FOUND', 'no such route'), hasBody(req))),
  )

  return {
    async listen(port) {
      if (args.store.subscribeChanges) {
        // Wait for the change feed briefly; if the store is down it keeps connecting in the background.
        const subscribing = args.store.subscribeChanges(args.views, (change) => subscriptions.onChange(change)).then((off) => {
          if (closing) void off()
          else unsubscribe = off
        })
        subscribing.catch((err: unknown) => logger.error({ err }, 'change feed unavailable'))
        await Promise.race([subscribing.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2000).unref())])
      }
      return new Promise<number>((resolve, reject) => {
        app.listen(options.host ?? '127.0.0.1', port, (socket) => {
          if (!socket) return reject(new Error(`cannot listen on ${options.host ?? '127.0.0.1'}:${port}`))
          listenSocket = socket
          const bound = uWS.us_socket_local_port(socket as unknown as uWS.us_socket)
          logger.info({ port: bound }, 'serving started')
          resolve(bound)
        })
      })
    },
    close() {
      closing ??= (async () => {
        if (listenSocket) uWS.us_listen_socket_close(listenSocket)
        listenSocket = undefined
        subscriptions.closeAll()
        const deadline = Date.now() + (options.shutdownGraceMs ?? 5000)
        while (lifecycle.inflight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
        await unsubscribe?.()
        // Closes idle keep-alive connections too (present at runtime, missing from the typings).
        ;(app as unknown as { close?: () => void }).close?.()
        logger.info({}, 'serving stopped')
      })()
      return closing
    },
    metricsText() {
      scrapeCounters()
      return metrics.registry.metrics()
    },
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** Each route's path and the methods it answers (for 405's `Allow`). */
const SUBSCRIBE_PATH = '/v1/subscribe'
const ROUTE_METHODS: readonly (readonly [string, string])[] = [
  ['/healthz', 'GET'],
  ['/metrics', 'GET'],
  ['/v1/registry', 'GET'],
  ['/', 'GET'],
  ['/v1/features/:view/:entityKey', 'GET'],
  ['/v1/features/:view', 'GET'],
  ['/v1/features', 'POST'],
  [SUBSCRIBE_PATH, 'GET'],
]

function hasBody(req: uWS.HttpRequest): boolean {
  const length = req.getHeader('content-length')
  return (length !== '' && length !== '0') || req.getHeader('transfer-encoding') !== ''
}

function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'body is not valid JSON')
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `body larger than ${limit} bytes`)
}

function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'malformed percent-encoding in path')
  }
}
