/**
 * RedisOnlineStore: the online store on Redis (or Redis Cluster) through ioredis 5.
 *
 * Writes: rows are coalesced per key, then the surviving rows go in chunks of ROWS_PER_CALL to
 * EVALSHA of the write script (write-row-script.ts; per-row conditions, one call per chunk), all
 * pipelined in one round trip. A NOSCRIPT reply (Redis restarted or flushed its scripts) re-sends
 * just those chunks by EVAL, the script with the call, which caches it again. A connection failure re-sends
 * only the rows whose outcome is unknown — harmless, because the script is conditional and
 * idempotent — with bounded exponential back-off (core/retry.ts); when the budget runs out the
 * caller gets RetriesExhaustedError with the SINK_UNAVAILABLE cause.
 *
 * TTL: every key expires `view.ttlMs` after the write that last landed on it, or after its row's
 * `as_of` when that is later (an event time ahead of the clock; Redis's own clock, see
 * write-row-script.ts). A row written late (backfill) therefore stays readable as OUTSIDE_TTL for a
 * while instead of silently vanishing, and a key that stops receiving rows is gone one TTL later. An
 * older row arriving after the key expired may land, but the key outlived `as_of + ttlMs` of the
 * row it held, so the older row is already OUTSIDE_TTL for every reader: no fresher value is hidden.
 *
 * Reads: one round trip per call. One lookup is a plain HMGET; a few are a pipeline of HMGETs;
 * from READ_SCRIPT_MIN_LOOKUPS on, one read-only script does all the HMGETs (read-rows-script.ts).
 * Reads never queue or retry: while Redis is unreachable (or answers "not now", reply-errors.ts)
 * they fail at once with SOURCE_UNAVAILABLE, as does a command slower than `commandTimeoutMs`;
 * ioredis reconnects in the background. A key that is not a kfs row, or a read Redis refuses, is
 * StoredRowUnreadable (ports/online-store.ts): for good, never "unavailable".
 *
 * Change feed: a landed row is PUBLISHed by the script itself (only when it landed), on
 * `<prefix>:rows:<view>:<version>`; `subscribeChanges` listens on a duplicate connection.
 * With Cluster, a chunk holds keys of one hash slot only, pipelines are replaced by concurrent
 * single commands (a pipeline must stay on one node), and PUBLISH is broadcast by the cluster bus.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { Clock } from '../../../core/clock.ts'
import { systemClock } from '../../../core/clock.ts'
import { FeatureStoreError, SinkWriteError, SourceError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import { silentLogger } from '../../../core/logger.ts'
import { retry } from '../../../core/retry.ts'
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import { type OnlineRead, type OnlineStore, type OnlineStoreHealth, type OnlineWriteResult } from '../../../ports/online-store.ts'
import { newestRowPerKey, type OnlineChangeListener } from '../../../ports/online-semantics.ts'
import { AS_OF_FIELD, DELETED_FIELD, checkLookupKey, checkRow, decodePacked, decodeRead, packRow, rowKey, viewLayout, type ViewLayout } from './row-layout.ts'
import { chunksBySlot, chunksInOrder, type PackedRow } from './write-chunks.ts'
import { corkUntilPollEnds } from './poll-cork.ts'
import { READ_ROWS_SCRIPT } from './read-rows-script.ts'
import { readFailure, redisFailureKind } from './reply-errors.ts'
import { WRITE_ROWS_SCRIPT } from './write-row-script.ts'
import { healthOf } from './server-health.ts'
import { createHash } from 'node:crypto'

export interface RedisOnlineStoreOptions {
  /** Connection URL (redis://host:port/db); ignored when `client` is given. */
  readonly url?: string
  /** Redis Cluster seed nodes; the store creates (and owns) a Cluster client. Ignored when `client` is given. */
  readonly clusterNodes?: readonly { readonly host: string; readonly port: number }[]
  /** A caller-owned client (Redis or Cluster); the store never closes it. */
  readonly client?: Redis | Cluster
  readonly keyPrefix?: string
  /** Publish landed rows for push subscribers (default true). */
  readonly publish?: boolean
  /** Reads (and each write attempt) fail after this long (default 1000 ms). */
  readonly commandTimeoutMs?: number
  readonly writeAttempts?: number
  readonly writeMinDelayMs?: number
  readonly writeMaxDelayMs?: number
  readonly clock?: Clock
  readonly logger?: Logger
}

type Client = Redis | Cluster

const SCRIPT_SHA = createHash('sha1').update(WRITE_ROWS_SCRIPT).digest('hex')
const READ_SHA = createHash('sha1').update(READ_ROWS_SCRIPT).digest('hex')
/** From this many lookups on, one read script beats a pipeline of HMGETs in client CPU. */
const READ_SCRIPT_MIN_LOOKUPS = 4

