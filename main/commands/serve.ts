/** `kfs serve`: online features over HTTP and WebSocket (uWebSockets.js, or node:http + ws) from the online store. */
import { createServer } from '../../serving/server/index.ts'
import { cachedCatalogStatus, type CachedStatus } from '../../serving/handlers/catalog/status-cache.ts'
import { followDeadLetters } from '../../replay/dead-letters/dead-letter-follower.ts'
import { partitionGuardedTransport } from './served-log-partition-guard.ts'
import { DEFAULT_GROUP } from './run.ts'
import { DEAD_LETTER_TOPIC, servedLogTopicProblem } from '../internal-topics.ts'
import { CheckpointStore } from '../../engine/checkpoint-store.ts'
import { consumedView } from '../../engine/plan-sources.ts'
import { viewLag } from '../view-lag.ts'
import { catalogTablesOf } from './tables.ts'
import { SERVED_FEATURES_SCHEMA, ServedLog, servedLog } from '../../serving/served-log/index.ts'
import type { FeatureViewDef, SourceDef } from '../../features/types.ts'
import type { DefinitionSet, Registry } from '../../registry/index.ts'
import { DEFAULT_SERVE_LOG_SAMPLE, type ServeLogConfig } from '../config.ts'
import { createRuntime, type Runtime } from '../runtime.ts'
import { commandReadRetry, servingReadRetry } from '../read-retry.ts'
import { objectStoreReadsRetried } from '../../engine/retried-reads.ts'
import { InvariantViolation, SourceError } from '../../core/errors.ts'
import { requireDeclaredPartitions } from '../../engine/source-partitions.ts'
import type { EventLog } from '../../ports/event-log.ts'
import { numberOption, stringOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { servedDefinitions } from './served-definitions.ts'
import { listenForStop, type StopSignal } from './stop-signal.ts'

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve online features (HTTP + WebSocket push) from the online store',
  usage: 'kfs serve [--features <path>] [--port <n>] [--cache-ms <n>] [--ws-max-subscriptions <n>] [--ws-max-subscriptions-per-socket <n>] [--log-topic <topic>] [--log-sample <rate>] [--json]',
  help: `
Serves the applied views' latest rows from the online store (Redis, or the embedded store):

  GET  /v1/features/<view>/<entityKey>     one entity, one view
  POST /v1/features                        many entities and views, one round trip:
       {"entities": {"user_id": ["u1","u2"]}, "features": ["user_purchases:amount_sum_1h"],
        "request": {"amount": 42}}         (or "service": "fraud_model")
  GET  /v1/registry                        views, features, owners, SLAs, lineage
  GET  /openapi.json                       the OpenAPI 3.1 description of this API
  GET  /                                   the catalog page: per view freshness vs its SLA (from
                                           rows landed since start), backfill, dead letters
                                           (topic re-read at most every 5 min), lineage, search
  WS   /v1/subscribe                       push: {"subscribe": [{"view": "...", "entity": "..."}]}
  GET  /healthz, /metrics

The embedded store is read, never written: serve follows the process that writes it (kfs run, or a
backfill of kfs replay), picking up the rows it syncs at each checkpoint, so several serves may run
beside one writer. The catalog reads the embedded event log (progress, dead letters) the same way,
without owning it: it takes no lock and changes nothing, so kfs run may start before or after
serve. The served-feature log does not own it either: on the embedded log serve writes its
records to files beside it (<KFS_DATA_DIR>/log.pending/), handing each over within
KFS_EMBEDDED_LOG_HANDOVER_MS (1 s) or 4 MiB and when it stops, and kfs run moves them into the
topic as often (any command that opens the log moves those waiting at its start).

Each entity's view carries a status (PRESENT, MISSING, OUTSIDE_TTL), as_of and age_ms; missing
values stay null. Request-time features run the same functions training sets use; one that throws
or returns a value its outputType does not allow (BigInt, NaN, an object, a promise…) fails the
request with 500 REQUEST_FEATURE_FAILED. Every 5xx body carries an errorId, logged with the error.

A read of the registry or the object store that fails in passing (a timeout, a 503) is asked
again: at start-up and behind the catalog page with the bound of kfs's commands (ten attempts,
backing off to 2 s), in a request of the Iceberg REST catalog ten attempts within the request
deadline. One that persists: at start-up serve exits 1 naming what it read; behind the page, the
page shows the last known and stderr says what could not be read; in a request, 503 naming it.
Other methods on a route answer 405 with Allow.

Limits: a body of at most 1 MiB (413 PAYLOAD_TOO_LARGE) and 2000 lookups per request (413
BATCH_TOO_LARGE). A request is answered within 2 s of its head: a body not arrived by then is 408
REQUEST_TIMEOUT (the connection closes), work not done 504 TIMEOUT. A connection whose request head
has not arrived within 10 s is closed (node:http answers 408 first), an idle keep-alive one after 10 s.

Transport: native uWebSockets.js when a build for this Node and platform loads (it has builds for
Node 16, 18 and 20), else node:http + ws; the first line after start says which and why, and
/metrics has kfs_serving_transport_info{transport="uws"|"node"} 1. KFS_SERVE_TRANSPORT=uws|node
forces one (uws where it cannot load fails the start, saying why). uWebSockets.js does not answer
HTTP/1.0 or requests without Host (it closes them after 10 s; put a proxy in front for those);
node:http answers them.

WebSocket limits: a socket holds at most --ws-max-subscriptions-per-socket topics (10000), all
sockets together --ws-max-subscriptions (100000); a subscribe past either is refused whole with an
error message. At most 1000 entries per message, 64 KiB per message (larger closes the socket),
100 messages per second per socket (twice that closes it, 1008); a socket with more than 1 MiB
unsent or 4 snapshot reads in flight gets SLOW_DOWN instead of new snapshots.
Authentication: set KFS_SERVE_API_KEYS (comma-separated) and send "Authorization: Bearer <key>".

Served-feature log (off by default): with --log-topic (or KFS_SERVE_LOG_TOPIC) every sampled
request's lookups — request id, view@version, entity, status, as_of, the values served, served-at
time — are sent Avro-encoded to that topic in batches, off the request path; a log outage drops
records (metric kfs_serving_served_log_records_total, a warning), never a request. Sampling is by a hash
of the request id (x-request-id, echoed in every feature response), so reruns log the same
requests. Include servedLog({ topic }) from serving/served-log in the features module so kfs run
archives the topic like any source; kfs skew-report compares it with the offline rows. The topic
must be the log's own: kfs's topics (kfs.dead-letters, kfs.dead-letters.redriven, the re-key
topics kfs.<topic>.by-<entity>) and a topic another registered source reads are refused. So is a
log topic that exists with another partition count than its source declares (servedLog's
partitions, 3 unless declared), before serve listens (exit 1): kfs run would split each view's
served_lookups over two partitions (docs/semantics.md §10).

Options:
${FEATURES_HELP}
  --port <n>             port (default KFS_SERVE_PORT or 8080; 0 = any free port)
  --cache-ms <n>         hot-key cache TTL per view (default off)
  --ws-max-subscriptions <n>             WebSocket topics across all sockets (default 100000)
  --ws-max-subscriptions-per-socket <n>  WebSocket topics per socket (default 10000)
  --log-topic <topic>    served-feature log topic (default KFS_SERVE_LOG_TOPIC; unset = no log)
  --log-sample <rate>    fraction of requests logged, 0..1 (default KFS_SERVE_LOG_SAMPLE or 0.01)

Examples:
  kfs serve
  kfs serve --log-topic kfs.served-features --log-sample 0.05
  curl localhost:8080/v1/features/user_purchases/u1
  curl -XPOST localhost:8080/v1/features -d '{"entities":{"user_id":["u1"]},"service":"fraud_model","request":{"amount":30}}'
`,
  options: {
    ...FEATURES_OPTION,
    port: { type: 'string', kind: 'port' },
    'cache-ms': { type: 'string', kind: 'count' },
    'ws-max-subscriptions': { type: 'string', kind: 'count' },
    'ws-max-subscriptions-per-socket': { type: 'string', kind: 'count' },
    'log-topic': { type: 'string', kind: 'name' },
    'log-sample': { type: 'string', kind: 'fraction' },
  },
  async run(args, ctx) {
    const config = ctx.config()
    const port = numberOption(args, 'port') ?? config.servePort
    const cacheMs = numberOption(args, 'cache-ms')
    const maxSubscriptions = numberOption(args, 'ws-max-subscriptions')
    const maxSubscriptionsPerSocket = numberOption(args, 'ws-max-subscriptions-per-socket')
    const logConfig = serveLogOptions(stringOption(args, 'log-topic'), numberOption(args, 'log-sample'), config.serveLog)
    // Its reads of the object store retried (main/read-retry.ts): the catalog's table stats and
    // checkpoints, read in the background, ride out a passing fault as a command's reads do.
    const options = { clock: ctx.clock, readsRetried: true }
    const runtime = await (ctx.openRuntime === undefined ? createRuntime(config, options) : ctx.openRuntime(options))
    let log: ServedLog | undefined
    let stop: StopSignal | undefined
    try {
      // The registry's reads too: the definitions read at start-up (one passing fault must not stop
      // the server starting) and the catalog's backfill states read behind the page.
      const { registry } = await openRegistry(ctx, { readRetry: commandReadRetry(runtime.clock, runtime.logger) })
      const { set } = await loadFeatures(args, ctx, registry)
      const { views, requestFeatures, services } = await servedDefinitions(set, registry, (line) => ctx.err(line))
      if (logConfig) {
        const source = await servedLogSource(set, registry, logConfig.topic, (line) => ctx.err(line))
        await requireServedLogPartitions(await runtime.eventLogReader(), source)
        // Checked again behind the sends: a topic changed while serve runs gets no more batches.
        const transport = partitionGuardedTransport(runtime.servedLogTransport(logConfig.topic, source.partitions), {
          check: async () => requireServedLogPartitions(await runtime.eventLogReader(), source),
          clock: runtime.clock,
        })
        log = new ServedLog(
          transport,
          async () => {
            const encoder = await runtime.encoderFor(source)
            return (event) => encoder.encode(event)
          },
          { sampleRate: logConfig.sampleRate, clock: runtime.clock, logger: runtime.logger },
        )
      }
      const status = catalogStatus(views, registry, runtime, (line) => ctx.err(line))
      void status.refresh() // in the background: the page shows what is known by then
      // The Iceberg REST catalog reads the store while a request waits: retried within its deadline.
      const objects = objectStoreReadsRetried(await ctx.openObjectStore(), servingReadRetry(runtime.clock, runtime.logger))
      const server = createServer({
        // Read-only: kfs run (or a replay) in another process writes the embedded store.
        store: await runtime.onlineStore('read'),
        views,
        services,
        requestFeatures,
        options: {
          host: config.serveHost,
          transport: config.serveTransport,
          apiKeys: config.serveApiKeys,
          logger: runtime.logger,
          clock: runtime.clock,
          catalogStatus: status.provider,
          ...(log === undefined ? {} : { servedLog: log }),
          icebergTables: () => catalogTablesOf(objects),
          ...(cacheMs === undefined ? {} : { cache: { ttlMs: cacheMs, maxEntries: 100_000 } }),
          subscriptions: {
            ...(maxSubscriptions === undefined ? {} : { maxSubscriptions }),
            ...(maxSubscriptionsPerSocket === undefined ? {} : { maxSubscriptionsPerSocket }),
          },
        },
      })
      // Listened for before the ready line: a signal sent on seeing it must find a listener.
      stop = (ctx.listenForStop ?? listenForStop)()
      const bound = await server.listen(port)
      const base = `http://${config.serveHost}:${bound}`
      ctx.err(`serving ${views.length} views on ${base} — catalog ${base}/ · registry ${base}/v1/registry\n`)
      ctx.err(`transport: ${server.transport.reason}\n`)
      if (logConfig) {
        // On the embedded log the records wait beside it for its owner: say where, so an empty topic is explained.
        const via = config.eventLog.kind === 'embedded' ? ` (through ${config.eventLog.dir}.pending/, moved in by kfs run)` : ''
        ctx.err(`served-feature log: ${logConfig.sampleRate * 100} % of requests → topic ${logConfig.topic}${via}\n`)
      }
      if (ctx.json) {
        const ready = { url: base, port: bound, views: views.map((v) => `${v.name}@${v.version}`), transport: server.transport.name }
        ctx.out(`${JSON.stringify(ready)}\n`)
      }
      const signal = await stop.received
      ctx.err(`stopping (${signal})\n`)
      await server.close()
      await log?.close()
      return 0
    } finally {
      stop?.dispose()
      await log?.close()
      await runtime.close()
    }
  },
}

