/**
 * Two or three `kfs ingest` runs of one source at once, on a log shared between processes (as
 * Kafka is; ./logs.ts sharedLogHandles models its producers over the embedded log): whatever
 * point of a run the next one starts at, the log ends holding each planned change once — the very
 * records one clean run writes, partition by partition — and a run that was taken over stops with
 * a conflict naming the source. On the embedded log (owned by one process) a second run in the
 * same process is refused. Before the lease (ingest/append-lease.ts), every overlapping pair here
 * appended rows twice.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import type { TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import { ingestSnapshot, type IngestResult } from '../../../ingest/ingest-snapshot.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { accountsSource } from './fixtures.ts'
import { holdAt, sharedLogHandles, type TransactionStep } from './logs.ts'
import { accountRowsOf, decodedPartitions, snapshotOf } from './memory-snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-concurrent-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const source = accountsSource()
const CHUNK = 5
const CONFLICT = /another kfs ingest of source accounts started while this one was appending/

async function harness(name: string) {
  const log = new EmbeddedEventLog({ dir: join(dir, name, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, name, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const decoder = createDecoder({ registry, readerSchema: source.schema })
  const handle = sharedLogHandles(log)
  const run = (reader: TableSnapshotReader, on: EventLog) =>
    ingestSnapshot({ log: on, reader, encoder, decoder }, { source, chunkRecords: CHUNK })
  const partitions = (): Promise<string[][]> => decodedPartitions(log, decoder, source.topic, { partitions: 3, offsets: true })
  return { log, handle, run, partitions }
}

const first = snapshotOf('s1', accountRowsOf(3, 40))
const second = snapshotOf('s2', accountRowsOf(4, 60))

/** The log one run of each snapshot writes, alone. */
async function cleanLog(name: string): Promise<{ partitions: string[][]; appended: number }> {
  const clean = await harness(name)
  await clean.run(first, clean.handle())
  const { appended } = await clean.run(second, clean.handle())
  const partitions = await clean.partitions()
  await clean.log.close()
  return { partitions, appended }
}

void describe('concurrent ingest of one source on a shared log', async () => {
  const clean = await cleanLog('clean')

  // Where run B starts within run A: before A reads the log (A then finds B's appends and has
  // nothing to append), before A's first chunk is produced, while a chunk is produced but not
  // committed, and between two chunks.
  const points: readonly [TransactionStep, number, string, 'A completes' | 'A conflicts'][] = [
    ['end offsets', 0, 'before A reads the log', 'A completes'],
    ['produce', 0, "before A's first chunk", 'A conflicts'],
    ['produce', 1, "before A's second chunk, the first committed", 'A conflicts'],
    ['commit', 0, "with A's first chunk produced, not committed", 'A conflicts'],
    ['commit', 2, "with A's third chunk produced, two committed", 'A conflicts'],
  ]
  for (const [step, n, where, outcome] of points) {
    void it(`B starting ${where}: each change once, ${outcome}`, async () => {
      const h = await harness(`${step}-${n}`)
      await h.run(first, h.handle())
      let b: IngestResult | undefined
      const a = h.run(second, h.handle(holdAt(step, n, async () => (b = await h.run(second, h.handle())))))
      if (outcome === 'A conflicts') await assert.rejects(a, CONFLICT)
      else assert.equal((await a).appended, 0)
      assert.ok(b !== undefined, 'B ran to its end')
      assert.deepEqual(await h.partitions(), clean.partitions, 'the log one clean run writes')
      assert.equal((await h.run(second, h.handle())).appended, 0, 'nothing left to append')
      await h.log.close()
    })
  }

  void it("B ingesting a later snapshot while A appends: A's conflict names its snapshot and promises its rows only to a run of the same one", async () => {
    const h = await harness('later-snapshot')
    const later = snapshotOf(
      's3',
      accountRowsOf(4, 60).map((r) => ({ ...r, updated_at: Number(r.updated_at) + 10_000 })),
    )
    await h.run(first, h.handle())
    let b: IngestResult | undefined
    const a = h.run(second, h.handle(holdAt('produce', 1, async () => (b = await h.run(later, h.handle())))))
    const err = await a.then(
      () => assert.fail('A was taken over'),
      (e: unknown) => e as Error,
    )
    assert.match(err.message, CONFLICT)
    assert.match(err.message, /appending snapshot s2;/, 'names the snapshot it was appending')
    assert.match(
      err.message,
      /If that run ingests the same snapshot it appends what this one had not; rows of this snapshot that another one does not hold are not appended/,
    )
    assert.ok(b !== undefined && b.appended > 0)
    assert.equal((await h.run(later, h.handle())).appended, 0, 'the later snapshot is whole')
    // What A had not appended of s2 is not in the log: B read another snapshot.
    assert.ok((await h.run(second, h.handle())).appended > 0, 'rows of A’s snapshot were left out')
    await h.log.close()
  })

  void it('three runs, each starting inside the one before: each change once', async () => {
    const h = await harness('three')
    await h.run(first, h.handle())
    const outcomes: PromiseSettledResult<IngestResult>[] = []
    const c = () => h.run(second, h.handle())
    const b = () => h.run(second, h.handle(holdAt('commit', 1, async () => outcomes.push(...(await Promise.allSettled([c()]))))))
    const a = h.run(second, h.handle(holdAt('produce', 2, async () => outcomes.push(...(await Promise.allSettled([b()]))))))
    outcomes.push(...(await Promise.allSettled([a])))
    // C ran last and alone to its end; B and A were each taken over mid-run.
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'rejected'],
    )
    for (const o of outcomes.slice(1)) assert.match(String((o as PromiseRejectedResult).reason), CONFLICT)
    assert.deepEqual(await h.partitions(), clean.partitions)
    await h.log.close()
  })
})

void describe('concurrent ingest on a log owned by this process', () => {
  void it('a second run of the source in the same process is refused while the first runs', async () => {
    const h = await harness('owned')
    let second: unknown
    const slow: TableSnapshotReader = {
      open: async () => {
        const snapshot = await first.open({ format: 'parquet', path: 'x' })
        return {
          ...snapshot,
          async *rows() {
            second = await h.run(first, h.log).catch((err: unknown) => err)
            yield* snapshot.rows()
          },
        }
      },
    }
    assert.equal((await h.run(slow, h.log)).appended, 40)
    assert.ok(second instanceof Error)
    assert.match(second.message, /source accounts is being ingested already/)
    // The lease is released: a later run proceeds (and appends nothing).
    assert.equal((await h.run(first, h.log)).appended, 0)
    await h.log.close()
  })
})
