/**
 * Issue #4 acceptance on the real stack (Kafka, schema registry, Redis, MinIO): 200,000 generated
 * events over 4 partitions; the engine process is SIGKILLed at random moments five times and
 * restarted; the final Redis hashes equal each entity's latest reference row and the offline
 * Iceberg table equals every reference row — nothing lost, nothing duplicated.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { KafkaEventLog } from '../../../pipeline/kafka/index.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { ConfluentSchemaRegistry } from '../../../schemas/registry/confluent-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../../sinks/iceberg/feature-rows.ts'
import { S3ObjectStore } from '../../../sinks/object-store/s3/index.ts'
import { RedisOnlineStore } from '../../../sinks/redis/redis-online-store.ts'
import { newRunId, stackEnv } from '../../support/stack-env.ts'
import { runKfs, startKfs } from '../../support/kfs-process.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, prng, produceEvents, valuesClose } from '../../support/scenario.ts'

const EVENTS = Number(process.env.KFS_TEST_CRASH_EVENTS ?? 200_000)
const KILLS = 5

void test(`engine survives ${KILLS} SIGKILLs: ${EVENTS} events, online and offline equal the reference`, async () => {
  const base = stackEnv()
  const run = newRunId()
  process.env.KFS_TEST_RUN = run
  const { userPurchases: view, purchases: source } = await import('../../fixtures/features/run-scoped.ts')
  const dataDir = await mkdtemp(join(tmpdir(), 'kfs-crash-'))
  const env = {
    ...base,
    KFS_TEST_RUN: run,
    KFS_FEATURES: 'test/fixtures/features/run-scoped.ts',
    KFS_S3_PREFIX: `it/${run}`,
    KFS_DATA_DIR: dataDir,
    KFS_CHECKPOINT_INTERVAL_MS: '1000',
    KFS_CHECKPOINT_MAX_RECORDS: '20000',
  }
  const log = new KafkaEventLog({ brokers: base.KFS_KAFKA_BROKERS!.split(',') })
  const store = new S3ObjectStore({
    bucket: base.KFS_S3_BUCKET!,
    prefix: `it/${run}`,
    region: base.KFS_S3_REGION ?? 'us-east-1',
    endpoint: base.KFS_S3_ENDPOINT!,
    credentials: { accessKeyId: base.KFS_S3_ACCESS_KEY_ID ?? 'minioadmin', secretAccessKey: base.KFS_S3_SECRET_ACCESS_KEY ?? 'minioadmin' },
  })
  const online = new RedisOnlineStore({ url: base.KFS_REDIS_URL! })
  try {
    await runKfs(['apply'], env)
    const registry = new ConfluentSchemaRegistry({ url: base.KFS_SCHEMA_REGISTRY_URL! })
    const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
    await log.createTopic(source.topic, source.partitions)
    const produced = await produceEvents(log, source.topic, encoder, generatePurchases({ count: EVENTS, users: 2_000, seed: 11 }), 2_000)
    assert.equal(new Set(produced.map((p) => p.partition)).size, 4, 'events spread over 4 partitions')

    const rand = prng(5)
    let killed = 0
    for (let i = 0; i < KILLS; i++) {
      const engine = startKfs(['run'], env)
      await new Promise((r) => setTimeout(r, 2_500 + Math.floor(rand() * 4_000)))
      if (engine.child.exitCode === null) {
        engine.child.kill('SIGKILL')
        killed++
      }
      const result = await engine.done
      assert.ok(result.signal === 'SIGKILL' || result.code === 0, `engine run ${i} ended badly:\n${result.stderr.slice(-2000)}`)
    }
    assert.equal(killed, KILLS, 'every run was killed mid-flight')
    const final = await runKfs(['run', '--until-caught-up', '--json'], env)
    assert.ok(JSON.parse(final.stdout.trim().split('\n').at(-1)!).consumed >= 0)

    const expected = expectedRowsByEntity([view], source, produced).get(view.name)!
    assertSameRows(await readFeatureRowsByEntity(store, view), expected, 'offline table after crashes')

    const keys = [...expected.keys()]
    const reads = await online.readRows(keys.map((entityKey) => ({ view, entityKey, features: view.features.map((f) => f.name) })), Date.UTC(2026, 0, 1))
    keys.forEach((key, i) => {
      const latest = expected.get(key)!.at(-1)!
      assert.equal(reads[i]!.asOfMs, latest.asOfMs, `online as_of of ${key}`)
      assert.ok(reads[i]!.values.every((v, j) => valuesClose(v, latest.values[j])), `online values of ${key}`)
    })
  } finally {
    await online.close()
    await log.close()
    await store.close?.()
    await rm(dataDir, { recursive: true, force: true })
  }
})
