/**
 * `kfs serve`'s dead-letter counts read the dead-letter topic incrementally
 * (replay/dead-letters/dead-letter-follower.ts, engine/topic-follower.ts): a second refresh of the
 * catalog status hands over only the letters new since the first (and the one each partition's last
 * read stopped at, read again to recognise the topic); and after any sequence of letters, re-drive
 * markers, records that are not letters, and the topics deleted and created again with other
 * contents, every read answers as a read of the whole topics (readDeadLetters).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import fc from 'fast-check'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { systemClock } from '../../../core/clock.ts'
import { deadLetterRecords } from '../../../engine/dead-letter-topic.ts'
import { catalogStatus } from '../../../main/commands/serve.ts'
import type { DeadLetter, DeadLetterReason } from '../../../ports/dead-letters.ts'
import type { EventLog, LogConsumer } from '../../../ports/event-log.ts'
import { positionId } from '../../../replay/dead-letters/dead-letter-entry.ts'
import { followDeadLetters } from '../../../replay/dead-letters/dead-letter-follower.ts'
import { markerTopicOf, readDeadLetters } from '../../../replay/dead-letters/redrive.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/memory/memory-object-store.ts'
import { testSource, testView } from '../operators/defs.ts'

const DLQ = 'kfs.dead-letters'
const MARKERS = markerTopicOf(DLQ)
const source = testSource({ topic: 'purchases', partitions: 2 })
const spend = testView({ name: 'spend', source, features: [{ op: 'count', windowMs: null }] })
const REASONS: readonly DeadLetterReason[] = ['late', 'undecodable', 'future_event_time']

const dirs: string[] = []
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

async function freshLog(dlqPartitions: number): Promise<EmbeddedEventLog> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-dl-follow-'))
  dirs.push(dir)
  const log = new EmbeddedEventLog({ dir })
  await log.createTopic(DLQ, dlqPartitions)
  return log
}

/** Every letter unique (its source offset), so a topic created again never repeats one byte for byte. */
let serial = 0
function letters(n: number, reason: DeadLetterReason, view: string | undefined): DeadLetter[] {
  return Array.from({ length: n }, () => {
    const offset = String(serial++)
    return {
      topic: source.topic,
      partition: 0,
      offset,
      key: Buffer.from(`k${offset}`),
      value: new Uint8Array([1]),
      reason,
      detail: 'test',
      view,
    }
  })
}

