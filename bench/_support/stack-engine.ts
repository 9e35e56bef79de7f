/**
 * The live engine in this process on the real stack, wired as main/runtime.ts wires `kfs run`:
 * the Kafka event log of KFS_KAFKA_CLIENT (event-log.ts), RedisOnlineStore, S3ObjectStore (MinIO, a run-private prefix),
 * IcebergOfflineSink, the Confluent-registry decoder and the dead-letter topic. In-process so the
 * timings exclude process start; the log is wrapped to timestamp the first batch handed over.
 */
import { systemClock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { FeatureViewDef, SourceDef } from '../../features/types.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import type { EventLog } from '../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { S3ObjectStore } from '../../adapters/object-store/s3/index.ts'
import { RedisOnlineStore } from '../../adapters/online-store/redis/redis-online-store.ts'
import { openBenchEventLog } from './event-log.ts'
import { stderrLogger } from './report.ts'
import type { StackEndpoints } from './stack.ts'

export interface StackClients {
  readonly log: TransactionalEventLog
  readonly registry: ConfluentSchemaRegistry
  readonly online: RedisOnlineStore
  readonly store: S3ObjectStore
  readonly offline: IcebergOfflineSink
  readonly logger: Logger
  encoderFor(source: SourceDef): Promise<Encoder>
  close(): Promise<void>
}

export async function openStackClients(stack: StackEndpoints, prefix: string): Promise<StackClients> {
  const logger = stderrLogger()
  const log = await openBenchEventLog(stack.kafkaBrokers, 'kfs-bench', logger.child({ component: 'kafka' }))
  const registry = new ConfluentSchemaRegistry({ url: stack.registryUrl })
  const online = new RedisOnlineStore({ url: stack.redisUrl, clock: systemClock, logger: logger.child({ component: 'redis' }) })
  const store = new S3ObjectStore({
    bucket: stack.s3.bucket,
    prefix,
    region: stack.s3.region,
    endpoint: stack.s3.endpoint,
    credentials: { accessKeyId: stack.s3.accessKeyId, secretAccessKey: stack.s3.secretAccessKey },
  })
  const offline = new IcebergOfflineSink(store)
  return {
    log,
    registry,
    online,
    store,
    offline,
    logger,
    encoderFor: (source) => createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema }),
    async close() {
      await online.close()
      await log.close()
      store.close()
    },
  }
}

export interface TimedEngine {
  readonly engine: LiveEngine
  /** performance.now() when the first non-empty batch reached the engine. */
  firstBatchAt(): number | undefined
}

export function startStackEngine(
  clients: StackClients,
  options: { views: readonly FeatureViewDef[]; groupId: string; checkpointIntervalMs?: number; checkpointMaxRecords?: number; tickMs?: number },
): TimedEngine {
  let first: number | undefined
  const timedLog: EventLog = {
    createTopic: (t, p) => clients.log.createTopic(t, p),
    partitionCount: (t) => clients.log.partitionCount(t),
    produce: (t, r) => clients.log.produce(t, r),
    startOffsets: (t) => clients.log.startOffsets(t),
    endOffsets: (t) => clients.log.endOffsets(t),
    committedOffsets: (g, t) => clients.log.committedOffsets(g, t),
    close: () => clients.log.close(),
    consumer(request) {
      const inner = clients.log.consumer(request)
      return {
        run: (handlers) =>
          inner.run({
            ...handlers,
            eachBatch: (batch) => {
              if (first === undefined && batch.records.length > 0) first = performance.now()
              return handlers.eachBatch(batch)
            },
          }),
        commit: (offsets) => inner.commit(offsets),
        seek: (position) => inner.seek(position),
        pause: (partitions) => inner.pause(partitions),
        resume: (partitions) => inner.resume(partitions),
        stop: () => inner.stop(),
      }
    },
  }
  const engine = createLiveEngine({
    log: timedLog,
    stateStore: clients.store,
    offline: clients.offline,
    online: clients.online,
    deadLetters: createDeadLetterTopicSink(clients.log, 'kfs.dead-letters'),
    decoderFor: (s) => createDecoder({ registry: clients.registry, readerSchema: s.schema }),
    views: options.views,
    groupId: options.groupId,
    clock: systemClock,
    logger: clients.logger,
    // kfs run's defaults (main/config.ts) unless the bench says otherwise.
    checkpointIntervalMs: options.checkpointIntervalMs ?? 10_000,
    checkpointMaxRecords: options.checkpointMaxRecords ?? 100_000,
    ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
  })
  return { engine, firstBatchAt: () => first }
}
