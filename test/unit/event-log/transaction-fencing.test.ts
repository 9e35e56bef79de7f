/**
 * A newer transaction with the same id fences an older one at every point before its records
 * land — also while the older one's commit waits its turn behind an append still being written
 * (a packed append: `kfs ingest`), which is where the re-key stage's fence (open a transaction,
 * abort it, then read the committed offsets) must find the older commit ended. And a transaction
 * lands what each call was given, not what the caller later put in the same buffers.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { PACKED_RUN_FIELDS, type PackedRecords } from '../../../ports/event-log.ts'

/** `count` records of key `k` into the packed form. */
function pack(count: number): PackedRecords {
  const source = Buffer.from('k'.padEnd(200, '.'))
  const runs = new Uint32Array(2 * PACKED_RUN_FIELDS * count)
  for (let i = 0; i < count; i++) runs.set([0, 0, 1, 0, 1, source.length], 2 * PACKED_RUN_FIELDS * i)
  return { count, sources: [source], runsPerRecord: 2, runs }
}

void describe('event log > embedded > transaction fencing', () => {
  void test('a commit waiting behind an append in flight is fenced by a newer transaction of its id opened meanwhile', async () => {
    for (const fsync of ['batch', 'never'] as const) {
      const log = new EmbeddedEventLog({ dir: mkdtempSync(join(tmpdir(), 'kfs-log-fence-')), fsync })
      await log.createTopic('t', 1)
      await log.createTopic('out', 1)
      const older = await log.transaction('tx')
      await older.produce('out', [{ key: null, value: Buffer.from('older') }])
      await older.sendOffsets('g', [{ topic: 't', partition: 0, offset: '5' }])
      const packed = log.producePacked('t', pack(5_000)) // in flight: the commit waits for it
      const commit = older.commit()
      const newer = await log.transaction('tx') // the fence, while the older commit waits
      await newer.abort()
      await packed
      await assert.rejects(
        commit,
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'COMMIT_CONFLICT',
        `fsync ${fsync}`,
      )
      assert.deepEqual(await log.endOffsets('out'), ['0'], `fsync ${fsync}: the fenced commit's records landed`)
      assert.deepEqual(await log.committedOffsets('g', 't'), [undefined], `fsync ${fsync}: the fenced commit's offsets landed`)
      await log.close()
    }
  })
})

void describe('event log > embedded > transaction staging', () => {
  void test('a transaction lands what each call was given, whatever the caller does with its buffers and objects after', async () => {
    const log = new EmbeddedEventLog({ dir: mkdtempSync(join(tmpdir(), 'kfs-log-stage-')), fsync: 'never' })
    await log.createTopic('t', 1)
    const key = Buffer.from('key')
    const value = Buffer.from('value')
    const headers: Record<string, string> = { h: 'given' }
    const offsets = [{ topic: 't', partition: 0, offset: '1' }]
    const txn = await log.transaction('tx')
    await txn.produce('t', [{ key, value, headers, partition: 0 }])
    await txn.sendOffsets('g', offsets)
    // The caller reuses everything it handed over before the commit.
    key.fill(0x21)
    value.fill(0x21)
    headers.h = 'changed'
    headers.added = 'x'
    offsets[0]!.offset = '9'
    await txn.commit()
    assert.deepEqual(await log.committedOffsets('g', 't'), ['1'])
    const got: string[] = []
    const consumer = log.consumer({ groupId: 'reader', topics: ['t'] })
    await consumer.run({
      eachBatch: async (b) =>
        void got.push(
          ...b.records.map(
            (r) => `${Buffer.from(r.key!).toString()}=${Buffer.from(r.value!).toString()} ${JSON.stringify(r.headers)}`,
          ),
        ),
    })
    while (got.length < 1) await new Promise((resolve) => setTimeout(resolve, 5))
    await log.close()
    assert.deepEqual(got, ['key=value {"h":"given"}'])
  })
})
