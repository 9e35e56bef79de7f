/**
 * A whole-topic scan (engine/topic-scan.ts: `kfs dead-letters`, `kfs ingest`'s read of a table's
 * log) while retention deletes records it has not read yet (docs/semantics.md §17): the client's
 * fetch goes out of range and restarts at the log's first record left. When nothing is left, no
 * batch ever comes, and the scan waited for that partition's end until its stall or overall
 * timeout failed it. Now a quiet scan reads the log's start again and a partition whose start
 * reached its end is done. Each kind of deletion, made as the scan's first batch arrives, on the
 * partition that batch is not of: the scan returns exactly the records left, each once.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { scanTopics } from '../../../engine/topic-scan.ts'
import { retainedLog } from '../../support/retained-log.ts'

const TOPIC = 'scan-deleted'

/** Where the other partition's log starts once the deletion is made, given its end. */
const deletions: [string, (end: number) => number][] = [
  ['nothing deleted', () => 0],
  ['a prefix deleted: the rest is read', (end) => Math.floor(end / 2)],
  ['every record deleted: the scan ends without them', (end) => end],
]

void describe('scanTopics while retention deletes what it has not read yet', () => {
  for (const [name, startOf] of deletions) {
    void test(name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-scan-deleted-'))
      const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
      try {
        await log.createTopic(TOPIC, 2)
        for (let i = 0; i < 400; i++)
          await log.produce(TOPIC, [{ key: null, value: new TextEncoder().encode(`v${i}`), partition: i % 2 }])
        const ends = (await log.endOffsets(TOPIC)).map(Number)
        const retained = retainedLog(log, 'earliest', false, TOPIC)
        let other: number | undefined
        const seen: string[] = []
        await scanTopics(
          retained.log,
          [TOPIC],
          (_topic, records) => {
            if (other === undefined) {
              other = 1 - records[0]!.partition
              retained.deleteBefore(ends.map((end, p) => (p === other ? startOf(end) : 0)))
            }
            for (const r of records) seen.push(`${r.partition}/${r.offset}`)
          },
          { groupPrefix: 'scan-deleted', stallTimeoutMs: 30_000 },
        )
        assert.ok(other !== undefined)
        const left = ends.flatMap((end, p) =>
          Array.from({ length: end }, (_, o) => o)
            .filter((o) => p !== other || o >= startOf(end))
            .map((o) => `${p}/${o}`),
        )
        assert.deepEqual(seen.sort(), left.sort(), 'exactly the records left, each once')
      } finally {
        await log.close()
        await rm(dir, { recursive: true, force: true })
      }
    })
  }
})
