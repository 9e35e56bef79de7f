/**
 * A run-scoped engine scenario on the real stack: views and topics named after the run, a private
 * S3 prefix and data dir, events produced to Kafka with their acks, and the final check that the
 * offline table and Redis equal the reference model.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FeatureViewDef, SourceDef } from '../../features/types.ts'
import { KafkaEventLog } from '../../adapters/event-log/kafka/index.ts'
import { createEncoder, type Encoder } from '../../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../../adapters/schema-registry/confluent/confluent-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../adapters/offline/iceberg/feature-rows.ts'
import type { S3ObjectStore } from '../../adapters/object-store/s3/index.ts'
import { stackObjectStore } from './stack-store.ts'
import { RedisOnlineStore } from '../../adapters/online-store/redis/redis-online-store.ts'
import { runKfs } from './kfs-process.ts'
import { assertSameRows, expectedRowsByEntity, produceEvents, valuesClose, type ProducedRecord, type Purchase } from './scenario.ts'
import { newRunId, stackEnv } from './stack-env.ts'

export interface EngineScenario {
  readonly run: string
  readonly env: Record<string, string>
  /** `kfs run` arguments for this scenario's own consumer group (groups are per deployment). */
  readonly runArgs: readonly string[]
  readonly view: FeatureViewDef
  readonly source: SourceDef
  readonly log: KafkaEventLog
  readonly store: S3ObjectStore
  readonly online: RedisOnlineStore
  readonly registry: ConfluentSchemaRegistry
  readonly encoder: Encoder
  produce(events: readonly Purchase[]): Promise<ProducedRecord[]>
  /** Offline table and Redis equal the reference model over these records. */
  assertMatchesReference(produced: readonly ProducedRecord[]): Promise<void>
  close(): Promise<void>
}

/**
 * `endpoints` replaces stack endpoints (e.g. KFS_KAFKA_BROKERS, KFS_REDIS_URL of a private server)
 * for both the engine's env and this scenario's own clients.
 */
export async function createEngineScenario(extraEnv: Record<string, string> = {}, endpoints: Record<string, string> = {}): Promise<EngineScenario> {
  const base = { ...stackEnv(), ...endpoints }
  const run = newRunId()
  process.env.KFS_TEST_RUN = run
  const { userPurchases: view, purchases: source } = await import('../fixtures/features/run-scoped.ts')
  const dataDir = await mkdtemp(join(tmpdir(), 'kfs-it-'))
  const env = {
    ...base,
    KFS_TEST_RUN: run,
    KFS_FEATURES: 'test/fixtures/features/run-scoped.ts',
    KFS_S3_PREFIX: `it/${run}`,
    KFS_DATA_DIR: dataDir,
    KFS_CHECKPOINT_INTERVAL_MS: '1000',
    KFS_CHECKPOINT_MAX_RECORDS: '20000',
    ...extraEnv,
  }
  const log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
  const store = stackObjectStore(base, `it/${run}`)
  const online = new RedisOnlineStore({ url: base.KFS_REDIS_URL! })
  await runKfs(['apply'], env)
  const registry = new ConfluentSchemaRegistry({ url: base.KFS_SCHEMA_REGISTRY_URL! })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  await log.createTopic(source.topic, source.partitions)
  return {
    run,
    env,
    runArgs: ['run', '--group', `kfs-${run}`],
    view,
    source,
    log,
    store,
    online,
    registry,
    encoder,
    produce: (events) => produceEvents(log, source.topic, encoder, events, 2_000),
    async assertMatchesReference(produced) {
      const expected = expectedRowsByEntity([view], source, produced).get(view.name)!
      assertSameRows(await readFeatureRowsByEntity(store, view), expected, 'offline table')
      const keys = [...expected.keys()]
      const reads = await online.readRows(keys.map((entityKey) => ({ view, entityKey, features: view.features.map((f) => f.name) })), Date.UTC(2026, 0, 1))
      keys.forEach((key, i) => {
        const latest = expected.get(key)!.at(-1)!
        assert.equal(reads[i]!.asOfMs, latest.asOfMs, `online as_of of ${key}`)
        assert.ok(reads[i]!.values.every((v, j) => valuesClose(v, latest.values[j])), `online values of ${key}`)
      })
    },
    async close() {
      await online.close()
      await log.close()
      store.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
