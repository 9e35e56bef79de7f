/**
 * Records deleted by retention while the engine runs behind (docs/semantics.md §17): the Kafka
 * client's fetch goes out of range and it restarts the partition where it chooses; the engine
 * must resume at the first record left, count the gap once, and read exactly what is left. The
 * rule (deletedMidRun) over every kind of gap; then the engine over an embedded log made to
 * behave like a Kafka client whose position retention passed (the embedded log itself deletes
 * nothing: it has no retention).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { userPurchases, purchases } from '../../../examples/features.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { deletedMidRun } from '../../../engine/resume-position.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { ConsumerHandlers, EventLog, LogBatch } from '../../../ports/event-log.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { clicks, itemClicks } from '../../fixtures/features/rekey-scoped.ts'
import {
  assertExactlyOnce,
  generateClicks,
  produceClicks,
  readInternalTopic,
  type Click,
} from '../../fixtures/features/rekey-clicks.ts'
import { planRekeys } from '../../../engine/plan-sources.ts'
import { rekeyGroupId } from '../../../engine/rekey-stage.ts'
import { retainedLog, type Reset } from '../../support/retained-log.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, produceEvents, waitFor } from '../../support/scenario.ts'

void describe('deletedMidRun: a batch starts at `first`, past `expected`; the log starts at `logStart`', () => {
  const cases: [
    string,
    { expected: string; first: string; logStart: string },
    { position: string; deleted: bigint } | undefined,
  ][] = [
    [
      'transaction markers or aborted records in the gap, nothing deleted',
      { expected: '10', first: '13', logStart: '0' },
      undefined,
    ],
    ['compaction left the gap; retention deleted older records only', { expected: '10', first: '25', logStart: '7' }, undefined],
    ['the log starts exactly where the engine reads next', { expected: '40', first: '45', logStart: '40' }, undefined],
    [
      'the client reset to the first record left',
      { expected: '10', first: '40', logStart: '40' },
      { position: '40', deleted: 30n },
    ],
    [
      'the deleted records held transaction markers (offsets count, as at a restore)',
      { expected: '10', first: '41', logStart: '41' },
      { position: '41', deleted: 31n },
    ],
    [
      'markers past the log start: resume at the log start, whose reading says so',
      { expected: '10', first: '43', logStart: '40' },
      { position: '40', deleted: 30n },
    ],
    [
      'the client reset to the log end: resume at the log start, not there',
      { expected: '10', first: '150', logStart: '40' },
      { position: '40', deleted: 30n },
    ],
    [
      'the log start moved on after the fetch: the batch was read in time',
      { expected: '10', first: '30', logStart: '50' },
      { position: '30', deleted: 20n },
    ],
    ['one record deleted', { expected: '0', first: '1', logStart: '1' }, { position: '1', deleted: 1n }],
    [
      'offsets past 2^53',
      { expected: '9007199254740993', first: '9007199254741000', logStart: '9007199254740995' },
      { position: '9007199254740995', deleted: 2n },
    ],
  ]
  for (const [name, at, expected] of cases) {
    void test(name, () => assert.deepEqual(deletedMidRun(at.expected, at.first, at.logStart), expected))
  }
})

void describe('the live engine, when records are deleted past its position while it runs', () => {
  const modes: [string, Reset, boolean][] = [
    ['the client resets to the first record left', 'earliest', false],
    ['the client resets to the log end', 'latest', false],
    ['the first batch after the reset comes twice', 'earliest', true],
  ]
  for (const [name, reset, repeat] of modes) {
    void test(`${name}: resumes at the first record left, counts the gap once, rows over exactly what is left`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-mid-run-'))
      const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
      try {
        const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
        const store = new LocalObjectStore(join(dir, 'warehouse'))
        const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
        await log.createTopic(purchases.topic, purchases.partitions)
        const retained = retainedLog(log, reset, repeat)
        const engine = createLiveEngine({
          log: retained.log,
          stateStore: store,
          offline: new IcebergOfflineSink(store),
          online: new EmbeddedOnlineStore(),
          deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
          decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
          views: [userPurchases],
          groupId: 'kfs-engine',
          clock: systemClock,
          logger: silentLogger,
          checkpointIntervalMs: 200,
          tickMs: 50,
        })
        const events = generatePurchases({ count: 2_000, users: 40, seed: 7 })
        const early = await produceEvents(log, purchases.topic, encoder, events.slice(0, 400))
        await engine.start()
        await waitFor(() => engine.stats.consumed >= early.length, 'the first records read')
        const reached = await engine.positions()
        // Behind: retention passes the engine's position before the next records reach it.
        const deleted = 250
        retained.deleteBefore(deleted)
        const late = await produceEvents(log, purchases.topic, encoder, events.slice(400, 1_900))
        // Reset to the end: the client waits there for the next record.
        if (reset === 'latest') {
          await waitFor(() => retained.resets.length >= purchases.partitions, 'every partition reset')
          late.push(...(await produceEvents(log, purchases.topic, encoder, events.slice(1_900))))
        }
        const ends = await log.endOffsets(purchases.topic)
        const expectGone = ends.reduce(
          (n, end, p) => n + Math.max(0, Math.min(deleted, Number(end)) - Number(reached[`${purchases.topic}/${p}`] ?? '0')),
          0,
        )
        const left = [...early, ...late].filter(
          (r) => Number(r.offset) < Number(reached[`${purchases.topic}/${r.partition}`] ?? '0') || Number(r.offset) >= deleted,
        )
        assert.ok(expectGone > 0 && left.length > early.length, 'the case has a gap and records after it')
        await waitFor(async () => {
          const at = await engine.positions()
          return ends.every((end, p) => at[`${purchases.topic}/${p}`] === end)
        }, 'every partition read to its end')
        await engine.checkpointAll()
        await engine.stop()
        assert.equal(engine.failure, undefined)
        assert.ok(
          retained.resets.length >= purchases.partitions,
          `the client was out of range on every partition (${retained.resets.join(', ')})`,
        )
        assert.equal(engine.stats.consumed, left.length, 'exactly the records left, each once')
        assert.deepEqual(engine.stats.deletedBeforeRead, { [purchases.topic]: expectGone }, 'the gap counted once')
        const expected = expectedRowsByEntity([userPurchases], purchases, left).get(userPurchases.name)!
        assertSameRows(await readFeatureRowsByEntity(store, userPurchases), expected, 'offline table')
      } finally {
        await log.close()
        await rm(dir, { recursive: true, force: true })
      }
    })
  }

  void test('a batch past the position with the log start not past it is no deletion: sought back, nothing counted, nothing lost', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-mid-run-'))
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    try {
      const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
      const store = new LocalObjectStore(join(dir, 'warehouse'))
      const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
      await log.createTopic(purchases.topic, purchases.partitions)
      // A client that skips the first 5 offsets of each partition's first batch; the log deleted nothing.
      const skipped = new Set<number>()
      const skipping: EventLog = new Proxy(log, {
        get(target, name, receiver) {
          if (name === 'consumer') {
            return (options: Parameters<EventLog['consumer']>[0]) => {
              const consumer = log.consumer(options)
              const run = (handlers: ConsumerHandlers) =>
                consumer.run({
                  ...handlers,
                  eachBatch: async (batch: LogBatch) => {
                    if (batch.topic !== purchases.topic || skipped.has(batch.partition) || batch.records.length <= 5)
                      return handlers.eachBatch(batch)
                    skipped.add(batch.partition)
                    return handlers.eachBatch({
                      ...batch,
                      records: batch.records.slice(5),
                      span: {
                        from: batch.records[5]!.offset,
                        next: batch.span?.next ?? String(Number(batch.records.at(-1)!.offset) + 1),
                      },
                    })
                  },
                })
              return Object.assign(Object.create(consumer) as typeof consumer, {
                run,
                seek: consumer.seek.bind(consumer),
                commit: consumer.commit.bind(consumer),
                stop: consumer.stop.bind(consumer),
              })
            }
          }
          const value: unknown = Reflect.get(target, name, receiver)
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
        },
      })
      const produced = await produceEvents(log, purchases.topic, encoder, generatePurchases({ count: 800, users: 30, seed: 8 }))
      const engine = createLiveEngine({
        log: skipping,
        stateStore: store,
        offline: new IcebergOfflineSink(store),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [userPurchases],
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })
      await engine.start()
      await waitFor(() => engine.isCaughtUp(100), 'caught up')
      await engine.checkpointAll()
      await engine.stop()
      assert.equal(skipped.size, purchases.partitions, 'every partition had a gap')
      assert.equal(engine.stats.consumed, produced.length)
      assert.deepEqual(engine.stats.deletedBeforeRead, {})
      const expected = expectedRowsByEntity([userPurchases], purchases, produced).get(userPurchases.name)!
      assertSameRows(await readFeatureRowsByEntity(store, userPurchases), expected, 'offline table')
    } finally {
      await log.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

void test('a re-key stage behind when records are deleted past its position: counts them once and re-keys exactly the records left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-mid-run-rekey-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const store = new LocalObjectStore(join(dir, 'warehouse'))
  const retained = retainedLog(log, 'earliest', false, clicks.topic)
  const engine = createLiveEngine({
    log: retained.log,
    stateStore: store,
    offline: new IcebergOfflineSink(store),
    online: new EmbeddedOnlineStore(),
    deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
    deadLetterTopic: 'kfs.dead-letters',
    decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
    views: [itemClicks],
    groupId: 'kfs-engine',
    clock: systemClock,
    logger: silentLogger,
    checkpointIntervalMs: 200,
    tickMs: 50,
  })
  const rekeyGroup = rekeyGroupId('kfs-engine', planRekeys([itemClicks])[0]!)
  let stopped = false
  try {
    await log.createTopic(clicks.topic, clicks.partitions)
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    const all = generateClicks({ count: 1_600, users: 20, items: 15, seed: 9 })
    const early = await produceClicks(log, clicks.topic, encoder, all.slice(0, 300), { garbageEvery: Infinity })
    await engine.start()
    await waitFor(() => engine.isCaughtUp(300), 'the first clicks re-keyed and consumed')
    const reached = (await log.endOffsets(clicks.topic)).map(Number)
    // Past every partition's position, short of its end once the next records are in.
    const bound = reached.map((at) => at + 40)
    retained.deleteBefore(bound)
    const late = await produceClicks(log, clicks.topic, encoder, all.slice(300), { garbageEvery: Infinity })
    const ends = (await log.endOffsets(clicks.topic)).map(Number)
    assert.ok(
      ends.every((end, p) => end > bound[p]!),
      `records after the gap in every partition (ends ${ends.join(',')})`,
    )
    const gone = 40 * bound.length
    const left = late.filter((r) => Number(r.offset) >= bound[r.partition]!)
    await waitFor(async () => {
      const at = (await log.committedOffsets(rekeyGroup, clicks.topic)).map(Number)
      return ends.every((end, p) => at[p] === end) && (await engine.isCaughtUp(300))
    }, 'the records left re-keyed and consumed')
    await engine.stop()
    stopped = true
    assert.equal(engine.failure, undefined)
    assert.ok(retained.resets.length > 0, 'the client was out of range')
    assert.deepEqual(engine.stats.deletedBeforeRead, { [clicks.topic]: gone }, 'the gap counted once, under the source topic')
    const keyable = [...early, ...left].filter((r) => r.event !== undefined && r.event.item_id !== '')
    const internal = await readInternalTopic(log, `kfs.${clicks.topic}.by-item`, 'check-item', keyable.length, 300)
    assertExactlyOnce(internal, keyable, (c: Click) => c.item_id, 'exactly the records left, each once')
  } finally {
    if (!stopped) await engine.stop().catch(() => undefined)
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
})
