/**
 * Records deleted by retention while the engine is idle (docs/semantics.md §17): every record of
 * a partition left unread is gone and nothing new arrives, so no batch comes to show the gap.
 * `isCaughtUp` (kfs run --until-caught-up) waited forever; now a partition with no record for
 * quietMs and short of its end reads the log's start once, and a start past its position is the
 * deletion: counted once, the slot moved to the start (and checkpointed there), caught up reached.
 * The rule (idleGapHandler) over every ordering of position, log start and end; then the engine
 * over the embedded log made to behave like a Kafka client whose position retention passed
 * (deleted-mid-run.test.ts's model).
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
import { idleGapHandler } from '../../../engine/batch-gap.ts'
import type { PartitionSlot } from '../../../engine/partition-slot.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, produceEvents, waitFor } from '../../support/scenario.ts'
import { retainedLog } from '../../support/retained-log.ts'

const QUIET_MS = 150

void describe('the live engine, when retention deleted what it had left to read and nothing new arrives', () => {
  // What retention deleted past the engine's position, per partition: everything produced after
  // it, or all but the last few records (which a client reset to the log's end never delivers).
  const deletions: [string, (reached: number, end: number) => number][] = [
    ['every record left', (_reached, end) => end],
    ['all but the last 5 records', (reached, end) => Math.max(reached, end - 5)],
  ]
  for (const [what, boundOf] of deletions) {
    void test(`${what}: caught up, the gap counted once, rows over exactly what is left`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-deleted-idle-'))
      const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
      const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
      const store = new LocalObjectStore(join(dir, 'warehouse'))
      const engineOn = (on: EventLog) =>
        createLiveEngine({
          log: on,
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
      try {
        const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
        await log.createTopic(purchases.topic, purchases.partitions)
        const retained = retainedLog(log, 'latest', false)
        const engine = engineOn(retained.log)
        const events = generatePurchases({ count: 1_600, users: 40, seed: 11 })
        const early = await produceEvents(log, purchases.topic, encoder, events.slice(0, 400))
        await engine.start()
        await waitFor(() => engine.isCaughtUp(QUIET_MS), 'the first records read')
        const reached = (await log.endOffsets(purchases.topic)).map(Number)
        // Retention passes the engine's position (its next fetch is out of range), then the
        // records it would read are deleted too: not one batch of them is ever delivered.
        retained.deleteBefore(reached.map((at) => at + 1_000_000))
        const late = await produceEvents(log, purchases.topic, encoder, events.slice(400, 1_000))
        const ends = (await log.endOffsets(purchases.topic)).map(Number)
        const bounds = ends.map((end, p) => boundOf(reached[p]!, end))
        await waitFor(() => retained.resets.length >= purchases.partitions, 'every partition out of range')
        retained.deleteBefore(bounds)
        const gone = bounds.reduce((n, bound, p) => n + bound - reached[p]!, 0)
        const left = late.filter((r) => Number(r.offset) >= bounds[r.partition]!)
        assert.ok(gone > 0, 'the case deletes records unread')

        await waitFor(() => engine.isCaughtUp(QUIET_MS), 'caught up with the records deleted')
        assert.deepEqual(engine.stats.deletedBeforeRead, { [purchases.topic]: gone }, 'the gap counted once')
        for (let i = 0; i < 3; i++) assert.equal(await engine.isCaughtUp(QUIET_MS), true)
        assert.deepEqual(engine.stats.deletedBeforeRead, { [purchases.topic]: gone }, 'and not again while idle')
        // Records produced after the gap are read as usual.
        const after = await produceEvents(log, purchases.topic, encoder, events.slice(1_000))
        await waitFor(
          async () => engine.stats.consumed >= early.length + left.length + after.length && (await engine.isCaughtUp(QUIET_MS)),
          'the new records read',
        )
        const positions = await engine.positions()
        const finalEnds = (await log.endOffsets(purchases.topic)).map(Number)
        assert.deepEqual(
          finalEnds.map((_, p) => positions[`${purchases.topic}/${p}`]),
          finalEnds.map(String),
        )
        await engine.checkpointAll()
        await engine.stop()
        assert.equal(engine.failure, undefined)
        assert.equal(engine.stats.consumed, early.length + left.length + after.length, 'exactly the records left, each once')
        assert.deepEqual(engine.stats.deletedBeforeRead, { [purchases.topic]: gone })
        const read = [...early, ...left, ...after]
        const expected = expectedRowsByEntity([userPurchases], purchases, read).get(userPurchases.name)!
        assertSameRows(await readFeatureRowsByEntity(store, userPurchases), expected, 'offline table')

        // The checkpoint holds the position past the gap: a restart counts nothing again.
        const restarted = engineOn(retained.log)
        await restarted.start()
        await waitFor(() => restarted.isCaughtUp(QUIET_MS), 'the restarted engine caught up')
        await restarted.stop()
        assert.equal(restarted.failure, undefined)
        assert.deepEqual(restarted.stats.deletedBeforeRead, {})
        assert.equal(restarted.stats.consumed, 0)
      } finally {
        await log.close()
        await rm(dir, { recursive: true, force: true })
      }
    })
  }
})

/** A slot as the handler sees it: its queue, position and skip (partition-slot.ts). */
function fakeSlot(nextOffset: bigint) {
  const slot = {
    topic: 't',
    partition: 2,
    nextOffset: nextOffset.toString(),
    run: <T>(fn: () => Promise<T>) => fn(),
    skipTo: (position: string) => {
      if (BigInt(position) > BigInt(slot.nextOffset)) slot.nextOffset = position
    },
  }
  return slot
}