/**
 * The catalog page's live status (serving/handlers/catalog/status-cache.ts): backfill states from
 * the registry (every 15 s, one read per view), and the dead letters not yet re-driven from the
 * dead-letter topic — read whole once, then only what is new (replay/dead-letters/dead-letter-follower.ts),
 * at most every 5 minutes, and only while the page is being looked at. Freshness needs neither: the server keeps it from its change feed.
 * On the embedded log both are read beside its owner (runtime.eventLogReader): serve takes no
 * lock for them, so `kfs run` starts before or after it alike. Exported for tests.
 */
export function catalogStatus(
  views: readonly FeatureViewDef[],
  registry: Pick<Registry, 'getBackfillStatus'>,
  runtime: Pick<Runtime, 'clock' | 'store' | 'offline' | 'eventLogReader'>,
  note: (line: string) => void,
): CachedStatus {
  const deadLetters = followDeadLetters(DEAD_LETTER_TOPIC)
  return cachedCatalogStatus({
    views,
    nowMs: () => runtime.clock.nowMs(),
    async backfill(view, version) {
      const status = await registry.getBackfillStatus(view, version)
      return status === undefined ? undefined : { state: status.state, updatedAtMs: status.updatedAtMs }
    },
    // The default group's checkpoints on the topic the view reads (the internal topic when re-keyed).
    async progress(view, version) {
      const def = views.find((v) => v.name === view && v.version === version)
      if (def === undefined) return undefined
      const topic = consumedView(def).source.topic
      const log = await runtime.eventLogReader()
      // A topic that does not exist yet has no progress to show. Any other failure (the broker
      // down, a damaged embedded log) is reported (status-cache.ts), not shown as "no progress".
      const exists = await log.partitionCount(topic).then(
        () => true,
        (err: unknown) => {
          if (err instanceof SourceError && err.code === 'NOT_FOUND') return false
          throw err
        },
      )
      if (!exists) return undefined
      return viewLag(log, new CheckpointStore(runtime.store, DEFAULT_GROUP), topic)
    },
    // Rows that landed before this server listened, row counts and nulls: the offline table's metadata.
    async tableStats(view, version) {
      const def = views.find((v) => v.name === view && v.version === version)
      return def === undefined ? undefined : runtime.offline.featureTableStats(def)
    },
    async deadLetters() {
      return (await deadLetters.read(await runtime.eventLogReader())).pending
    },
    onError: (part, err) => note(`catalog: cannot read ${part} (${err instanceof Error ? err.message : String(err)}); the page shows the last known\n`),
  })
}

