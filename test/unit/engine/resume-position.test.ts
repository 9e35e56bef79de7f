/**
 * Where a restored partition resumes when the log no longer holds what its checkpoint assumed
 * (docs/semantics.md §17): a checkpoint past the log's end (the topic re-created, its tail lost)
 * stops the engine with the offsets named and nothing consumed; a checkpoint before the log's
 * first record (retention deleted records unread) resumes at that record, counts the gap and
 * says so. The rule itself is checked over every ordering of (position, start, end).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { InvariantViolation } from '../../../core/errors.ts'
import { silentLogger } from '../../../core/logger.ts'
import { userPurchases, purchases } from '../../../examples/features.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { resumePosition } from '../../../engine/resume-position.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { generatePurchases, produceEvents, waitFor } from '../../support/scenario.ts'
import { clicks, itemClicks } from '../../fixtures/features/rekey-scoped.ts'
import { generateClicks, produceClicks } from '../../fixtures/features/rekey-clicks.ts'

const where = { topic: 't', partition: 3, by: 'its checkpoint' }

void describe('resumePosition', () => {
  void test('every ordering of position, log start and log end: inside resumes there, before the start resumes at it, past the end is refused', () => {
    for (let start = 0; start <= 3; start++) {
      for (let end = start; end <= 4; end++) {
        for (let at = 0; at <= 5; at++) {
          const run = () => resumePosition(where, String(at), String(start), String(end))
          if (at > end) {
            assert.throws(run, (err: unknown) => {
              assert.ok(err instanceof InvariantViolation)
              assert.match(
                err.message,
                new RegExp(
                  `^t/3: its checkpoint resumes at offset ${at}, but the log ends at offset ${end}: it no longer holds ${at - end} record`,
                ),
              )
              assert.match(err.message, /start the views over on a new store/)
              return true
            })
            continue
          }
          const got = run()
          assert.deepEqual(
            got,
            at < start ? { position: String(start), deleted: BigInt(start - at) } : { position: String(at), deleted: 0n },
            `at ${at} in [${start}, ${end})`,
          )
        }
      }
    }
  })

  void test('offsets beyond 2^53 compare exactly', () => {
    const big = '9007199254740993'
    assert.deepEqual(resumePosition(where, big, '9007199254740992', big), { position: big, deleted: 0n })
    assert.throws(() => resumePosition(where, big, '0', '9007199254740992'), InvariantViolation)
  })
})

/** A log whose answers for some offsets are replaced (`answers`), the rest passed through. */
function withOffsets<L extends EventLog>(log: L, answers: Partial<Pick<EventLog, 'startOffsets' | 'endOffsets'>>): L {
  return new Proxy(log, {
    get(target, name, receiver) {
      const answer = (answers as Record<string | symbol, unknown>)[name]
      if (answer !== undefined) return answer
      const value: unknown = Reflect.get(target, name, receiver)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** The embedded log with its first `deleted` offsets of every partition reported gone, as after retention. */
function withRetention(log: EventLog, deleted: number): EventLog {
  return withOffsets(log, {
    startOffsets: async (topic) => (await log.endOffsets(topic)).map((end) => String(Math.min(deleted, Number(end)))),
  })
}

void describe('the live engine resumes only where the log holds its records', () => {
  async function setUp() {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-resume-'))
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
    const engineOn = (log: EventLog, views = [userPurchases]) =>
      createLiveEngine({
        log,
        stateStore: store,
        offline: new IcebergOfflineSink(store),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views,
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })
    const newLog = async (name: string) => {
      const log = new EmbeddedEventLog({ dir: join(dir, name), fsync: 'never' })
      await log.createTopic(purchases.topic, purchases.partitions)
      return log
    }
    return { dir, encoder, engineOn, newLog, registry }
  }

  void test('a checkpoint past the end of a re-created log stops the engine, naming the partition and both offsets, before it reads a record', async () => {
    const { dir, encoder, engineOn, newLog } = await setUp()
    try {
      const events = generatePurchases({ count: 1_200, users: 40, seed: 3 })
      const first = await newLog('log')
      const produced = await produceEvents(first, purchases.topic, encoder, events)
      const engine1 = engineOn(first)
      await engine1.start()
      await waitFor(() => engine1.stats.consumed >= produced.length, 'the first log consumed')
      const positions = await engine1.positions()
      await engine1.stop()
      await first.close()

      // The topic deleted and re-created: fewer records than the checkpoints resume at.
      const recreated = await newLog('log-recreated')
      await produceEvents(recreated, purchases.topic, encoder, events.slice(0, 300))
      const ends = await recreated.endOffsets(purchases.topic)
      const engine2 = engineOn(recreated)
      await engine2.start()
      const err = await engine2.failed
      assert.ok(err instanceof InvariantViolation, String(err))
      const [, partition, at, end] =
        /^purchases\/(\d+): its checkpoint resumes at offset (\d+), but the log ends at offset (\d+)/.exec(err.message) ?? []
      assert.ok(partition !== undefined, err.message)
      assert.equal(at, positions[`${purchases.topic}/${partition}`], 'the checkpoint position named')
      assert.equal(end, ends[Number(partition)], "the log's end named")
      assert.equal(engine2.stats.consumed, 0, 'nothing read from the re-created log')
      assert.equal(engine2.failure, err)
      await engine2.stop().catch(() => undefined)
      await recreated.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  void test('a checkpoint before the first record retention left resumes at that record, and the gap is counted', async () => {
    const { dir, encoder, engineOn, newLog } = await setUp()
    try {
      const events = generatePurchases({ count: 2_000, users: 40, seed: 5 })
      const log = await newLog('log')
      const early = await produceEvents(log, purchases.topic, encoder, events.slice(0, 400))
      const engine1 = engineOn(log)
      await engine1.start()
      await waitFor(() => engine1.stats.consumed >= early.length, 'the first records consumed')
      const before = await engine1.positions()
      await engine1.stop()

      const late = await produceEvents(log, purchases.topic, encoder, events.slice(400))
      const deleted = 250
      const engine2 = engineOn(withRetention(log, deleted))
      await engine2.start()
      const ends = await log.endOffsets(purchases.topic)
      // Per partition: the records from max(checkpoint, deleted) to the end are read, the ones in between are counted gone.
      let expectRead = 0
      let expectGone = 0
      ends.forEach((end, p) => {
        const at = Number(before[`${purchases.topic}/${p}`] ?? '0')
        const from = Math.max(at, Math.min(deleted, Number(end)))
        expectRead += Number(end) - from
        expectGone += from - at
      })
      assert.ok(expectGone > 0 && expectRead > 0, 'the case has both a gap and records after it')
      assert.ok(late.length > 0)
      await waitFor(() => engine2.stats.consumed >= expectRead, 'the records after the gap consumed')
      const after = await engine2.positions()
      await engine2.stop()
      assert.equal(engine2.stats.consumed, expectRead, 'exactly the records the log still holds past each checkpoint')
      assert.equal(engine2.stats.deletedBeforeRead[purchases.topic], expectGone)
      assert.equal(engine2.failure, undefined)
      ends.forEach((end, p) => assert.equal(after[`${purchases.topic}/${p}`], end, `partition ${p} read to its end`))
      // The checkpoints now resume past the gap: a restart neither counts it again nor reads anything.
      const engine3 = engineOn(withRetention(log, deleted))
      await engine3.start()
      await waitFor(() => engine3.isCaughtUp(100), 'the restart caught up')
      await engine3.stop()
      assert.deepEqual(engine3.stats.deletedBeforeRead, {})
      assert.equal(engine3.stats.consumed, 0)
      await log.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

void test("a re-key stage whose committed offset is past the source log's end stops the engine, naming both offsets", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-resume-rekey-'))
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    await log.createTopic(clicks.topic, clicks.partitions)
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    const engineOn = (on: EmbeddedEventLog) =>
      createLiveEngine({
        log: on,
        stateStore: store,
        offline: new IcebergOfflineSink(store),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(on, 'kfs.dead-letters'),
        deadLetterTopic: 'kfs.dead-letters',
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [itemClicks],
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })
    const produced = await produceClicks(
      log,
      clicks.topic,
      encoder,
      generateClicks({ count: 600, users: 20, items: 15, seed: 9 }),
    )
    const engine1 = engineOn(log)
    await engine1.start()
    assert.ok(produced.length > 0)
    await waitFor(() => engine1.isCaughtUp(300), 'the clicks re-keyed and consumed')
    await engine1.stop()

    // The source topic answers as if re-created empty; the internal topic is as it was.
    const shrunk = withOffsets(log, {
      endOffsets: async (topic) =>
        topic === clicks.topic ? (await log.endOffsets(topic)).map(() => '0') : log.endOffsets(topic),
    })
    const engine2 = engineOn(shrunk)
    await engine2.start()
    const err = await engine2.failed
    assert.ok(err instanceof InvariantViolation, String(err))
    assert.match(
      err.message,
      new RegExp(
        `^${clicks.topic}/\\d+: the re-key stage's committed offset resumes at offset [1-9]\\d*, but the log ends at offset 0`,
      ),
    )
    assert.equal(engine2.stats.rekeyed, 0, 'nothing forwarded')
    await engine2.stop().catch(() => undefined)
    await log.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
