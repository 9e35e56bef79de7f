/**
 * A stop signal (SIGINT, SIGTERM: IngestOptions.signal) stops `kfs ingest` at its next batch: the
 * chunk being appended is committed first, so every transaction the run opened is ended — killed
 * mid-chunk instead, the run left one open that readers of the topic wait at. The run rejects
 * INTERRUPTED naming how much is appended; the log holds whole chunks, and the next run appends
 * the rest. In-process through the CLI, a signal before anything is appended leaves the log empty.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { ingestSnapshot } from '../../../ingest/ingest-snapshot.ts'
import type { LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import type { TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { loggedEnvelopes } from '../cli/accounts-log.ts'
import { accountsSource } from './fixtures.ts'
import { holdAt, sharedLogHandles, type TransactionStep } from './logs.ts'
import { accountRowsOf, decodedPartitions, snapshotOf } from './memory-snapshots.ts'
import { writeAccountsParquet } from './snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-stop-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const source = accountsSource()
const CHUNK = 5
const snapshot = snapshotOf('s1', accountRowsOf(5, 40))

/** `log`, counting the transactions it opened and those that ended (committed or aborted). */
function counted(log: TransactionalEventLog): { log: TransactionalEventLog; open: () => number } {
  let opened = 0
  let ended = 0
  const end = async (step: () => Promise<void>) => {
    await step()
    ended++
  }
  return {
    open: () => opened - ended,
    log: {
      ...log,
      endOffsets: (t) => log.endOffsets(t),
      async transaction(id: string): Promise<LogTransaction> {
        const txn = await log.transaction(id)
        opened++
        return {
          ...txn,
          produce: (t, r) => txn.produce(t, r),
          sendOffsets: (g, o) => txn.sendOffsets(g, o),
          commit: () => end(() => txn.commit()),
          abort: () => end(() => txn.abort()),
        }
      },
    },
  }
}

async function harness(name: string) {
  const log = new EmbeddedEventLog({ dir: join(dir, name, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, name, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const decoder = createDecoder({ registry, readerSchema: source.schema })
  const handle = sharedLogHandles(log)
  const run = (reader: TableSnapshotReader, on: TransactionalEventLog, signal?: AbortSignal) =>
    ingestSnapshot(
      { log: on, reader, encoder, decoder },
      { source, chunkRecords: CHUNK, ...(signal === undefined ? {} : { signal }) },
    )
  const records = async () =>
    (await decodedPartitions(log, decoder, source.topic, { partitions: 3, offsets: false })).flat().length
  return { log, handle, run, records }
}

const interrupted = (detail: RegExp) => (err: unknown) =>
  err instanceof FeatureStoreError && err.code === 'INTERRUPTED' && detail.test(err.message)

void describe('kfs ingest stopped by a signal', () => {
  const points: readonly [TransactionStep, number, string, number, RegExp][] = [
    ['end offsets', 0, 'while it reads the snapshot and the log', 0, /stopped by SIGTERM before appending anything/],
    // Chunk k+1 is assembled and asked for while chunk k is appended (ingest/append-plan.ts): a
    // stop seen while chunk k is under way lets the next one, already asked for, finish too.
    ['produce', 1, 'while its second chunk is produced', 15, /with 15 of 40 records appended, each batch whole/],
    ['commit', 2, 'while its third chunk commits', 20, /with 20 of 40 records appended, each batch whole/],
  ]
  for (const [step, n, when, appended, message] of points) {
    void it(`${when}: stops after ${appended} records, no transaction left open, the next run appends the rest`, async () => {
      const h = await harness(`${step}-${n}`)
      const stopping = new AbortController()
      const { log, open } = counted(h.handle(holdAt(step, n, async () => stopping.abort('SIGTERM'))))
      await assert.rejects(h.run(snapshot, log, stopping.signal), interrupted(message))
      assert.equal(open(), 0, 'every transaction the run opened has ended')
      assert.equal(await h.records(), appended, 'whole chunks in the log')
      assert.equal((await h.run(snapshot, h.handle())).appended, 40 - appended)
      assert.equal(await h.records(), 40)
      await h.log.close()
    })
  }

  void it('through the CLI: a signal before anything is appended exits 1 naming it, the log untouched; the next run appends all', async () => {
    const data = join(dir, 'cli')
    const file = join(dir, 'accounts.parquet')
    await writeAccountsParquet(
      createParquetCodec({ worker: false }),
      file,
      accountRowsOf(6, 30).map((r, i) => ({ ...r, account_id: `acct-${i}` })),
    )
    const args = ['ingest', '--features', 'test/unit/ingest/fixtures.ts', '--source', 'accounts', '--snapshot', file]
    const stopped = await runKfsInProcess(args, data, {
      listenForStop: () => ({ received: Promise.resolve('SIGTERM'), dispose: () => {} }),
    })
    assert.equal(stopped.code, 1, stopped.stderr)
    assert.match(
      stopped.stderr,
      /kfs ingest of accounts stopped by SIGTERM before appending anything; run it again to append the rest/,
    )
    assert.deepEqual(await loggedEnvelopes(data), [])
    const rerun = await runKfsInProcess(args, data)
    assert.equal(rerun.code, 0, rerun.stderr)
    assert.equal((await loggedEnvelopes(data)).length, 30)
  })
})
