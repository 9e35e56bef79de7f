/**
 * The composition root for long-running commands: builds every adapter from the config — real
 * servers where configured (Kafka, schema registry, Redis, S3), embedded defaults otherwise — and
 * closes them in reverse order. Nothing below main/ knows which one it got.
 */
import { makeDirDurable } from '../adapters/local-disk/sync-dir.ts'
import { join } from 'node:path'
import pino from 'pino'
import { systemClock, type Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { SourceDef } from '../features/types.ts'
import {
  DEFAULT_HAND_OVER_MS,
  EmbeddedEventLog,
  EmbeddedLogReader,
  HandOverWriter,
  movePendingPeriodically,
  movePendingRecords,
} from '../adapters/event-log/embedded/index.ts'
import type { EventLog } from '../ports/event-log.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { OnlineStore } from '../ports/online-store.ts'
import { createDecoder, type Decoder } from '../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../schemas/encoder.ts'
import { createChangeJsonDecoder } from '../schemas/change-json-decoder.ts'
import { EmbeddedSchemaRegistry } from '../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import type { SchemaRegistry } from '../ports/schema-registry.ts'
import { EmbeddedOnlineStore } from '../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedOnlineFollower } from '../adapters/online-store/embedded/embedded-online-follower.ts'
import type { ServedLogTransport } from '../serving/served-log/index.ts'
import { openObjectStore } from './commands/context.ts'
import type { KfsConfig } from './config.ts'
import { createOfflineStore, type OfflineStore } from './offline-adapters.ts'
import type { AutomaticExpiry } from '../adapters/offline/iceberg/automatic-expiry.ts'
import { CompactionScheduler } from '../adapters/offline/iceberg/automatic-compaction.ts'
import type { CompactionStats } from '../ports/offline-compaction.ts'
import { pinnedSnapshots, type TrainingSetViewRecord } from '../training/records.ts'
import { COMMAND_READ_ATTEMPTS, commandReadRetry, commandWriteRetry } from './read-retry.ts'
import { objectStoreReadsRetried, schemaReadsRetried } from '../engine/retried-reads.ts'
import { objectStoreWritesRetried } from '../engine/retried-writes.ts'
import { openKafkaEventLog } from './kafka-event-log.ts'

export interface Runtime {
  readonly config: KfsConfig
  readonly logger: Logger
  readonly clock: Clock
  readonly store: ObjectStore
  /** The offline tables behind their ports (main/offline-adapters.ts picks the adapter). */
  readonly offline: OfflineStore
  readonly schemas: SchemaRegistry
  /** What the background compactions did (`kfs run`'s metrics); absent when this runtime does not compact. */
  readonly compactionStats?: CompactionStats
  eventLog(): Promise<EventLog>
  /**
   * The event log to read only (`kfs serve`'s catalog: end offsets, the dead-letter topic). On
   * Kafka the same log as eventLog(); on the embedded log a reader beside whichever process owns
   * it (EmbeddedLogReader: it takes no lock and changes nothing, so a `kfs run` may start after
   * it), which refuses every write.
   */
  eventLogReader(): Promise<EventLog>
  /**
   * The online store. `write` (the default): the engine, a backfill, a reload — on the embedded
   * store its one writer, refused with a ConfigError while another writer holds it. `read`:
   * serving — on the embedded store a follower of whichever process writes it (it takes no lock
   * and changes nothing), or this runtime's writer when it has one; on Redis the same store either way.
   */
  onlineStore(access?: OnlineAccess): Promise<OnlineStore>
  /** `schemas`: the registry to look writer schemas up in, when not this runtime's own (a backfill's, its reads retried). */
  decoderFor(source: SourceDef, schemas?: SchemaRegistry): Decoder
  encoderFor(source: SourceDef): Promise<Encoder>
  /**
   * Where `kfs serve` sends the served-feature log: a best-effort Kafka producer of its own, or,
   * on the embedded log, files beside it that the log's owner moves in (HandOverWriter): serve
   * never owns the embedded log, so `kfs run` starts before or after it. The caller closes it
   * (which hands the last file over).
   */
  servedLogTransport(topic: string, partitions: number): ServedLogTransport
  close(): Promise<void>
}

export type OnlineAccess = 'write' | 'read'

/** A served-feature log file is handed over once it holds this much, whatever its age. */
const HAND_OVER_MAX_BYTES = 4 * 1024 * 1024

export function createLogger(config: KfsConfig): Logger {
  // Logs go to stderr: stdout carries command results (and --json documents). Written at once, as
  // process.stderr writes: pino's asynchronous destination flushes what it holds when the process
  // exits, and that flush retries a write to a closed pipe (EPIPE) for ever — kfs hung at exit
  // when its stderr's reader had gone (test/unit/cli/closed-stderr-logs.test.ts).
  return pino(
    {
      level: config.logLevel,
      base: { service: 'kfs' },
      redact: { paths: ['entityKey', 'values', '*.entityKey', '*.values'], censor: '[redacted]' },
    },
    pino.destination({ dest: 2, sync: true }),
  ) as unknown as Logger
}

export interface RuntimeOptions {
  readonly logger?: Logger
  readonly clock?: Clock
  /**
   * Retry every read of the object store and the schema registry (main/read-retry.ts): for the
   * commands that only read kfs's tables (verify-parity, skew-report, compact, dead-letters),
   * which have no retry of their own around them, so a passing fault would fail the command.
   */
  readonly readsRetried?: boolean
  /**
   * Retry the object store's repeatable writes too (engine/retried-writes.ts), at the same bound:
   * for `kfs compact`, which rewrites tables with no retry of its own around its writes. Its table
   * commits then ask again at most that often, and end at once on a call that ran out of its own
   * retries (not bound × bound attempts).
   */
  readonly writesRetried?: boolean
  /**
   * Compact the feature tables' old day partitions and the archives' old files in the background
   * after commits (`kfs run`: KFS_COMPACT_OLDER_THAN_MS, unless `off`); stopped first when the runtime closes.
   */
  readonly compactsTables?: boolean
  /** The object store and schema registry to use instead of the configured ones (a test's, faulted). */
  readonly ports?: { readonly store?: ObjectStore; readonly schemas?: SchemaRegistry }
}

async function openSchemaRegistry(config: KfsConfig): Promise<SchemaRegistry> {
  if (config.schemaRegistry.kind === 'confluent') {
    const { ConfluentSchemaRegistry } = await import('../adapters/schema-registry/confluent/confluent-schema-registry.ts')
    return new ConfluentSchemaRegistry({ url: config.schemaRegistry.url })
  }
  return new EmbeddedSchemaRegistry({ dir: join(config.dataDir, 'schemas') })
}

/**
 * Every process that commits to the offline tables (`kfs run`, a backfill) expires their old
 * snapshots itself, every AUTOMATIC_EXPIRY_COMMITS commits of a table (docs/semantics.md §23): with
 * the default 10 s checkpoints, about every 17 minutes, ~100 snapshots a run. The training sets'
 * pins are read at each run (records read once each).
 */
export const AUTOMATIC_EXPIRY_COMMITS = 100
/** At most this many snapshots (and old metadata files) a run: a first run over a month of checkpoints takes many runs, each short. */
export const AUTOMATIC_EXPIRY_MAX = 1_000

function automaticExpiry(config: KfsConfig, store: ObjectStore, logger: Logger): AutomaticExpiry {
  const known = new Map<string, readonly TrainingSetViewRecord[]>()
  return {
    everyCommits: AUTOMATIC_EXPIRY_COMMITS,
    maxExpired: AUTOMATIC_EXPIRY_MAX,
    retention: async (tableId) => ({ ...config.snapshotRetention, keep: (await pinnedSnapshots(store, known)).get(tableId) ?? new Set() }),
    onError: (err, table) => logger.warn({ err, table }, 'snapshot expiry failed; the table is as it was (at worst with unnamed files left), tried again after its next commits'),
  }
}

function automaticCompaction(config: KfsConfig, clock: Clock, logger: Logger): CompactionScheduler | undefined {
  if (config.featureCompactionAgeMs === null) return undefined
  return new CompactionScheduler(
    {
      olderThanMs: config.featureCompactionAgeMs,
      ...config.compactionPacing,
      onError: (err, table) => logger.warn({ err, table }, 'compaction failed; the table is as it was, tried again later'),
      onCompacted: (result, table) => logger.info({ table, removedFiles: result.removedFiles, addedFiles: result.addedFiles }, 'compacted old files'),
    },
    { clock },
  )
}

export async function createRuntime(config: KfsConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config)
  const clock = options.clock ?? systemClock
  let store = options.ports?.store ?? (await openObjectStore(config))
  let schemas = options.ports?.schemas ?? (await openSchemaRegistry(config))
  if (options.readsRetried === true) {
    const reads = commandReadRetry(clock, logger)
    store = objectStoreReadsRetried(store, reads)
    schemas = schemaReadsRetried(schemas, reads)
  }
  if (options.writesRetried === true) store = objectStoreWritesRetried(store, commandWriteRetry(clock, logger))
  const compaction = options.compactsTables === true ? automaticCompaction(config, clock, logger) : undefined
  const offline = createOfflineStore(store, {
    parquetWorker: config.parquetWorker,
    clock,
    snapshotExpiry: automaticExpiry(config, store, logger),
    ...(compaction === undefined ? {} : { automaticCompaction: compaction }),
    ...(options.writesRetried === true ? { storeRetryAttempts: COMMAND_READ_ATTEMPTS } : {}),
  })
  const closers: (() => Promise<void>)[] = []
  let log: Promise<EventLog> | undefined
  let reader: Promise<EventLog> | undefined
  let online: Promise<OnlineStore> | undefined
  let follower: Promise<OnlineStore> | undefined
  const runtime: Runtime = {
    config,
    logger,
    clock,
    store,
    offline,
    schemas,
    ...(compaction === undefined ? {} : { compactionStats: compaction.stats }),
    eventLog() {
      log ??= (async () => {
        const c = config.eventLog
        if (c.kind === 'kafka') {
          const made = await openKafkaEventLog(c, logger.child({ component: 'kafka' }))
          closers.push(() => made.close())
          return made
        }
        const moveLogger = logger.child({ component: 'embedded-log' })
        const made = new EmbeddedEventLog({ dir: c.dir, clock, logger: moveLogger, ...openSegmentsOf(c) })
        closers.push(() => made.close())
        // Records a process wrote beside the embedded log while another held it (a replay's dead
        // letters during a kfs run, kfs serve's served-feature log) go in before anything reads
        // it, and, from then on, as their writers hand them over while this process owns the log.
        await movePendingRecords(c.dir, made, moveLogger)
        const mover = movePendingPeriodically(c.dir, made, moveLogger, c.handOverMs ?? DEFAULT_HAND_OVER_MS)
        // Closers run in reverse: the mover stops (after its move under way) before the log closes.
        closers.push(() => mover.close())
        return made
      })()
      return log
    },
    eventLogReader() {
      const c = config.eventLog
      if (c.kind === 'kafka') return runtime.eventLog()
      reader ??= (async () => {
        const made = new EmbeddedLogReader({ dir: c.dir, clock, logger: logger.child({ component: 'embedded-log' }), ...openSegmentsOf(c) })
        closers.push(() => made.close())
        return made
      })()
      return reader
    },
    onlineStore(access = 'write') {
      if (access === 'read' && config.onlineStore.kind === 'embedded' && online === undefined) {
        const dir = config.onlineStore.dir
        follower ??= (async () => {
          // Nothing is created or changed on the writer's disk: no directory is made, and a store
          // not written yet is followed until it appears.
          const made = await EmbeddedOnlineFollower.follow({
            clock,
            path: join(dir, 'online-store.json'),
            onError: (err) => logger.warn({ err, dir }, 'embedded online store: cannot follow its writer; serving the rows read so far, trying again'),
          })
          closers.push(() => made.close())
          return made
        })()
        return follower
      }
      online ??= (async () => {
        const c = config.onlineStore
        let made: OnlineStore
        if (c.kind === 'redis') {
          const { RedisOnlineStore } = await import('../adapters/online-store/redis/redis-online-store.ts')
          made = new RedisOnlineStore({ url: c.url, ...(c.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: c.commandTimeoutMs }), clock, logger: logger.child({ component: 'redis' }) })
        } else {
          // Durable with the directory it is in: the store fsyncs only its own directory's entries.
          await makeDirDurable(c.dir)
          made = await EmbeddedOnlineStore.open({ clock, path: join(c.dir, 'online-store.json') })
        }
        closers.push(() => made.close())
        return made
      })()
      return online
    },
    servedLogTransport(topic, partitions) {
      const c = config.eventLog
      if (c.kind === 'kafka') {
        let producer: Promise<import('../adapters/event-log/kafka/best-effort-producer.ts').KafkaBestEffortProducer> | undefined
        const connect = () =>
          (producer ??= import('../adapters/event-log/kafka/best-effort-producer.ts').then(
            ({ KafkaBestEffortProducer }) => new KafkaBestEffortProducer({ brokers: c.brokers, clientId: `${c.clientId}-serve`, topic, partitions }),
          ))
        return {
          send: async (records) => (await connect()).send(records),
          close: async () => (producer ? (await producer).close() : undefined),
        }
      }
      // The log's owner moves these files in (eventLog above); a failed append rejects the send,
      // which the served log counts as dropped, as it does a Kafka send that fails.
      const writer = new HandOverWriter(c.dir, {
        intervalMs: c.handOverMs ?? DEFAULT_HAND_OVER_MS,
        maxBytes: HAND_OVER_MAX_BYTES,
        onError: (err) =>
          logger.warn({ err, dir: writer.dir }, 'served-feature log: cannot hand a file over to the event log; trying again'),
      })
      return {
        send: (records) => writer.append(topic, records, clock.nowMs(), partitions),
        close: () => writer.close(),
      }
    },
    decoderFor: (source, registry = schemas) =>
      source.changes?.format === 'json'
        ? createChangeJsonDecoder({ rowSchema: source.changes.rowSchema })
        : createDecoder({ registry, readerSchema: source.schema, clock }),
    encoderFor: (source) => createEncoder({ registry: schemas, subject: `${source.topic}-value`, schema: source.schema }),
    async close() {
      // First: a compaction under way ends at its next step (its files deleted) before anything closes.
      await compaction?.stop()
      for (const close of closers.reverse()) await close().catch((err: unknown) => logger.warn({ err }, 'close failed'))
    },
  }
  return runtime
}

/** The embedded log's open-segment bound, for its writer and its readers alike (absent: their default). */
function openSegmentsOf(c: { readonly openSegments?: number }): { openSegments?: number } {
  return c.openSegments === undefined ? {} : { openSegments: c.openSegments }
}
