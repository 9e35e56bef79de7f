/**
 * Acceptance test for the local stack (scripts/stack/up.sh, or docker-compose.yml): each server is
 * real and does what kfs relies on. Endpoints come only from the KFS_* variables in
 * .kfs/stack/env.sh; a missing one fails the test with instructions.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs'
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import { Redis } from 'ioredis'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'

const REQUIRED = [
  'KFS_KAFKA_BROKERS',
  'KFS_SCHEMA_REGISTRY_URL',
  'KFS_REDIS_URL',
  'KFS_S3_ENDPOINT',
  'KFS_S3_BUCKET',
  'KFS_S3_REGION',
  'KFS_S3_ACCESS_KEY_ID',
  'KFS_S3_SECRET_ACCESS_KEY',
] as const
type StackEnv = Record<(typeof REQUIRED)[number], string>

function stackEnv(): StackEnv {
  const missing = REQUIRED.filter((k) => !process.env[k])
  if (missing.length > 0) {
    throw new Error(`the stack test needs ${missing.join(', ')}: run \`npm run stack:up\` then \`. .kfs/stack/env.sh\``)
  }
  return Object.fromEntries(REQUIRED.map((k) => [k, process.env[k]!])) as StackEnv
}

const runId = randomUUID().slice(0, 8)
const cleanups: Array<() => Promise<unknown>> = []
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
})

function kafkaClient(env: StackEnv): Kafka {
  return new Kafka({ clientId: `stack-test-${runId}`, brokers: env.KFS_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING })
}

async function freshTopic(admin: Admin, name: string, numPartitions: number): Promise<string> {
  const topic = `${name}-${runId}`
  const created = await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true })
  assert.equal(created, true, `topic ${topic} already existed`)
  cleanups.push(() => admin.deleteTopics({ topics: [topic] }))
  return topic
}

const clickSchema = {
  type: 'record',
  name: 'Click',
  namespace: 'kfs.test',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'item_id', type: 'long' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
}
interface Click {
  user_id: string
  item_id: number
  ts: number
}

void describe('stack > Kafka + schema registry', () => {
  void test('Avro events round-trip through a 4-partition topic and a consumer group', { timeout: 180_000 }, async () => {
    const env = stackEnv()
    const kafka = kafkaClient(env)
    const admin = kafka.admin()
    await admin.connect()
    cleanups.push(() => admin.disconnect())
    const topic = await freshTopic(admin, 'stack-clicks', 4)

    const registry = new SchemaRegistry({ host: env.KFS_SCHEMA_REGISTRY_URL })
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(clickSchema) },
      { subject: `${topic}-value` },
    )
    assert.equal(await registry.getLatestSchemaId(`${topic}-value`), id)

    const events: Click[] = Array.from({ length: 40 }, (_, i) => ({
      user_id: `user-${i}`,
      item_id: 1000 + i,
      ts: 1_700_000_000_000 + i,
    }))
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    cleanups.push(() => producer.disconnect())
    const messages = await Promise.all(events.map(async (e) => ({ key: e.user_id, value: await registry.encode(id, e) })))
    for (const m of messages) {
      // Confluent wire format: magic byte 0, then the schema id as a big-endian int32.
      assert.equal(m.value[0], 0)
      assert.equal(m.value.readInt32BE(1), id)
    }
    const metadata = await producer.send({ topic, messages })
    const partitionsWritten = new Set(metadata.map((m) => m.partition))
    assert.ok(partitionsWritten.size > 1, `40 keys all landed in partitions ${[...partitionsWritten].join(',')}`)

    const consumer = kafka.consumer({ groupId: `stack-test-${runId}` })
    await consumer.connect()
    cleanups.push(() => consumer.disconnect())
    await consumer.subscribe({ topic, fromBeginning: true })
    // A second client has an empty schema cache, so decoding must fetch the schema by id.
    const reader = new SchemaRegistry({ host: env.KFS_SCHEMA_REGISTRY_URL })
    const received: Click[] = []
    const partitionsRead = new Set<number>()
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            assert.ok(message.value, 'a message without a value')
            // avsc decodes to a record class instance; compare plain fields.
            received.push({ ...((await reader.decode(message.value)) as Click) })
            partitionsRead.add(partition)
            if (received.length >= events.length) resolve()
          },
        })
        .catch(reject)
    })
    await consumer.stop()

    const byUser = (a: Click, b: Click): number => a.user_id.localeCompare(b.user_id)
    assert.deepEqual([...received].sort(byUser), [...events].sort(byUser))
    assert.deepEqual([...partitionsRead].sort(), [...partitionsWritten].sort())
  })

  void test('the registry enforces BACKWARD compatibility like Confluent', { timeout: 60_000 }, async () => {
    const env = stackEnv()
    const registry = new SchemaRegistry({ host: env.KFS_SCHEMA_REGISTRY_URL })
    const subject = `stack-compat-${runId}-value`
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(clickSchema) }, { subject })
    const addedRequired = { ...clickSchema, fields: [...clickSchema.fields, { name: 'page', type: 'string' }] }
    await assert.rejects(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(addedRequired) }, { subject }))
    const addedOptional = {
      ...clickSchema,
      fields: [...clickSchema.fields, { name: 'page', type: ['null', 'string'], default: null }],
    }
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(addedOptional) }, { subject })
    assert.equal(await registry.getLatestSchemaId(subject), id)
  })

  void test('transactions: read_committed consumers see committed records only', { timeout: 180_000 }, async () => {
    const env = stackEnv()
    const kafka = kafkaClient(env)
    const admin = kafka.admin()
    await admin.connect()
    cleanups.push(() => admin.disconnect())
    const topic = await freshTopic(admin, 'stack-txn', 1)

    const producer = kafka.producer({
      transactionalId: `stack-test-${runId}`,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
    await producer.connect()
    cleanups.push(() => producer.disconnect())
    const aborted = await producer.transaction()
    await aborted.send({ topic, messages: [{ value: 'aborted-1' }, { value: 'aborted-2' }] })
    await aborted.abort()
    const committed = await producer.transaction()
    await committed.send({ topic, messages: [{ value: 'committed-1' }, { value: 'committed-2' }] })
    await committed.commit()

    const consumer = kafka.consumer({ groupId: `stack-test-txn-${runId}`, readUncommitted: false })
    await consumer.connect()
    cleanups.push(() => consumer.disconnect())
    await consumer.subscribe({ topic, fromBeginning: true })
    const values: string[] = []
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString() ?? '')
            if (values.includes('committed-2')) resolve()
          },
        })
        .catch(reject)
    })
    await consumer.stop()
    assert.deepEqual(values, ['committed-1', 'committed-2'])
  })
})

void describe('stack > Redis', () => {
  void test('a Lua script runs atomically and returns its result', { timeout: 30_000 }, async () => {
    const env = stackEnv()
    const redis = new Redis(env.KFS_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 })
    await redis.connect()
    cleanups.push(() => redis.quit())
    const key = `stack-test:${runId}`
    cleanups.push(() => redis.del(key))
    // Write only if newer, the shape of the online store's conditional write.
    const script = `
      local stored = tonumber(redis.call('HGET', KEYS[1], 'as_of') or '-1')
      if tonumber(ARGV[1]) < stored then return 0 end
      redis.call('HSET', KEYS[1], 'as_of', ARGV[1], 'v', ARGV[2])
      return 1`
    assert.equal(await redis.eval(script, 1, key, '200', 'new'), 1)
    assert.equal(await redis.eval(script, 1, key, '100', 'stale'), 0)
    assert.deepEqual(await redis.hgetall(key), { as_of: '200', v: 'new' })
  })
})

void describe('stack > S3 conditional writes', () => {
  function s3(env: StackEnv): S3Client {
    const client = new S3Client({
      endpoint: env.KFS_S3_ENDPOINT,
      region: env.KFS_S3_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: env.KFS_S3_ACCESS_KEY_ID, secretAccessKey: env.KFS_S3_SECRET_ACCESS_KEY },
    })
    cleanups.push(async () => client.destroy())
    return client
  }

  async function putIfAbsent(client: S3Client, bucket: string, key: string, body: string): Promise<'created' | 'exists'> {
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, IfNoneMatch: '*' }))
      return 'created'
    } catch (err: unknown) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      if (status === 412 || status === 409) return 'exists'
      throw err
    }
  }

  async function read(client: S3Client, bucket: string, key: string): Promise<string> {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    return (await out.Body?.transformToString()) ?? ''
  }

  void test('PUT with If-None-Match: * creates once, then answers 412/409', { timeout: 30_000 }, async () => {
    const env = stackEnv()
    const client = s3(env)
    const key = `test/stack/${runId}/once.json`
    cleanups.push(() => client.send(new DeleteObjectCommand({ Bucket: env.KFS_S3_BUCKET, Key: key })))
    assert.equal(await putIfAbsent(client, env.KFS_S3_BUCKET, key, 'first'), 'created')
    assert.equal(await putIfAbsent(client, env.KFS_S3_BUCKET, key, 'second'), 'exists')
    assert.equal(await read(client, env.KFS_S3_BUCKET, key), 'first')
  })

  void test('two concurrent conditional PUTs of one new key: exactly one wins', { timeout: 60_000 }, async () => {
    const env = stackEnv()
    const client = s3(env)
    for (let round = 0; round < 10; round++) {
      const key = `test/stack/${runId}/race-${round}.json`
      cleanups.push(() => client.send(new DeleteObjectCommand({ Bucket: env.KFS_S3_BUCKET, Key: key })))
      const bodies = [`a-${round}`, `b-${round}`]
      const outcomes = await Promise.all(bodies.map((b) => putIfAbsent(client, env.KFS_S3_BUCKET, key, b)))
      assert.deepEqual([...outcomes].sort(), ['created', 'exists'], `round ${round}: ${outcomes.join(', ')}`)
      const winner = bodies[outcomes.indexOf('created')]
      assert.equal(await read(client, env.KFS_S3_BUCKET, key), winner)
    }
  })
})
