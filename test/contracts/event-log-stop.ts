/**
 * The event-log contract's stop rule, for every adapter: `stop()` while a batch handler is still
 * running waits for it, and only then tells the member its partitions are gone (`onRevoked`).
 * The Kafka clients do; the embedded consumer ran `onRevoked` at once and returned, so a member
 * released a partition its own handler was still working on — the re-key stage's merge then got
 * that batch for a lane it had stopped (an InvariantViolation, and a clean stop reported as a
 * failed one).
 *
 * Every await a handler can be stopped at is one of these: the handler is paused on a gate the
 * test holds, at the first batch, at a later batch, and on a second partition.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { EventLog, LogBatch } from '../../ports/event-log.ts'
import { eventually } from './event-log.ts'

const enc = (s: string) => Buffer.from(s, 'utf8')

/** Lets every pending callback and I/O completion run a few times over (no clock involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

const CASES = [
  { what: 'its first batch', partitions: 1, holdAt: 0 },
  { what: 'a later batch', partitions: 1, holdAt: 2 },
  { what: 'a batch of its second partition', partitions: 2, holdAt: 1 },
] as const

export function runEventLogStopContract(name: string, makeLog: () => Promise<EventLog>): void {
  const opened: EventLog[] = []
  void describe(`event log contract > ${name} > stop while a batch handler runs`, () => {
    after(async () => {
      for (const log of opened) await log.close()
    })
    for (const c of CASES) {
      void test(`stopped during ${c.what}: the handler ends first, then onRevoked, then stop resolves`, async () => {
        const log = await makeLog()
        opened.push(log)
        const topic = `kfs-stop-${randomUUID().slice(0, 8)}`
        await log.createTopic(topic, c.partitions)
        for (let p = 0; p < c.partitions; p++) await log.produce(topic, [{ key: null, value: enc(`p${p}`), partition: p }])
        const events: string[] = []
        let release!: () => void
        const gate = new Promise<void>((resolve) => (release = resolve))
        let held: LogBatch | undefined
        let batches = 0
        const consumer = log.consumer({ groupId: `kfs-g-${randomUUID().slice(0, 8)}`, topics: [topic], readCommitted: false })
        await consumer.run({
          eachBatch: async (batch) => {
            const n = batches++
            if (n < c.holdAt && c.partitions === 1) {
              // Later batches of one partition: more records arrive after each one is taken.
              await log.produce(topic, [{ key: null, value: enc(`more${n}`), partition: 0 }])
              return
            }
            if (held !== undefined || n < c.holdAt) return
            held = batch
            events.push(`handler started ${batch.partition}`)
            await gate
            events.push(`handler ended ${batch.partition}`)
          },
          onRevoked: async (partitions) => void events.push(`revoked ${partitions.map((p) => p.partition).join(',')}`),
        })
        await eventually(() => held !== undefined, 'the batch to hold')
        let stopped = false
        const stopping = consumer.stop().then(() => void (stopped = true))
        await settle()
        assert.deepEqual(events, [`handler started ${held!.partition}`], 'nothing revoked while the handler runs')
        assert.equal(stopped, false, 'stop() waits for the handler')
        release()
        await stopping
        assert.equal(events[1], `handler ended ${held!.partition}`)
        assert.match(events[2] ?? '', /^revoked /, `${JSON.stringify(events)}: onRevoked after the handler`)
        assert.equal(events.length, 3, JSON.stringify(events))
      })
    }
  })
}
