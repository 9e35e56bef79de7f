/**
 * `kfs ingest` on Kafka and the transaction timeout (ingest/append-lease.ts), on both clients,
 * with a 2 s timeout so the broker's expiry check (every 10 s) ends what outlives it:
 * - the lease opens its first transaction before the snapshot and the log are read, which may take
 *   long on a big table: the timeout only starts at a transaction's first append, so a run whose
 *   reading outlasts it still appends, unfenced;
 * - a run stalled inside a chunk's transaction past the timeout (a paused process, a chunk too
 *   large to append in time) is fenced by Kafka as a newer run would fence it: it stops with the
 *   conflict message (which names the cure, a smaller --batch), its open chunk discarded, and the
 *   next run appends the rest, each change once.
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
import { ingestSnapshot } from '../../../ingest/ingest-snapshot.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import type { TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import type { TableRow } from '../../../ports/table-snapshots.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { accountsSource } from '../../unit/ingest/fixtures.ts'
import { heldLog, type TransactionStep } from '../../unit/ingest/logs.ts'
import { snapshotOf } from '../../unit/ingest/memory-snapshots.ts'
import { kafkaBrokers } from '../kafka/kafka-env.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-timeout-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const CHUNK = 50
const ROWS = 200
const TIMEOUT_MS = 2_000
/** Past the timeout and the broker's next expiry check (transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s). */
const OUTLIVE_MS = 13_000
const CONFLICT = /another kfs ingest of source accounts started while this one was appending[\s\S]*use a smaller --batch/

const clients: readonly [string, () => TransactionalEventLog][] = [
  ['kafkajs', () => new KafkaEventLog({ brokers: kafkaBrokers(), transactionTimeoutMs: TIMEOUT_MS })],
  ['@platformatic/kafka', () => new PlatformaticEventLog({ brokers: kafkaBrokers(), transactionTimeoutMs: TIMEOUT_MS })],
]

const rows: TableRow[] = Array.from({ length: ROWS }, (_, i) => ({
  account_id: `acct-${i}`,
  updated_at: 1_000 + i,
  balance: i,
  tier: null,
  visits: i,
}))
const snapshot = snapshotOf('s1', rows, ROWS)

/** Waits `OUTLIVE_MS` once, before the `n`th `step` of the run. */
const stallAt =
  (at: TransactionStep, n: number) =>
  async (step: TransactionStep, k: number): Promise<void> => {
    if (step === at && k === n) await new Promise((r) => setTimeout(r, OUTLIVE_MS))
  }

for (const [clientName, makeLog] of clients) {
  void describe(`kfs ingest past the transaction timeout (${clientName})`, () => {
    const logs: TransactionalEventLog[] = []
    const client = (): TransactionalEventLog => {
      const log = makeLog()
      logs.push(log)
      return log
    }
    after(() => Promise.allSettled(logs.map((l) => l.close())))
    const harness = async () => {
      const source = accountsSource({ topic: `accounts-timeout-${randomUUID().slice(0, 8)}` })
      const registry = new EmbeddedSchemaRegistry({ dir: join(dir, randomUUID()) })
      const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
      const decoder = createDecoder({ registry, readerSchema: source.schema })
      const run = (log: TransactionalEventLog) =>
        ingestSnapshot({ log, reader: snapshot, encoder, decoder }, { source, chunkRecords: CHUNK })
      /**
       * The accounts the log holds, each as often as it holds it, after a run that appends nothing.
       * That run is also a barrier: a commit returns before Kafka has written its markers, and until
       * it has, a read-committed read ends before that commit's records (end offsets are the last
       * stable offsets); the run's InitProducerId waits for them, as an ingest's own read does.
       */
      const accountsInLog = async (): Promise<string[]> => {
        assert.equal((await run(client())).appended, 0, 'ingesting again appends nothing')
        const out: string[] = []
        await scanTopic(
          client(),
          source.topic,
          async (records) => {
            for (const d of await decoder.decodeBatch(records.map((r) => r.value))) {
              assert.ok(d.ok)
              out.push(String((d.event.after as { account_id: string }).account_id))
            }
          },
          { groupPrefix: 'test' },
        )
        return out.sort()
      }
      return { run, accountsInLog }
    }
    const everyAccount = rows.map((r) => String(r.account_id)).sort()

    void it('a run whose reading outlasts the timeout after its lease opened its first transaction appends, unfenced', async () => {
      const h = await harness()
      const result = await h.run(heldLog(client(), stallAt('produce', 0)))
      assert.equal(result.appended, ROWS)
      assert.deepEqual(await h.accountsInLog(), everyAccount)
    })

    void it('a run stalled inside a chunk past the timeout stops with the conflict message; the next run appends the rest, each once', async () => {
      const h = await harness()
      await assert.rejects(h.run(heldLog(client(), stallAt('commit', 1))), CONFLICT)
      const rest = await h.run(client())
      assert.equal(rest.unchanged, CHUNK, 'the first chunk was committed, the stalled one discarded')
      assert.equal(rest.appended, ROWS - CHUNK)
      assert.deepEqual(await h.accountsInLog(), everyAccount)
    })
  })
}
