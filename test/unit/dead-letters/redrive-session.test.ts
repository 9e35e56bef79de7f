/**
 * Re-drive on the embedded log, exactly once at the log: every re-drivable record gets one copy in
 * its topic however the runs go — two runs in a row, a run whose commit fails midway, a run that
 * dies right after a commit — and duplicate letters of one record re-drive it once.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { deadLetterRecords } from '../../../engine/dead-letter-topic.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import type { LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { readToEnd } from '../../../replay/dead-letters/read-to-end.ts'
import { assessLetters, redriveTargets } from '../../../replay/dead-letters/redrive-plan.ts'
import { openRedriveSession, REDRIVE_HEADERS } from '../../../replay/dead-letters/redrive.ts'
import { testSource, testView } from '../operators/defs.ts'

const DLQ = 'kfs.dead-letters'
const source = testSource({ topic: 'purchases', partitions: 2 })
const view = testView({ name: 'spend', source, features: [{ op: 'count', windowMs: null }] })
const states = [{ view, backfill: { state: 'complete' as const, completeThrough: [], updatedAtMs: 0 } }]

const dirs: string[] = []
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

/** A log with `records` refused records of `purchases` (one letter each, record 0 lettered twice). */
async function logWithLetters(records: number): Promise<EmbeddedEventLog> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-redrive-'))
  dirs.push(dir)
  const log = new EmbeddedEventLog({ dir })
  await log.createTopic(source.topic, source.partitions)
  await log.createTopic(DLQ, 1)
  const acks = await log.produce(
    source.topic,
    Array.from({ length: records }, (_, i) => ({ key: `u${i}`, value: new Uint8Array([i]) })),
  )
  const letters: DeadLetter[] = acks.map((ack, i) => ({
    topic: source.topic,
    partition: ack.partition,
    offset: ack.offset,
    key: Buffer.from(`u${i}`),
    value: new Uint8Array([i]),
    reason: 'future_event_time',
    detail: 'clock skew',
    view: view.name,
  }))
  // The dead-letter output is at-least-once: a crash can write a letter again.
  await log.produce(DLQ, deadLetterRecords([...letters, letters[0]!]))
  return log
}

/** Runs one session over every letter; `batchSize` small so a run spans several transactions. */
async function redriveAll(log: TransactionalEventLog): Promise<number> {
  const session = await openRedriveSession(log, DLQ, systemClock, { batchSize: 2 })
  const assessed = assessLetters(session.snapshot.entries, states, new Set(session.snapshot.redriven.keys()))
  return (await session.redrive(redriveTargets(assessed))).length
}

/** How many copies of each record the topic holds. */
async function copiesPerRecord(log: EmbeddedEventLog): Promise<Map<string, number>> {
  const records = (await readToEnd(log, [source.topic], { groupPrefix: 'check' })).get(source.topic)!
  const copies = new Map<string, number>()
  for (const r of records) {
    const from = r.headers[REDRIVE_HEADERS.from]
    if (from !== undefined) copies.set(from, (copies.get(from) ?? 0) + 1)
  }
  return copies
}

/** The log, with the `n`-th transaction commit (1-based) failing before or after it lands. */
function failingCommit(log: EmbeddedEventLog, n: number, when: 'before' | 'after'): TransactionalEventLog {
  let commits = 0
  return new Proxy(log, {
    get(target, prop) {
      if (prop !== 'transaction') {
        const value = Reflect.get(target, prop) as unknown
        // The log keeps its state in private fields: its methods must run on the log itself.
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      }
      return async (id: string): Promise<LogTransaction> => {
        const txn = await target.transaction(id)
        return {
          produce: (topic, records) => txn.produce(topic, records),
          sendOffsets: (group, offsets) => txn.sendOffsets(group, offsets),
          abort: () => txn.abort(),
          async commit() {
            if (++commits === n && when === 'before') throw new Error('killed before the commit')
            await txn.commit()
            if (commits === n && when === 'after') throw new Error('killed after the commit')
          },
        }
      }
    },
  })
}

void describe('dead letters > re-drive session (embedded log)', () => {
  void test('two runs in a row: each record re-driven once, the duplicate letter too', async () => {
    const log = await logWithLetters(5)
    try {
      assert.equal(await redriveAll(log), 5)
      assert.equal(await redriveAll(log), 0)
      const copies = await copiesPerRecord(log)
      assert.equal(copies.size, 5)
      assert.deepEqual([...copies.values()], [1, 1, 1, 1, 1])
    } finally {
      await log.close()
    }
  })

  for (const when of ['before', 'after'] as const) {
    void test(`a run that dies ${when} its second commit: the next run finishes, nothing twice`, async () => {
      const log = await logWithLetters(7)
      try {
        // The first transaction's commit counts as 1 (the fencing one is aborted, never committed).
        await assert.rejects(redriveAll(failingCommit(log, 2, when)), new RegExp(`killed ${when} the commit`))
        const partial = await copiesPerRecord(log)
        assert.equal(partial.size, when === 'before' ? 2 : 4, 'committed batches are kept, the failed one is not')
        assert.equal(await redriveAll(log), 7 - partial.size)
        assert.equal(await redriveAll(log), 0)
        const copies = await copiesPerRecord(log)
        assert.equal(copies.size, 7)
        assert.ok([...copies.values()].every((n) => n === 1), `one copy each: ${JSON.stringify([...copies])}`)
      } finally {
        await log.close()
      }
    })
  }

  void test('the copy carries key, value and partition of the record, and names it and its letter', async () => {
    const log = await logWithLetters(3)
    try {
      await redriveAll(log)
      const records = (await readToEnd(log, [source.topic], { groupPrefix: 'check' })).get(source.topic)!
      const originals = records.filter((r) => r.headers[REDRIVE_HEADERS.from] === undefined)
      for (const copy of records.filter((r) => r.headers[REDRIVE_HEADERS.from] !== undefined)) {
        const original = originals.find((o) => `${o.topic}/${o.partition}/${o.offset}` === copy.headers[REDRIVE_HEADERS.from])
        assert.ok(original, `the copy names a record of the topic: ${copy.headers[REDRIVE_HEADERS.from]}`)
        assert.equal(copy.partition, original.partition)
        assert.deepEqual(Buffer.from(copy.key!), Buffer.from(original.key!))
        assert.deepEqual(Buffer.from(copy.value!), Buffer.from(original.value!))
        assert.match(copy.headers[REDRIVE_HEADERS.letter]!, /^kfs\.dead-letters\/0\/\d+$/)
      }
    } finally {
      await log.close()
    }
  })
})