void describe('idleGapHandler: a partition with no record for quietMs, at `position`, short of `end`; the log starts at `start`', () => {
  const cases: [string, { slotAt: bigint; position: bigint; end: bigint; start: bigint }, { now: bigint; deleted: number }][] = [
    [
      'nothing deleted: records left to read, not taken as deleted',
      { slotAt: 10n, position: 10n, end: 50n, start: 0n },
      { now: 10n, deleted: 0 },
    ],
    ['the log starts exactly at the position', { slotAt: 10n, position: 10n, end: 50n, start: 10n }, { now: 10n, deleted: 0 }],
    ['every record left deleted', { slotAt: 10n, position: 10n, end: 50n, start: 50n }, { now: 50n, deleted: 40 }],
    [
      'some records left deleted: resume at the first left',
      { slotAt: 10n, position: 10n, end: 50n, start: 45n },
      { now: 45n, deleted: 35 },
    ],
    [
      'read past markers: counted from where it read',
      { slotAt: 10n, position: 12n, end: 50n, start: 50n },
      { now: 50n, deleted: 38 },
    ],
    [
      'a batch moved the slot meanwhile: its gap was the batch’s',
      { slotAt: 30n, position: 10n, end: 50n, start: 50n },
      { now: 30n, deleted: 0 },
    ],
    [
      'offsets past 2^53',
      { slotAt: 9007199254740993n, position: 9007199254740993n, end: 9007199254741000n, start: 9007199254741000n },
      { now: 9007199254741000n, deleted: 7 },
    ],
  ]
  for (const [name, at, want] of cases) {
    void test(name, async () => {
      const seeks: string[] = []
      let asked = 0
      const stats = { deletedBeforeRead: {} as Record<string, number> }
      const handler = idleGapHandler({
        log: {
          startOffsets: async () => {
            asked++
            return ['0', '0', at.start.toString()]
          },
        },
        stats,
        logger: silentLogger,
        reads: (read) => read(),
        seek: (p, position) => seeks.push(`${p.stream}/${p.partition}@${position}`),
      })
      const slot = fakeSlot(at.slotAt)
      const now = await handler(slot as unknown as PartitionSlot, {
        position: at.position,
        end: at.end,
        nowMs: 1_000,
        quietMs: 100,
      })
      assert.equal(now, want.now)
      assert.equal(asked, at.slotAt > at.position ? 0 : 1, 'one read of the log start, none when a batch came')
      assert.deepEqual(stats.deletedBeforeRead, want.deleted > 0 ? { t: want.deleted } : {})
      assert.deepEqual(seeks, want.deleted > 0 ? [`t/2@${want.now}`] : [])
      assert.equal(slot.nextOffset, (want.deleted > 0 ? want.now : at.slotAt).toString())
      // Asked again within quietMs: no second read, nothing counted twice.
      await handler(slot as unknown as PartitionSlot, { position: now, end: at.end, nowMs: 1_050, quietMs: 100 })
      assert.equal(asked, at.slotAt > at.position ? 0 : 1)
      assert.deepEqual(stats.deletedBeforeRead, want.deleted > 0 ? { t: want.deleted } : {})
    })
  }

  void test('asked again after quietMs, the log start is read again (retention may have moved on since)', async () => {
    let start = '0'
    let asked = 0
    const stats = { deletedBeforeRead: {} as Record<string, number> }
    const handler = idleGapHandler({
      log: {
        startOffsets: async () => {
          asked++
          return ['0', '0', start]
        },
      },
      stats,
      logger: silentLogger,
      reads: (read) => read(),
      seek: () => {},
    })
    const slot = fakeSlot(10n) as unknown as PartitionSlot
    assert.equal(await handler(slot, { position: 10n, end: 50n, nowMs: 1_000, quietMs: 100 }), 10n)
    start = '50'
    assert.equal(await handler(slot, { position: 10n, end: 50n, nowMs: 1_100, quietMs: 100 }), 50n)
    assert.equal(asked, 2)
    assert.deepEqual(stats.deletedBeforeRead, { t: 40 })
  })
})