export class RedisOnlineStore implements OnlineStore {
  readonly #client: Client
  readonly #ownsClient: boolean
  readonly #prefix: string
  readonly #publish: boolean
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #options: RedisOnlineStoreOptions
  readonly #subscribers = new Set<Client>()
  #closed = false

  constructor(options: RedisOnlineStoreOptions) {
    this.#options = options
    this.#prefix = options.keyPrefix ?? 'kfs'
    this.#publish = options.publish ?? true
    this.#clock = options.clock ?? systemClock
    this.#logger = (options.logger ?? silentLogger).child({ component: 'sinks.redis.online_store' })
    if (options.client) {
      this.#client = options.client
      this.#ownsClient = false
    } else if (options.clusterNodes) {
      this.#client = new Cluster([...options.clusterNodes], {
        enableOfflineQueue: false,
        enableAutoPipelining: false,
        clusterRetryStrategy: (times) => Math.min(50 * times, 1000),
        redisOptions: { commandTimeout: options.commandTimeoutMs ?? 1000, maxRetriesPerRequest: 0 },
      })
      this.#ownsClient = true
      this.#client.on('error', () => {})
    } else {
      if (!options.url) throw new SinkWriteError('SINK_REJECTED', 'RedisOnlineStore needs a url, clusterNodes or a client')
      this.#client = new Redis(options.url, this.#redisOptions())
      this.#ownsClient = true
      // ioredis reports every failed reconnect; callers see failures through rejected calls.
      this.#client.on('error', () => {})
    }
  }

  #redisOptions(): RedisOptions {
    return {
      // Fail fast while disconnected: reads map to 503, writes go through our own back-off.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.#options.commandTimeoutMs ?? 1000,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      enableAutoPipelining: false,
    }
  }

  /**
   * The client, reconnecting it first if ioredis ended it on its own. ioredis moves a connection
   * to its final state ('end') not only on `quit`/`disconnect` but also when a reconnect races a
   * disconnect of the connector (its connect promise rejects "Connection is closed"); from then
   * on every command fails at once and nothing reconnects. A long-running engine or server must
   * not fail for good on that: unless this store was closed, an ended client is reconnected.
   * After `close()`, every operation fails with SINK_CLOSED, which no retry budget retries.
   */
  #live(): Client {
    if (this.#closed) throw new SinkWriteError('SINK_CLOSED', 'the Redis online store is closed')
    reconnectIfEnded(this.#client, this.#logger, 'Redis connection had ended without close(): reconnecting')
    return this.#client
  }

  /** True while the connection is usable (for /healthz). */
  isReady(): boolean {
    return this.#client.status === 'ready'
  }

  /** Resolves once connected (or rejects after `timeoutMs`); optional — calls fail fast until then. */
  async ready(timeoutMs = 5000): Promise<void> {
    if (this.isReady()) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#client.off('ready', onReady)
        reject(new SourceError('SOURCE_UNAVAILABLE', `Redis not ready after ${timeoutMs} ms`))
      }, timeoutMs)
      const onReady = (): void => {
        clearTimeout(timer)
        resolve()
      }
      this.#client.once('ready', onReady)
    })
  }

  /** `run_id` and `evicted_keys` of the server (server-health.ts); undefined on a Cluster, whose nodes each have their own. */
  async health(): Promise<OnlineStoreHealth | undefined> {
    const client = this.#live()
    if (client instanceof Cluster) return undefined
    return healthOf(await client.info('server', 'stats'))
  }

  async writeRows(view: FeatureViewDef, rows: readonly FeatureRow[]): Promise<OnlineWriteResult> {
    const layout = viewLayout(view, this.#prefix)
    // Every row is checked, but only the newest of each key is encoded.
    for (const row of rows) checkRow(layout, row)
    let pending: PackedRow[] = newestRowPerKey(rows).map((row) => {
      const key = rowKey(layout, row.entityKey)
      return { row, key, packed: packRow(layout, key, row) }
    })
    const head = [layout.ttlArg, this.#publish ? layout.channel : '']
    let written = 0
    await retry(
      async (bail) => {
        this.#live()
        // A restarted Redis has lost its scripts: send the rows again at once with the script in
        // the call (EVAL), so a NOSCRIPT never spends an attempt of the budget meant for outages.
        // Not SCRIPT LOAD then EVALSHA: another flush between the two would fail the write again.
        for (let pass = 0; pass < 2 && pending.length > 0; pass++) {
          const { chunks, replies } = await this.#runScripts(head, pending, pass === 0 ? 'by-sha' : 'with-script')
          const again: typeof pending = []
          let noScript = false
          let unavailable: unknown
          // Each row's outcome is its chunk's reply (an error for all its rows, or one result a row).
          for (let c = 0; c < chunks.length; c++) {
            const chunk = chunks[c]!
            const [err, res] = replies[c]!
            if (!err) {
              for (let i = 0; i < chunk.length; i++) if ((res as unknown[])[i] === 1) written++
              continue
            }
            // Which failures pass and which never will: reply-errors.ts, for reads and writes alike.
            const kind = redisFailureKind(err)
            if (kind === 'noscript') {
              noScript = true
              for (const row of chunk) again.push(row)
            } else if (kind === 'transient') {
              unavailable = err
              for (const row of chunk) again.push(row)
            } else {
              bail(new SinkWriteError('SINK_REJECTED', `Redis refused a row of ${view.name}: ${err.message}`, { cause: err, context: { view: view.name } }))
            }
          }
          pending = again
          if (unavailable !== undefined) {
            throw new SinkWriteError('SINK_UNAVAILABLE', `Redis unavailable while writing ${view.name}`, { cause: unavailable, context: { view: view.name } })
          }
          if (!noScript) break
        }
        if (pending.length > 0) throw new SinkWriteError('SINK_UNAVAILABLE', 'write script was not loaded', { context: { view: view.name } })
      },
      {
        clock: this.#clock,
        attempts: this.#options.writeAttempts ?? 8,
        minDelayMs: this.#options.writeMinDelayMs ?? 100,
        maxDelayMs: this.#options.writeMaxDelayMs ?? 5000,
        onRetry: (err, attempt, delayMs) => this.#logger.warn({ err, attempt, delayMs, view: view.name }, 'online write retried'),
      },
    )
    return { written, stale: rows.length - written }
  }

  /**
   * The rows' script calls and each call's reply (`replies[c]` answers `chunks[c]`: an error for all
   * its rows, or one result per row); connection-level failures become every call's error.
   */
  async #runScripts(
    head: readonly string[],
    rows: readonly PackedRow[],
    how: 'by-sha' | 'with-script',
  ): Promise<{ chunks: PackedRow[][]; replies: [Error | null, unknown][] }> {
    if (rows.length === 0) return { chunks: [], replies: [] }
    const chunks = this.#client instanceof Cluster ? chunksBySlot(rows) : chunksInOrder(rows)
    const command = how === 'by-sha' ? 'evalsha' : 'eval'
    const call = (chunk: readonly PackedRow[]): (string | number)[] => {
      const args: (string | number)[] = [how === 'by-sha' ? SCRIPT_SHA : WRITE_ROWS_SCRIPT, chunk.length]
      for (const r of chunk) args.push(r.key)
      args.push(...head)
      for (const r of chunk) args.push(r.packed)
      return args
    }
    let replies: [Error | null, unknown][]
    if (this.#client instanceof Cluster) {
      const client = this.#client
      replies = await Promise.all(
        chunks.map((chunk) =>
          client[command](...(call(chunk) as [string, number, ...string[]])).then(
            (res): [Error | null, unknown] => [null, res],
            (err: Error): [Error | null, unknown] => [err, null],
          ),
        ),
      )
    } else {
      const pipeline = this.#client.pipeline()
      for (const chunk of chunks) pipeline[command](...(call(chunk) as [string, number, ...string[]]))
      try {
        const results = await pipeline.exec()
        if (!results) throw new Error('pipeline returned no results')
        replies = results
      } catch (err: unknown) {
        const e = err instanceof Error ? err : new Error(String(err))
        replies = chunks.map(() => [e, null])
      }
    }
    return { chunks, replies }
  }

  async readRows(
    lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string; readonly features: readonly string[] }[],
    nowMs: number,
  ): Promise<OnlineRead[]> {
    if (lookups.length === 0) return []
    const prepared = lookups.map((l) => {
      const layout = viewLayout(l.view, this.#prefix)
      checkLookupKey(layout, l.entityKey)
      const types = l.features.map((f) => {
        const type = layout.types.get(f)
        if (type === undefined) throw new SourceError('NOT_FOUND', `view ${l.view.name} has no feature ${f}`, { context: { view: l.view.name, feature: f } })
        return type
      })
      // Views that can hold tombstones also fetch the deletion mark, first (row-layout.ts).
      const fetch = layout.tombstones ? [DELETED_FIELD, ...l.features] : l.features
      return { layout, names: l.features, types, key: rowKey(layout, l.entityKey), features: fetch }
    })
    let replies: (string | null)[][]
    try {
      replies = await this.#hmgetAll(prepared)
    } catch (err: unknown) {
      if (err instanceof FeatureStoreError) throw err
      throw readFailure(err, prepared)
    }
    return prepared.map((p, i) => decodeRead(p.layout, p.names, p.types, replies[i]!, nowMs))
  }

  async #hmgetAll(prepared: readonly { key: string; features: readonly string[] }[]): Promise<(string | null)[][]> {
    const client = this.#live()
    if (client instanceof Cluster) return Promise.all(prepared.map((p) => client.hmget(p.key, AS_OF_FIELD, ...p.features)))
    corkUntilPollEnds(client)
    if (prepared.length === 1) {
      const p = prepared[0]!
      return [await client.hmget(p.key, AS_OF_FIELD, ...p.features)]
    }
    if (prepared.length >= READ_SCRIPT_MIN_LOOKUPS) return this.#readScript(client, prepared)
    const pipeline = client.pipeline()
    for (const p of prepared) pipeline.hmget(p.key, AS_OF_FIELD, ...p.features)
    const results = await pipeline.exec()
    if (!results) throw new Error('pipeline returned no results')
    return results.map(([err, res]) => {
      if (err) throw err
      return res as (string | null)[]
    })
  }

  async #readScript(client: Redis, prepared: readonly { key: string; features: readonly string[] }[]): Promise<(string | null)[][]> {
    const first = prepared[0]!.features
    const shared = prepared.every((p) => p.features === first || (p.features.length === first.length && p.features.every((f, i) => f === first[i])))
    const args: (string | number)[] = prepared.map((p) => p.key)
    if (shared) {
      args.push('S', first.length + 1, AS_OF_FIELD, ...first)
    } else {
      args.push('P')
      for (const p of prepared) args.push(p.features.length + 1, AS_OF_FIELD, ...p.features)
    }
    try {
      return (await client.evalsha(READ_SHA, prepared.length, ...args)) as (string | null)[][]
    } catch (err: unknown) {
      if (redisFailureKind(err) !== 'noscript') throw err
      // EVAL sends the script with the call (and caches it again): a LOAD then EVALSHA could meet
      // another flush in between (a restart, a writer's SCRIPT FLUSH) and fail the read.
      return (await client.eval(READ_ROWS_SCRIPT, prepared.length, ...args)) as (string | null)[][]
    }
  }

  /**
   * Calls `listener` with every row that lands in one of `views` (from any writer). Resolves once
   * the subscription is active; the returned function ends it.
   */
  async subscribeChanges(views: readonly FeatureViewDef[], listener: OnlineChangeListener): Promise<() => Promise<void>> {
    const byChannel = new Map<string, ViewLayout>()
    for (const v of views) {
      const layout = viewLayout(v, this.#prefix)
      byChannel.set(layout.channel, layout)
    }
    // The subscriber may queue while (re)connecting: it only ever sends SUBSCRIBE.
    const sub = this.#client instanceof Cluster ? this.#client.duplicate(undefined, { enableOfflineQueue: true }) : this.#client.duplicate({ enableOfflineQueue: true })
    sub.on('error', () => {})
    this.#subscribers.add(sub)
    // An ended subscriber would stop the change feed without a word (see #live): while the
    // subscription is wanted, reconnect it; ioredis subscribes it to its channels again.
    sub.on('end', () => {
      if (!this.#closed && this.#subscribers.has(sub)) reconnectIfEnded(sub, this.#logger, 'Redis change-feed connection had ended: reconnecting')
    })
    sub.on('message', (channel: string, message: string) => {
      const layout = byChannel.get(channel)
      if (!layout) return
      try {
        const { key, asOfMs, values, deleted } = decodePacked(layout, message)
        listener({ view: layout.view.name, version: layout.view.version, entityKey: key.slice(layout.keyPrefix.length, -1), asOfMs, values, ...(deleted ? { deleted } : {}) })
      } catch (err: unknown) {
        this.#logger.warn({ err, channel }, 'undecodable change notification')
      }
    })
    if (byChannel.size > 0) await sub.subscribe(...byChannel.keys())
    return async () => {
      this.#subscribers.delete(sub)
      sub.disconnect()
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const sub of this.#subscribers) sub.disconnect()
    this.#subscribers.clear()
    if (this.#ownsClient) {
      try {
        await this.#client.quit()
      } catch {
        this.#client.disconnect()
      }
    }
  }
}

/** Starts reconnecting a client ioredis has ended (see RedisOnlineStore #live); the commands meanwhile fail fast. */
function reconnectIfEnded(client: Client, logger: Logger, message: string): void {
  if (client.status !== 'end') return
  logger.warn(message)
  client.connect().catch(() => {})
}