/** Flags over config: --log-topic turns the log on, --log-sample sets its rate. Exported for tests. */
export function serveLogOptions(
  topicArg: string | undefined,
  sampleRate: number | undefined,
  config: ServeLogConfig | undefined,
): ServeLogConfig | undefined {
  const topic = topicArg ?? config?.topic
  if (topic === undefined) {
    if (sampleRate !== undefined) throw new UsageError('--log-sample needs --log-topic (or KFS_SERVE_LOG_TOPIC)')
    return undefined
  }
  // KFS_SERVE_LOG_TOPIC was checked by the config, with the same rule.
  const problem = servedLogTopicProblem(topic)
  if (problem !== undefined) throw new UsageError(`--log-topic: ${topic} is ${problem}; name a topic of the log's own, e.g. kfs.served-features`)
  return { topic, sampleRate: sampleRate ?? config?.sampleRate ?? DEFAULT_SERVE_LOG_SAMPLE }
}

/**
 * The log's source as the features module declares it (its partitions and schema), or the default
 * definition with a note: records are then logged but no view reads the topic, so kfs run does not
 * archive it and kfs skew-report has nothing to read. A source that reads the topic with another
 * schema — declared, or published to the registry by another features module — is refused: its
 * views would get records they cannot decode. Exported for tests.
 */
