/**
 * Two `kfs ingest` runs of one table source at once on the real Kafka, each on its own client (as
 * two processes are): the second run's lease (ingest/append-lease.ts) fences the first wherever
 * it stands — before its first chunk, with a chunk produced but not committed, between chunks —
 * and the topic ends holding each planned change exactly once, the records one clean run writes.
 * Both Kafka clients (kafkajs and @platformatic/kafka): the fence is Kafka's InitProducerId, and
 * each client must end the fenced run's transaction and refuse its later ones.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { KafkaEventLog } from '../../../adapters/event-log/kafka/index.ts'
import { PlatformaticEventLog } from '../../../adapters/event-log/platformatic/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { ingestTransactionalId } from '../../../ingest/append-lease.ts'
import { ingestSnapshot, type IngestResult } from '../../../ingest/ingest-snapshot.ts'
import type { TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import type { TableRow, TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { accountsSource } from '../../unit/ingest/fixtures.ts'
import { heldLog, holdAt, type TransactionStep } from '../../unit/ingest/logs.ts'
import { decodedPartitions, snapshotOf } from '../../unit/ingest/memory-snapshots.ts'
import { kafkaBrokers } from '../kafka/kafka-env.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-kafka-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const CHUNK = 50
const CONFLICT = /another kfs ingest of source accounts started while this one was appending/

const clients: readonly [string, () => TransactionalEventLog][] = [
  ['kafkajs', () => new KafkaEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000 })],
  [
    '@platformatic/kafka',
    () => new PlatformaticEventLog({ brokers: kafkaBrokers(), heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000 }),
  ],
]

/** An error's message and those of its causes (a library's aggregate names the broker's answers in `errors`). */
const causeChain = (err: unknown): string => {
  const messages: string[] = []
  for (let e = err; e !== undefined && messages.length < 8; e = e instanceof Error ? e.cause : undefined) {
    const inner = e instanceof Error ? (e as { errors?: unknown }).errors : undefined
    const answers = Array.isArray(inner) ? ` [${inner.map((x) => (x instanceof Error ? x.message : String(x))).join('; ')}]` : ''
    messages.push(e instanceof Error ? `${e.name}: ${e.message}${answers}` : String(e))
  }
  return messages.join(' <- ')
}

const rowsOf = (offset: number, n: number): TableRow[] =>
  Array.from({ length: n }, (_, i) => ({
    account_id: `acct-${(i * 7) % 97}`,
    updated_at: 1_000 + (offset + i) * 10,
    balance: (offset + i) % 100,
    tier: i % 3 === 0 ? 'gold' : null,
    visits: offset + i,
  }))

const first = snapshotOf('s1', rowsOf(0, 200), 100)
const second = snapshotOf('s2', rowsOf(200, 400), 100)

async function harness(makeLog: () => TransactionalEventLog, name: string) {
  const source = accountsSource({ topic: `accounts-${name}-${randomUUID().slice(0, 8)}` })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, `${name}-${randomUUID()}`) })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const decoder = createDecoder({ registry, readerSchema: source.schema })
  const logs: TransactionalEventLog[] = []
  /** A new client: another process. */
  const client = (): TransactionalEventLog => {
    const log = makeLog()
    logs.push(log)
    return log
  }
  const run = (reader: TableSnapshotReader, log: TransactionalEventLog) =>
    ingestSnapshot({ log, reader, encoder, decoder }, { source, chunkRecords: CHUNK })
  /**
   * Every record of the topic, decoded, per partition in offset order (offsets left out: transaction
   * markers take some). A commit returns before Kafka has written its markers, and until it has, a
   * read-committed read ends before that commit's records (end offsets are the last stable offsets):
   * the InitProducerId of the ingest's transactional id first waits for them, as an ingest's own read does.
   */
  const partitions = async (): Promise<string[][]> => {
    await (await client().transaction(ingestTransactionalId(source.topic))).abort()
    return decodedPartitions(client(), decoder, source.topic, { partitions: source.partitions, offsets: false })
  }
  const close = () => Promise.allSettled(logs.map((l) => l.close()))
  return { source, client, run, partitions, close }
}

for (const [clientName, makeLog] of clients) {
  void describe(`concurrent kfs ingest of one source on Kafka (${clientName})`, async () => {
    const clean = await harness(makeLog, 'clean')
    await clean.run(first, clean.client())
    const cleanSecond = await clean.run(second, clean.client())
    const cleanLog = await clean.partitions()
    await clean.close()
    assert.equal(cleanSecond.appended, 400)

    const points: readonly [TransactionStep, number, string][] = [
      ['produce', 0, "before A's first chunk"],
      ['commit', 1, "with A's second chunk produced, not committed"],
      ['produce', 3, "between A's third and fourth chunks"],
    ]
    void it('a topic kfs created is compacted and ingest says nothing; one made elsewhere that deletes records is named in the result', async () => {
      const h = await harness(makeLog, 'retention')
      const made = await harness(makeLog, 'made-elsewhere')
      try {
        assert.equal((await h.run(first, h.client())).topicRetention, undefined)
        // Created as another tool would: the cluster's defaults, which delete by time.
        await made.client().createTopic(made.source.topic, made.source.partitions)
        const result = await made.run(first, made.client())
        assert.equal(result.appended, 200)
        assert.match(result.topicRetention ?? '', /^cleanup\.policy=delete, retention\.ms=\d+/)
      } finally {
        await Promise.all([h.close(), made.close()])
      }
    })

    for (const [step, n, where] of points) {
      void it(`B on another client starting ${where}: each change once, A stops with a conflict`, async () => {
        const h = await harness(makeLog, `${step}-${n}`)
        try {
          await h.run(first, h.client())
          let b: IngestResult | undefined
          let bFailed: unknown
          const a = h.run(
            second,
            heldLog(
              h.client(),
              holdAt(step, n, async () => {
                try {
                  b = await h.run(second, h.client())
                } catch (err: unknown) {
                  bFailed = err
                  throw err
                }
              }),
            ),
          )
          // B runs inside A's held step, so B's failure rejects A with B's error: B is checked first, with
          // its causes, so that A's conflict below is A's own. A fenced B with no third run means B's
          // transaction outlasted its timeout (60 s): the broker stalled (its log says "Completed rollback
          // of ongoing transaction ... due to timeout"), as when the machine ran out of memory in session 39.
          await a.catch(() => {})
          assert.equal(bFailed, undefined, `B failed: ${causeChain(bFailed)}`)
          await assert.rejects(a, CONFLICT)
          assert.ok(b !== undefined && b.appended > 0, 'B appended what A had not')
          assert.deepEqual(await h.partitions(), cleanLog, 'the records one clean run writes, each once')
          assert.equal((await h.run(second, h.client())).appended, 0, 're-ingesting appends nothing')
        } finally {
          await h.close()
        }
      })
    }
  })
}