/** The log, counting the records its consumers hand over per topic. */
function counting(log: EventLog, delivered: Map<string, number>): EventLog {
  return new Proxy(log, {
    get(target, prop) {
      if (prop === 'consumer')
        return (options: Parameters<EventLog['consumer']>[0]): LogConsumer => {
          const consumer = target.consumer(options)
          return {
            run: (handlers) =>
              consumer.run({
                ...handlers,
                eachBatch: (batch) => {
                  delivered.set(batch.topic, (delivered.get(batch.topic) ?? 0) + batch.records.length)
                  return handlers.eachBatch(batch)
                },
              }),
            commit: (offsets) => consumer.commit(offsets),
            seek: (position) => consumer.seek(position),
            pause: (partitions) => consumer.pause(partitions),
            resume: (partitions) => consumer.resume(partitions),
            stop: () => consumer.stop(),
          }
        }
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** Pending letters as `reason view topic` lines, sorted: what the counts are made of. */
function lines(pending: readonly { reason: string; view: string | undefined; topic: string }[]): string[] {
  return pending.map((l) => `${l.reason} ${l.view ?? '-'} ${l.topic}`).sort()
}

async function wholeRead(log: EventLog): Promise<string[]> {
  const snapshot = await readDeadLetters(log, DLQ)
  return lines(
    snapshot.entries
      .filter((e) => !snapshot.redriven.has(positionId(e.target)))
      .map((e) => ({ reason: e.reason, view: e.view, topic: e.target.topic })),
  )
}

void describe('dead letters > followed incrementally', () => {
  void test("kfs serve's second catalog refresh reads only the letters new since the first, and counts them all", async () => {
    const log = await freshLog(1)
    await log.produce(DLQ, deadLetterRecords(letters(40, 'late', spend.name)))
    const delivered = new Map<string, number>()
    const status = catalogStatus(
      [spend],
      { getBackfillStatus: async () => undefined },
      {
        clock: systemClock,
        store: new MemoryObjectStore(),
        offline: { featureTableStats: async () => undefined } as never,
        eventLogReader: async () => counting(log, delivered),
      },
      (line) => assert.fail(`the catalog could not read: ${line}`),
    )
    await status.refresh()
    assert.deepEqual((await status.provider()).views[`${spend.name}@${spend.version}`]?.deadLetters?.byReason, { late: 40 })
    assert.equal(delivered.get(DLQ), 40)
    delivered.clear()
    await log.produce(DLQ, deadLetterRecords([...letters(3, 'undecodable', spend.name), ...letters(2, 'late', undefined)]))
    await status.refresh()
    assert.deepEqual((await status.provider()).views[`${spend.name}@${spend.version}`]?.deadLetters?.byReason, {
      late: 42,
      undecodable: 3,
    })
    // The five new letters and the one the first read stopped at, read again to recognise the topic.
    assert.equal(delivered.get(DLQ), 5 + 1)
    await log.close()
  })

  type Step =
    | { readonly kind: 'letters'; readonly n: number; readonly reason: DeadLetterReason; readonly named: boolean }
    | { readonly kind: 'redrive'; readonly pick: number }
    | { readonly kind: 'foreign' }
    | { readonly kind: 'recreate'; readonly partitions: number; readonly n: number }
    | { readonly kind: 'read' }
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('letters' as const),
      n: fc.integer({ min: 1, max: 6 }),
      reason: fc.constantFrom(...REASONS),
      named: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('redrive' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('foreign' as const) }),
    fc.record({
      kind: fc.constant('recreate' as const),
      partitions: fc.integer({ min: 1, max: 3 }),
      n: fc.integer({ min: 0, max: 8 }),
    }),
    fc.constant({ kind: 'read' as const }),
  )

  void test('after any letters, re-drives, foreign records and topics created again, every read answers as a whole read and hands over only what is new', async () => {
    let restarts = 0
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(step, { minLength: 1, maxLength: 10 }),
        async (partitions, steps) => {
          let log = await freshLog(partitions)
          const follower = followDeadLetters(DLQ, { timeoutMs: 20_000 })
          // Records appended to each topic since the last read, and whether the log was swapped.
          let appended = 0
          let recreated = false
          let partitionsNow = partitions
          try {
            for (const s of [...steps, { kind: 'read' } as const]) {
              if (s.kind === 'letters') {
                appended += (await log.produce(DLQ, deadLetterRecords(letters(s.n, s.reason, s.named ? spend.name : undefined))))
                  .length
              } else if (s.kind === 'foreign') {
                appended += (await log.produce(DLQ, [{ key: 'not a letter', value: new Uint8Array([0]) }])).length
              } else if (s.kind === 'redrive') {
                const entries = (await readDeadLetters(log, DLQ)).entries
                if (entries.length === 0) continue
                const entry = entries[s.pick % entries.length]!
                await log.createTopic(MARKERS, 1)
                const target = positionId(entry.target)
                const marker = { target, letter: positionId(entry.at), reason: entry.reason, redrivenAtMs: 0 }
                await log.produce(MARKERS, [{ key: target, value: Buffer.from(JSON.stringify(marker)), partition: 0 }])
              } else if (s.kind === 'recreate') {
                await log.close()
                log = await freshLog(s.partitions)
                partitionsNow = s.partitions
                if (s.n > 0) await log.produce(DLQ, deadLetterRecords(letters(s.n, 'late', spend.name)))
                recreated = true
              } else {
                const delivered = new Map<string, number>()
                const { pending, stats } = await follower.read(counting(log, delivered))
                assert.deepEqual(lines(pending), await wholeRead(log))
                assert.deepEqual(stats.delivered.get(DLQ), delivered.get(DLQ) ?? 0)
                restarts += stats.restarted
                if (!recreated) {
                  // Only what is new, plus one record again per partition an earlier read ended in.
                  assert.equal(stats.restarted, 0)
                  assert.ok(
                    (delivered.get(DLQ) ?? 0) <= appended + partitionsNow,
                    `read ${delivered.get(DLQ)} of ${appended} new`,
                  )
                  assert.ok((delivered.get(DLQ) ?? 0) >= appended)
                }
                appended = 0
                recreated = false
              }
            }
          } finally {
            await log.close()
          }
        },
      ),
      { numRuns: 25, seed: 36 },
    )
    assert.ok(restarts > 0, 'some read found a topic created again and read it from its start')
  })
})
