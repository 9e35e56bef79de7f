/**
 * The HTTP/WebSocket server. This file lists the routes, each with its policy, and runs the
 * server's lifecycle; router.ts mounts every route behind the request guard
 * (serving/middleware/request-guard.ts: auth and body limits); request-lifecycle.ts answers each
 * request exactly once; the handlers are the pure functions of serving/handlers/.
 *
 * Transport (transport/): native uWebSockets.js where a build for this Node loads, else
 * node:http + ws emulating uWS's semantics — chosen at start by `options.transport`
 * (KFS_SERVE_TRANSPORT), logged with the reason, and exported in /metrics. Both libraries stay in
 * serving/server/. uWS rules followed throughout, on either transport: everything read from `req`
 * is read before the first await (uWS's request object dies when the callback returns);
 * `onAborted` is registered before any await and an aborted response is never written; writes
 * after an await go through `res.cork`.
 *
 * Security: with `apiKeys` configured every route but `/healthz` needs `Authorization: Bearer
 * <key>` (WebSocket clients that cannot set headers may pass `?access_token=<key>`); with no keys
 * configured the server is open — meant for a trusted network only.
 */
import { randomUUID } from 'node:crypto'
import type { Clock } from '../../core/clock.ts'
import { systemClock } from '../../core/clock.ts'
import { FeatureStoreError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { silentLogger } from '../../core/logger.ts'
import type { FeatureServiceDef, FeatureViewDef, RequestFeatureDef } from '../../features/types.ts'
import type { ServingStore } from '../../ports/serving-store.ts'
import { HttpError } from '../errors.ts'
import { createFeatureCatalog } from '../feature-catalog.ts'
import { renderCatalogPage } from '../handlers/catalog-page.ts'
import { NewestAsOf, type CatalogStatusProvider } from '../handlers/catalog/status.ts'
import { getFeatures, getViewFeatures, type FeatureHandlerDeps } from '../handlers/get-features.ts'
import type { CatalogTables } from '../handlers/iceberg-catalog.ts'
import { buildRegistry } from '../handlers/registry.ts'
import { HotCache, type HotCacheOptions } from '../hot-cache.ts'
import { createServingMetrics } from '../metrics.ts'
import { openApiJson } from '../openapi/index.ts'
import { parseJsonBody } from '../request-body.ts'
import { clippedName } from '../clipped-name.ts'
import { isValidRequestId } from '../served-log/sampling.ts'
import type { ServedLogRecorder, ServedLogStats } from '../served-log/served-log.ts'
import { createRequestGuard, type RoutePolicy } from '../middleware/request-guard.ts'
import { icebergCatalogRoutes } from './iceberg-catalog-routes.ts'
import { decodePathSegment, queryParameters } from './percent-decoding.ts'
import { createRequestLifecycle, type Ctx } from './request-lifecycle.ts'
import { mountRoutes, type Route, type RouteInfo } from './router.ts'
import { createSubscriptions, type SubscriptionLimits } from './subscriptions.ts'
import { selectTransport, type TransportChoice } from './transport/select.ts'
import type { TransportName, TransportRequest } from './transport/types.ts'
import type { Uws } from './transport/uws.ts'

export interface ServerOptions {
  readonly host?: string
  /**
   * `auto` (default): native uWebSockets.js when a build for this Node and platform loads, else
   * node:http + ws; `uws` or `node` force one (a forced `uws` that cannot load throws at creation).
   */
  readonly transport?: TransportChoice
  /** Loads native uWS or throws why it cannot (default: transport/uws.ts); tests simulate a Node without a build. */
  readonly loadUws?: () => Uws
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
  /**
   * The catalog page's live status per view (backfill state, dead letters by reason, a newest
   * as_of known elsewhere); called on every `GET /`, so it should answer from memory. Absent =
   * the page shows those as unknown; freshness still comes from the server's change feed.
   */
  readonly catalogStatus?: CatalogStatusProvider
  /** The Iceberg tables the read-only REST catalog at /v1/namespaces names (handlers/iceberg-catalog.ts); none when absent. */
  readonly icebergTables?: CatalogTables
}

export interface FeatureServer {
  /** Starts listening (port 0 = any free port) and resolves with the bound port. */
  listen(port: number): Promise<number>
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes sockets. Does not close the store. */
  close(): Promise<void>
  metricsText(): Promise<string>
  /** The routes served, each with the access its policy requires (as mounted by the router). */
  readonly routes: readonly RouteInfo[]
  /** The transport serving, and why it was chosen (a sentence for the start-up output). */
  readonly transport: { readonly name: TransportName; readonly reason: string }
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
  const registryDoc = JSON.parse(registryJson) as ReturnType<typeof buildRegistry>
  const clock = options.clock ?? systemClock
  // The catalog's freshness: newest as_of per view version among the rows the change feed announces.
  const newestAsOf = new NewestAsOf()
  const catalogPage = async (): Promise<string> => {
    const status = await options.catalogStatus?.()
    return renderCatalogPage(registryDoc, { nowMs: clock.nowMs(), seenAsOf: (id) => newestAsOf.of(id), status })
  }
  const cache = options.cache ? new HotCache(options.cache) : undefined
  const servedLog = options.servedLog
  const { transport, reason } = selectTransport(options.transport ?? 'auto', {
    loadUws: options.loadUws,
    onError: (err, where) => logger.error({ err, where, errorId: randomUUID() }, 'a server callback threw; its connection was closed'),
  })
  // Read at scrape time; `subscriptions` is created below, before anything can scrape.
  const metrics = createServingMetrics({
    cacheLookups: () => (cache ? [[{ result: 'hit' }, cache.hits], [{ result: 'miss' }, cache.misses]] : []),
    servedLogRecords: () => {
      if (!servedLog) return []
      const { sent, dropped } = servedLog.stats()
      return [[{ outcome: 'sent' }, sent], ...Object.entries(dropped).map(([outcome, n]) => [{ outcome }, n] as const)]
    },
    wsSubscriptions: () => subscriptions.total,
  }, { transport: transport.name })
  const guard = createRequestGuard({ apiKeys: options.apiKeys ?? [], maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024 })
  const lifecycle = createRequestLifecycle({ metrics, logger, requestTimeoutMs: options.requestTimeoutMs ?? 2000 })
  const deps: FeatureHandlerDeps = {
    catalog,
    store: args.store,
    cache,
    clock,
    maxLookups: options.maxLookups ?? 2000,
    servedLog,
    countLookup: metrics.countLookup,
  }
  let unsubscribe: (() => Promise<void>) | undefined
  let closing: Promise<void> | undefined
  const app = transport.app

  const { reply, fail, run } = lifecycle

  /** The id the served log samples by; read from `req` before any await (uWS rule). */
  const identify = (ctx: Ctx, req: TransportRequest): void => {
    if (!servedLog) return
    const given = req.getHeader('x-request-id')
    ctx.requestId = given !== '' && isValidRequestId(given) ? given : randomUUID()
  }

  const subscriptions = createSubscriptions(app, { catalog, deps, metrics, logger, limits: options.subscriptions ?? {} })

  // Every route, with the policy the request guard applies to it (serving/middleware/).
  const routes: readonly Route[] = [
    {
      method: 'get',
      pattern: '/healthz',
      name: 'healthz',
      policy: PUBLIC,
      handle: (ctx) => {
        const up = args.store.isReady?.() ?? true
        if (up) reply(ctx, 200, '{"status":"ok"}')
        else reply(ctx, 503, JSON.stringify({ status: 'unavailable', reason: 'online store not connected' }))
      },
    },
    {
      method: 'get',
      pattern: '/metrics',
      name: 'metrics',
      policy: API_KEY,
      handle: (ctx) => {
        metrics.registry.metrics().then(
          (text) => reply(ctx, 200, text, metrics.registry.contentType),
          (err: unknown) => fail(ctx, err),
        )
      },
    },
    { method: 'get', pattern: '/v1/registry', name: 'registry', policy: API_KEY, handle: (ctx) => reply(ctx, 200, registryJson) },
    {
      method: 'get',
      pattern: '/',
      name: 'catalog',
      policy: API_KEY,
      handle: (ctx) => {
        catalogPage().then(
          (html) => reply(ctx, 200, html, 'text/html; charset=utf-8'),
          (err: unknown) => fail(ctx, err),
        )
      },
    },
    { method: 'get', pattern: '/openapi.json', name: 'openapi', policy: API_KEY, handle: (ctx) => reply(ctx, 200, openApiJson(catalog)) },
    {
      method: 'get',
      pattern: '/v1/features/:view/:entityKey',
      name: 'get_features',
      policy: API_KEY,
      handle: (ctx, req) => {
        const view = req.getParameter(0)
        const rawKey = req.getParameter(1)
        const query = req.getQuery() ?? ''
        identify(ctx, req)
        run(ctx, () => getViewFeatures({ view: decodePathSegment(view), entityKey: decodePathSegment(rawKey), query: queryParameters(query) }, deps, ctx.requestId))
      },
    },
    {
      method: 'get',
      pattern: '/v1/features/:view',
      name: 'get_features',
      policy: API_KEY,
      handle: (ctx, req) => {
        const view = req.getParameter(0)
        const query = queryParameters(req.getQuery() ?? '')
        identify(ctx, req)
        run(ctx, () => getViewFeatures({ view: decodePathSegment(view), query }, deps, ctx.requestId))
      },
    },
    {
      method: 'post',
      pattern: '/v1/features',
      name: 'post_features',
      policy: API_KEY_WITH_BODY,
      handle: (ctx, req) => {
        identify(ctx, req)
        // Nothing reads a query here: ignored, a `?as_of=` would be answered as if it were honoured.
        // Refused before the body is read, so the connection closes (router.ts).
        try {
          const name = Object.keys(queryParameters(req.getQuery() ?? ''))[0]
          if (name !== undefined) throw new HttpError(400, 'BAD_REQUEST', `query parameter ${clippedName(name)} is not accepted: POST /v1/features takes no query parameters`, { parameter: clippedName(name) })
        } catch (err: unknown) {
          fail(ctx, err, true)
        }
      },
      onBody: (ctx, body) => run(ctx, async () => getFeatures(parseJsonBody(body), deps, ctx.requestId)),
    },
    {
      method: 'ws',
      pattern: '/v1/subscribe',
      name: 'subscribe',
      policy: API_KEY_OR_QUERY_TOKEN,
      refuse: () => (closing ? new HttpError(503, 'SHUTTING_DOWN', 'server is shutting down') : undefined),
      socketState: subscriptions.socketState,
      behavior: subscriptions.behavior,
    },
    ...icebergCatalogRoutes(options.icebergTables ?? (() => Promise.resolve([])), lifecycle, API_KEY),
  ]
  const mounted = mountRoutes(app, routes, { guard, lifecycle, logger })

  return {
    async listen(port) {
      if (args.store.subscribeChanges) {
        // Wait for the change feed briefly; if the store is down it keeps connecting in the background.
        const subscribing = args.store.subscribeChanges(args.views, (change) => {
          newestAsOf.observe(change)
          subscriptions.onChange(change)
        }).then((off) => {
          // Closed while subscribing: end the subscription now; its failure is logged, never left
          // as a rejection no one handles (which ends the process).
          if (closing) off().catch((err: unknown) => logger.warn({ err }, 'change feed did not unsubscribe'))
          else unsubscribe = off
        })
        subscribing.catch((err: unknown) => logger.error({ err }, 'change feed unavailable'))
        await Promise.race([subscribing.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2000).unref())])
      }
      // Closed while waiting for the change feed: listening now would hold the port for good.
      if (closing) throw new FeatureStoreError('INTERRUPTED', 'the server was closed before it listened')
      const bound = await transport.listen(options.host ?? '127.0.0.1', port)
      logger.info({ port: bound, transport: transport.name, reason }, 'serving started')
      return bound
    },
    close() {
      closing ??= (async () => {
        transport.stopListening()
        subscriptions.closeAll()
        const deadline = Date.now() + (options.shutdownGraceMs ?? 5000)
        while (lifecycle.inflight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
        await unsubscribe?.()
        transport.closeAll()
        logger.info({}, 'serving stopped')
      })()
      return closing
    },
    metricsText() {
      return metrics.registry.metrics()
    },
    routes: mounted,
    transport: { name: transport.name, reason },
  }
}

const PUBLIC: RoutePolicy = { access: 'public' }
const API_KEY: RoutePolicy = { access: 'api-key' }
const API_KEY_WITH_BODY: RoutePolicy = { access: 'api-key', body: true }
const API_KEY_OR_QUERY_TOKEN: RoutePolicy = { access: 'api-key', queryToken: true }
