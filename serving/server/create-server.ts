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
import type { FeatureServiceDef, FeatureViewDef, RequestFeatureDef } from '../../operators/define/types.ts'
import type { OnlineStore } from '../../pipeline/ports.ts'
import { HttpError, statusLine, toHttpError } from '../errors.ts'
import { createFeatureCatalog } from '../feature-catalog.ts'
import { renderCatalogPage } from '../handlers/catalog-page.ts'
import { getFeatures, getViewFeatures, type FeatureHandlerDeps } from '../handlers/get-features.ts'
import { buildRegistry } from '../handlers/registry.ts'
import { parseSubscriptionMessage, rowMessage, snapshotMessage, topicOf, type SubscriptionChange } from '../handlers/subscribe.ts'
import { readLookups } from '../feature-reader.ts'
import { HotCache, type HotCacheOptions } from '../hot-cache.ts'
import { createServingMetrics } from '../metrics.ts'
import { isValidRequestId } from '../served-log/sampling.ts'
import type { ServedLogRecorder, ServedLogStats } from '../served-log/served-log.ts'
import { createRequestLifecycle, JSON_TYPE, type Ctx } from './request-lifecycle.ts'

/** What serving needs from an online store; both RedisOnlineStore and EmbeddedOnlineStore fit. */
export interface ServingStore extends Pick<OnlineStore, 'readRows'> {
  subscribeChanges?(views: readonly FeatureViewDef[], listener: (change: SubscriptionChange) => void): Promise<() => Promise<void>>
  isReady?(): boolean
}

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
  readonly maxSubscriptionsPerMessage?: number
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
  const sockets = new Set<uWS.WebSocket<unknown>>()
  let listenSocket: uWS.us_listen_socket | undefined
  let unsubscribe: (() => Promise<void>) | undefined
  let closing: Promise<void> | undefined

  metrics.cache.reset()
  const scrapeCounters = (): void => {
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

  const { begin, reply, fail, run } = lifecycle

  /** The id the served log samples by; read from `req` before any await (uWS rule). */
  const identify = (ctx: Ctx, req: uWS.HttpRequest): void => {
    if (!servedLog) return
    const given = req.getHeader('x-request-id')
    ctx.requestId = given !== '' && isValidRequestId(given) ? given : randomUUID()
  }

  const unauthorized = new HttpError(401, 'UNAUTHORIZED', 'missing or unknown API key (Authorization: Bearer <key>)')

  const app = uWS.App()

  app.get('/healthz', (res) => {
    const ctx = begin(res, 'healthz')
    const up = args.store.isReady?.() ?? true
    if (up) reply(ctx, 200, '{"status":"ok"}')
    else reply(ctx, 503, JSON.stringify({ status: 'unavailable', reason: 'online store not connected' }))
  })

  app.get('/metrics', (res, req) => {
    const ctx = begin(res, 'metrics')
    if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
    scrapeCounters()
    metrics.registry.metrics().then(
      (text) => reply(ctx, 200, text, metrics.registry.contentType),
      (err: unknown) => fail(ctx, err),
    )
  })

  app.get('/v1/registry', (res, req) => {
    const ctx = begin(res, 'registry')
    if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
    reply(ctx, 200, registryJson)
  })

  app.get('/', (res, req) => {
    const ctx = begin(res, 'catalog')
    if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
    reply(ctx, 200, catalogHtml, 'text/html; charset=utf-8')
  })

  app.get('/v1/features/:view/:entityKey', (res, req) => {
    const ctx = begin(res, 'get_features')
    if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
    const view = req.getParameter(0)
    const rawKey = req.getParameter(1)
    identify(ctx, req)
    run(ctx, () => getViewFeatures({ view: decodePath(view), entityKey: decodePath(rawKey) }, deps, ctx.requestId))
  })

  app.get('/v1/features/:view', (res, req) => {
    const ctx = begin(res, 'get_features')
    if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized)
    const view = req.getParameter(0)
    const query = Object.fromEntries(new URLSearchParams(req.getQuery() ?? ''))
    identify(ctx, req)
    run(ctx, () => getViewFeatures({ view: decodePath(view), query }, deps, ctx.requestId))
  })

  app.post('/v1/features', (res, req) => {
    const ctx = begin(res, 'post_features')
    if (!authorized(req.getHeader('authorization'))) return fail(ctx, unauthorized, true)
    const declared = Number(req.getHeader('content-length') || '0')
    if (declared > maxBodyBytes) return fail(ctx, tooLarge(maxBodyBytes), true)
    identify(ctx, req)
    const chunks: Buffer[] = []
    let size = 0
    res.onData((chunk, isLast) => {
      if (ctx.done) return
      size += chunk.byteLength
      if (size > maxBodyBytes) return fail(ctx, tooLarge(maxBodyBytes), true)
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)))
      if (!isLast) return
      run(ctx, async () => {
        let body: unknown
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        } catch {
          throw new HttpError(400, 'BAD_REQUEST', 'body is not valid JSON')
        }
        return getFeatures(body, deps, ctx.requestId)
      })
    })
  })

  app.ws<Record<string, never>>('/v1/subscribe', {
    maxPayloadLength: 64 * 1024,
    idleTimeout: 120,
    maxBackpressure: 4 * 1024 * 1024,
    closeOnBackpressureLimit: 1,
    upgrade: (res, req, context) => {
      const ok = authorized(req.getHeader('authorization'), new URLSearchParams(req.getQuery() ?? '').get('access_token') ?? '')
      if (!ok || closing) {
        const { status, body } = toHttpError(closing ? new HttpError(503, 'SHUTTING_DOWN', 'server is shutting down') : unauthorized)
        res.writeStatus(statusLine(status)).writeHeader('content-type', JSON_TYPE).end(JSON.stringify(body))
        return
      }
      res.upgrade({}, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context)
    },
    open: (ws) => {
      sockets.add(ws)
      metrics.wsConnections.inc()
    },
    message: (ws, message) => {
      try {
        const { subscribe, unsubscribe: off, lookups } = parseSubscriptionMessage(
          Buffer.from(message).toString('utf8'),
          catalog,
          options.maxSubscriptionsPerMessage ?? 1000,
        )
        for (const t of subscribe) ws.subscribe(t)
        for (const t of off) ws.unsubscribe(t)
        ws.send(JSON.stringify({ type: 'subscribed', topics: ws.getTopics().length }))
        if (lookups.length > 0) sendSnapshots(ws, lookups)
      } catch (err: unknown) {
        ws.send(JSON.stringify({ type: 'error', ...toHttpError(err).body }))
      }
    },
    close: (ws) => {
      sockets.delete(ws)
      metrics.wsConnections.dec()
    },
  })

  app.any('/*', (res) => {
    const ctx = begin(res, 'other')
    fail(ctx, new HttpError(404, 'NOT_FOUND', 'no such route'))
  })

  /** Current rows for new subscriptions, in one store read; a socket closed meanwhile is skipped. */
  const sendSnapshots = (ws: uWS.WebSocket<unknown>, lookups: readonly { view: FeatureViewDef; entityKey: string }[]): void => {
    const full = lookups.map(({ view, entityKey }) => ({ view, entityKey, features: view.features.map((f) => f.name) }))
    readLookups(full, deps, deps.clock.nowMs()).then(
      (reads) => {
        if (!sockets.has(ws)) return
        ws.cork(() => reads.forEach((read, i) => ws.send(snapshotMessage(full[i]!.view, full[i]!.entityKey, read))))
      },
      (err: unknown) => {
        if (sockets.has(ws)) ws.send(JSON.stringify({ type: 'error', ...toHttpError(err).body }))
      },
    )
  }

  const onChange = (change: SubscriptionChange): void => {
    cache?.delete(HotCache.key(change.view, change.version, change.entityKey))
    const topic = topicOf(change.view, change.version, change.entityKey)
    if (app.numSubscribers(topic) === 0) return
    app.publish(topic, rowMessage(change))
    metrics.wsPushes.inc()
  }

  return {
    async listen(port) {
      if (args.store.subscribeChanges) {
        // Wait for the change feed briefly; if the store is down it keeps connecting in the background.
        const subscribing = args.store.subscribeChanges(args.views, onChange).then((off) => {
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
        for (const ws of sockets) ws.end(1001, 'server shutting down')
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