export async function servedLogSource(
  set: DefinitionSet,
  registry: Pick<Registry, 'snapshot'>,
  topic: string,
  note: (line: string) => void,
): Promise<SourceDef> {
  const declared = set.sources.find((s) => s.topic === topic)
  if (declared !== undefined && !isServedLogSchema(declared.schema)) {
    throw new UsageError(
      `source ${declared.name} reads the served-feature log topic ${topic} with another schema; declare it with servedLog({ topic: '${topic}' })`,
    )
  }
  const published = (await registry.snapshot()).sources.find((s) => s.topic === topic && !isServedLogSchema(s.schema))
  if (published !== undefined) {
    throw new UsageError(
      `the served-feature log topic ${topic} is the topic of source ${published.name} in the registry, which reads it with another schema; name a topic of the log's own, e.g. kfs.served-features`,
    )
  }
  if (declared === undefined) {
    note(
      `note: the served-feature log topic ${topic} is not a source of the features module, so kfs run will not archive it; add\n  export const { servedView, servedFeatures, servedLookups } = servedLog({ topic: '${topic}' })\n(from serving/served-log/index.ts) and run kfs apply\n`,
    )
    return servedLog({ topic }).servedFeatures
  }
  return declared
}

/**
 * The log's topic, when it exists, holds the partitions its source declares (docs/semantics.md
 * §10): its records are keyed by view, and kfs run keeps each view's served_lookups state in the
 * partition they arrive in, so serve refuses another count as every command refuses a source's
 * topic — before it listens, writing nothing. A topic not created yet passes: serve's first batch
 * creates it with the count. Exported for tests.
 */
export async function requireServedLogPartitions(log: Pick<EventLog, 'partitionCount'>, source: SourceDef): Promise<void> {
  try {
    await requireDeclaredPartitions(log, [source])
  } catch (err: unknown) {
    if (!(err instanceof InvariantViolation)) throw err
    throw new InvariantViolation(
      `served-feature log: ${err.message} (the source is servedLog({ topic: '${source.topic}', partitions }) of serving/served-log/index.ts, 3 partitions unless declared)`,
      err.context === undefined ? {} : { context: err.context },
    )
  }
}

/** The registry stores a schema as JSON, so comparing the JSON compares a stored one too. */
function isServedLogSchema(schema: unknown): boolean {
  return JSON.stringify(schema) === JSON.stringify(SERVED_FEATURES_SCHEMA)
}
