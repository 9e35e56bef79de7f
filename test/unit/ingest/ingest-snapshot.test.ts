/**
 * ingestSnapshot over the embedded log: a run killed mid-append (the log took a prefix of the
 * sorted envelopes) is completed by the next run, which appends exactly what is missing; the log
 * then holds, partition by partition, the very records a clean run writes.
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
import { ingestSnapshot } from '../../../ingest/ingest-snapshot.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { accountsSource } from './fixtures.ts'
import { forwardingLog } from './logs.ts'
import { accountRowsOf, decodedPartitions, snapshotOf } from './memory-snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-ingest-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const source = accountsSource()

/** A log that takes only the first `budget` records produced, then fails like a killed process. */
function dying(log: EventLog, budget: number): EventLog {
  let left = budget
  return forwardingLog(log, async (topic, records) => {
    const taken = records.slice(0, left)
    left -= taken.length
    const out = taken.length > 0 ? await log.produce(topic, taken) : []
    if (taken.length < records.length) throw new Error('killed')
    return out
  })
}

async function harness(name: string) {
  const log = new EmbeddedEventLog({ dir: join(dir, name, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, name, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const decoder = createDecoder({ registry, readerSchema: source.schema })
  const run = (reader: TableSnapshotReader, on: EventLog = log) => ingestSnapshot({ log: on, reader, encoder, decoder }, { source, chunkRecords: 4 })
  const partitions = (): Promise<string[][]> => decodedPartitions(log, decoder, source.topic, { partitions: 3, offsets: true })
  return { log, run, partitions }
}

void describe('ingestSnapshot', () => {
  void it('a re-run after a crash appends exactly what is missing; the log equals a clean run, partition by partition', async () => {
    const first = snapshotOf('s1', accountRowsOf(3, 40))
    const second = snapshotOf('s2', accountRowsOf(4, 40))
    const clean = await harness('clean')
    assert.equal((await clean.run(first)).appended, 40)
    const cleanSecond = await clean.run(second)
    assert.ok(cleanSecond.appended > 0)

    const crashy = await harness('crashy')
    await crashy.run(first)
    await assert.rejects(crashy.run(second, dying(crashy.log, 9)), /killed/)
    const rerun = await crashy.run(second)
    assert.equal(rerun.appended, cleanSecond.appended - 9, 'exactly the missing envelopes')
    assert.deepEqual(await crashy.partitions(), await clean.partitions())
    assert.equal((await crashy.run(second)).appended, 0, 're-ingest appends nothing')
    assert.equal((await crashy.run(first)).appended, 0, 'an older snapshot appends nothing either')
    await clean.log.close()
    await crashy.log.close()
  })
})
