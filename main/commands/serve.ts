/** `kfs serve`: online features over HTTP and WebSocket (uWebSockets.js) from the online store. */
import { viewHash } from '../../registry/index.ts'
import { createServer } from '../../serving/server/index.ts'
import { createRuntime } from '../runtime.ts'
import { stringOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve online features (HTTP + WebSocket push) from the online store',
  usage: 'kfs serve [--features <path>] [--port <n>] [--cache-ms <n>] [--json]',
  help: `
Serves the applied views' latest rows from the online store (Redis, or the embedded store):

  GET  /v1/features/<view>/<entityKey>     one entity, one view
  POST /v1/features                        many entities and views, one round trip:
       {"entities": {"user_id": ["u1","u2"]}, "features": ["user_purchases:amount_sum_1h"],
        "request": {"amount": 42}}         (or "service": "fraud_model")
  GET  /v1/registry                        views, features, owners, SLAs, lineage
  GET  /                                   the feature catalog page
  WS   /v1/subscribe                       push: {"subscribe": [{"view": "...", "entity": "..."}]}
  GET  /healthz, /metrics

Each entity's view carries a status (PRESENT, MISSING, OUTSIDE_TTL), as_of and age_ms; missing
values stay null. Request-time features run the same functions training sets use.
Authentication: set KFS_SERVE_API_KEYS (comma-separated) and send "Authorization: Bearer <key>".

Options:
${FEATURES_HELP}
  --port <n>             port (default KFS_SERVE_PORT or 8080; 0 = any free port)
  --cache-ms <n>         hot-key cache TTL per view (default off)

Examples:
  kfs serve
  curl localhost:8080/v1/features/user_purchases/u1
  curl -XPOST localhost:8080/v1/features -d '{"entities":{"user_id":["u1"]},"service":"fraud_model","request":{"amount":30}}'
`,
  options: { ...FEATURES_OPTION, port: { type: 'string' }, 'cache-ms': { type: 'string' } },
  async run(args, ctx) {
    const config = ctx.config()
    const portArg = stringOption(args, 'port')
    const port = portArg === undefined ? config.servePort : Number(portArg)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: '${portArg}' is not a port number`)
    const cacheArg = stringOption(args, 'cache-ms')
    const cacheMs = cacheArg === undefined ? undefined : Number(cacheArg)
    if (cacheMs !== undefined && (!Number.isInteger(cacheMs) || cacheMs <= 0)) throw new UsageError('--cache-ms takes a positive whole number')
    const runtime = await createRuntime(config)
    try {
      const { registry } = await openRegistry(ctx)
      const { set } = await loadFeatures(args, ctx, registry)
      const views = []
      for (const view of set.views) {
        const stored = await registry.getView(view.name, view.version)
        if (stored?.hash === viewHash(view)) views.push(view)
        else ctx.err(`not serving ${view.name} v${view.version}: ${stored ? 'it differs from its published definition' : 'not published'} (run kfs apply)\n`)
      }
      const server = createServer({
        store: await runtime.onlineStore(),
        views,
        services: set.services,
        requestFeatures: set.requestFeatures,
        options: {
          host: config.serveHost,
          apiKeys: config.serveApiKeys,
          logger: runtime.logger,
          clock: runtime.clock,
          ...(cacheMs === undefined ? {} : { cache: { ttlMs: cacheMs, maxEntries: 100_000 } }),
        },
      })
      const bound = await server.listen(port)
      const base = `http://${config.serveHost}:${bound}`
      ctx.err(`serving ${views.length} views on ${base} — catalog ${base}/ · registry ${base}/v1/registry\n`)
      if (ctx.json) ctx.out(`${JSON.stringify({ url: base, port: bound, views: views.map((v) => `${v.name}@${v.version}`) })}\n`)
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'))
        process.once('SIGTERM', () => resolve('SIGTERM'))
      })
      ctx.err(`stopping (${signal})\n`)
      await server.close()
      return 0
    } finally {
      await runtime.close()
    }
  },
}
