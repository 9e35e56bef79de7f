/**
 * The live engine's watch on its topics' partition counts (engine/partition-watch.ts,
 * docs/semantics.md §10): every ask is answered by a lookup started after it (never by one already
 * under way, which may predate the growth), concurrent asks share lookups, a count other than the
 * declared one is refused with the topic, both counts and the way on, and a log that does not answer
 * is no refusal and is not waited for past the watch's patience — a hung lookup counts as failed
 * then (the next ask looks again), and its timer keeps no process alive. Then the engine wired to it, on the
 * embedded log: a topic that grows while it runs stops it before a checkpoint covering records read
 * after the growth is published, and an assignment holding a partition past the count is refused
 * before the partition is read. Before, the engine never looked: it went on (and a grown topic's
 * new partitions were read as soon as the consumer was given them).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock, type Clock } from '../../../core/clock.ts'
import { InvariantViolation, SourceError } from '../../../core/errors.ts'
import { silentLogger } from '../../../core/logger.ts'
import type { SourceDef } from '../../../features/types.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import { PartitionWatch } from '../../../engine/partition-watch.ts'
import { assignedPastDeclared, partitionCountRefused } from '../../../engine/source-partitions.ts'
import { rekeyedSource } from '../../../engine/plan-sources.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { item } from '../../../examples/features.ts'
import {
  assertSameRows,
  expectedRowsByEntity,
  generatePurchases,
  offlineRowsByEntity,
  produceEvents,
  waitFor,
} from '../../support/scenario.ts'
import { warningLogger } from '../../support/warning-logger.ts'

/** A log whose partition counts the test sets; a lookup answers the count as it was when asked, at once or when the test says. */
function countingLog(counts: Record<string, number>) {
  const pending: { topic: string; answer: () => void }[] = []
  let held = false
  let down: Error | undefined
  const log = {
    lookups: 0,
    pending,
    counts,
    hold: (on: boolean) => (held = on),
    fail: (err: Error | undefined) => (down = err),
    partitionCount(topic: string): Promise<number> {
      log.lookups++
      if (down !== undefined) return Promise.reject(down)
      const count = counts[topic]!
      if (!held) return Promise.resolve(count)
      return new Promise((resolve) => pending.push({ topic, answer: () => resolve(count) }))
    },
    answerAll() {
      for (const p of pending.splice(0)) p.answer()
    },
  }
  return log
}

const manualClock = (): Clock & { now: number } => {
  const clock = { now: 0, nowMs: () => clock.now, sleep: async () => undefined }
  return clock
}

const source = (topic: string, partitions: number): SourceDef => ({
  ...purchases,
  name: topic.replaceAll('-', '_'),
  topic,
  partitions,
})
const settle = () => new Promise((resolve) => setImmediate(resolve))

void describe('partition watch', () => {
  void test('each ask is answered by a lookup started after it: growth is refused at the next ask, with topic, counts and the way on', async () => {
    const log = countingLog({ a: 3, b: 2 })
    const watch = new PartitionWatch({
      log,
      sources: [source('a', 3), source('b', 2)],
      clock: manualClock(),
      logger: silentLogger,
    })
    await watch.require()
    assert.equal(log.lookups, 2, 'one lookup of each topic')
    log.counts.b = 5
    await assert.rejects(watch.require(), (err: unknown) => {
      assert.ok(err instanceof InvariantViolation, String(err))
      assert.match(
        err.message,
        /^topic b has 5 partitions, but source b declares 2: .*partitions were added while kfs ran, so events have moved: recreate the topic with 2 partitions/,
      )
      assert.deepEqual(err.context, { topic: 'b', source: 'b', declared: 2, actual: 5 })
      return true
    })
  })

  void test('a lookup under way when the topic grew does not answer a later ask; concurrent asks share lookups', async () => {
    const log = countingLog({ a: 3 })
    const watch = new PartitionWatch({ log, sources: [source('a', 3)], clock: manualClock(), logger: silentLogger })
    log.hold(true)
    const before = watch.require()
    await settle()
    assert.equal(log.pending.length, 1)
    log.counts.a = 4 // grown while the first lookup is under way: its answer predates the growth
    const settled = [watch.require(), watch.require(), watch.require()].map((p) =>
      p.then(
        () => 'ok',
        (err: unknown) => err,
      ),
    )
    log.answerAll()
    await before
    await settle()
    assert.equal(log.pending.length, 1, 'the three later asks share one new lookup')
    log.answerAll()
    for (const outcome of await Promise.all(settled)) assert.ok(outcome instanceof InvariantViolation, String(outcome))
    assert.equal(log.lookups, 2)
  })

  void test(
    'a log that does not answer is no refusal, and an ask does not wait past the patience for a lookup under way',
    { timeout: 10_000 },
    async () => {
      const log = countingLog({ a: 3 })
      const clock = manualClock()
      // The patience's timer wakes on the wall clock but the watch's clock decides: a short one keeps the test quick.
      const watch = new PartitionWatch({ log, sources: [source('a', 3)], clock, logger: silentLogger, patienceMs: 50 })
      log.fail(new SourceError('SOURCE_UNAVAILABLE', 'kafka partitionCount failed: broker down'))
      await watch.require()
      log.fail(undefined)
      log.hold(true)
      const waiting = watch.require()
      await settle()
      clock.now += 51
      await watch.require() // the lookup under way is past its patience: not waited for
      await waiting // nor by the ask that started it
      log.counts.a = 7
      log.answerAll()
      await settle()
      log.hold(false)
      await assert.rejects(watch.require(), /topic a has 7 partitions/)
    },
  )

  void test(
    'a lookup that hangs counts as failed once the clock says its patience is over: the asks on it pass, logged, and the next ask looks again',
    { timeout: 10_000 },
    async () => {
      const log = countingLog({ a: 4 }) // would be refused, were it answered
      const clock = manualClock()
      const logger = warningLogger()
      const watch = new PartitionWatch({ log, sources: [source('a', 3)], clock, logger, patienceMs: 50 })
      log.hold(true)
      const passed: string[] = []
      const first = watch.require().then(() => void passed.push('first'))
      await settle()
      const waiting = watch.require().then(() => void passed.push('waiting'))
      // Past the patience on the wall clock, not on the watch's: nothing passes yet.
      await new Promise((resolve) => setTimeout(resolve, 120))
      assert.deepEqual(passed, [], 'no ask passes before the clock says the patience is over')
      clock.now += 51
      await Promise.all([first, waiting])
      assert.equal(logger.warnings.length, 1, 'the hung lookup logged once')
      assert.deepEqual(logger.warnings[0], { patienceMs: 50 })
      // The hung lookup has not answered, yet the next ask looks again — and the log answers it now.
      log.hold(false)
      await assert.rejects(watch.require(), /topic a has 4 partitions/)
      assert.equal(log.lookups, 2)
      // The hung lookup's late answer changes nothing.
      log.answerAll()
      await settle()
      await assert.rejects(watch.require(), /topic a has 4 partitions/)
    },
  )

  void test("a hung lookup's patience timer does not keep the process alive", async () => {
    const log = countingLog({ a: 3 })
    const watch = new PartitionWatch({
      log,
      sources: [source('a', 3)],
      clock: manualClock(),
      logger: silentLogger,
      patienceMs: 3_600_000,
    })
    const liveTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const before = liveTimers()
    log.hold(true)
    const asked = watch.require()
    try {
      await settle()
      assert.equal(log.pending.length, 1, 'the lookup is under way, its patience timer set')
      assert.equal(liveTimers(), before, 'no timer holding the event loop')
    } finally {
      log.answerAll() // answered, the timer is cleared: a failing run does not hang for the patience
      await asked
    }
  })

  void test('fewer than declared, an internal topic, an assignment past the count: each refusal says what happened', async () => {
    assert.match(
      partitionCountRefused(source('a', 3), 2).message,
      /^topic a has 2 partitions, but source a declares 3: .*the topic was created with fewer: declare partitions: 2 in source a and kfs apply it \(new versions of its views\), or recreate the topic with 3 partitions$/,
    )
    assert.match(
      partitionCountRefused(source('a', 3), 6).message,
      /if it has had 6 partitions from its first event, declare partitions: 6 in source a .*; if partitions were added \(kafka-topics\.sh --alter\), events have moved/,
    )
    const internal = rekeyedSource(source('a', 3), item)
    assert.match(
      partitionCountRefused(internal, 4).message,
      /^internal topic kfs\.a\.by-item has 4 partitions, but kfs created it with 3 and never adds any/,
    )
    const log = countingLog({ a: 6 })
    const assigned = [0, 1, 2, 3, 4].map((partition) => ({ topic: 'a', partition }))
    assert.equal(await assignedPastDeclared(log, [source('a', 5)], assigned), undefined)
    assert.match(
      (await assignedPastDeclared(log, [source('a', 3)], assigned))?.message ?? '',
      /^topic a has 6 partitions, but source a declares 3: .*partitions were added while kfs ran/,
    )
    log.fail(new SourceError('SOURCE_UNAVAILABLE', 'down'))
    assert.match(
      (await assignedPastDeclared(log, [source('a', 3)], assigned))?.message ?? '',
      /^topic a has at least 5 partitions/,
    )
  })
})

/** `inner`, its partition counts as an operator's growth would show them from the moment `grow` is called. */
function growable(inner: EventLog): { log: EventLog; grow: (topic: string, to: number) => void } {
  const grown = new Map<string, number>()
  const log = new Proxy(inner, {
    get(target, name, receiver) {
      if (name === 'partitionCount') return async (topic: string) => grown.get(topic) ?? (await target.partitionCount(topic))
      const value: unknown = Reflect.get(target, name, receiver)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  return { log, grow: (topic, to) => grown.set(topic, to) }
}

async function engineOn(dir: string, log: EventLog, clock: Clock = systemClock) {
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const store = new LocalObjectStore(join(dir, 'warehouse'))
  const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
  const engine = createLiveEngine({
    log,
    stateStore: store,
    offline: new IcebergOfflineSink(store),
    online: new EmbeddedOnlineStore(),
    deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
    decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
    views: [userPurchases],
    groupId: 'kfs-engine',
    clock,
    logger: silentLogger,
    checkpointIntervalMs: 100,
    tickMs: 20,
  })
  return { engine, store, encoder }
}

void describe('the live engine over a topic that grows', () => {
  void test('grown while it runs: the next checkpoint is refused and the engine stops; the offline tables hold only rows of records read before', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-grown-'))
    const inner = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    // Stopped at the end whatever failed, so a failing test does not keep the process alive.
    let running: LiveEngine | undefined
    try {
      const { log, grow } = growable(inner)
      const { engine, store, encoder } = await engineOn(dir, log)
      running = engine
      await engine.start()
      const events = generatePurchases({ count: 1_200, users: 40, seed: 3 })
      const before = await produceEvents(log, purchases.topic, encoder, events.slice(0, 600))
      await waitFor(() => engine.stats.consumed >= before.length, 'the first records read')
      await engine.checkpointAll()
      grow(purchases.topic, 5)
      await produceEvents(log, purchases.topic, encoder, events.slice(600))
      await waitFor(() => engine.failure !== undefined, 'the engine stopped on the grown topic', 20_000)
      const failure = engine.failure
      assert.ok(failure instanceof InvariantViolation, String(failure))
      assert.match(
        failure.message,
        /^topic purchases has 5 partitions, but source purchases declares 3: .*partitions were added while kfs ran/,
      )
      running = undefined
      await assert.rejects(engine.stop(), /topic purchases has 5 partitions/)
      const expected = expectedRowsByEntity([userPurchases], purchases, before).get(userPurchases.name)!
      assertSameRows(
        await offlineRowsByEntity(store, userPurchases),
        expected,
        'offline rows: those of records read before the growth only',
      )
    } finally {
      await running?.stop().catch(() => undefined)
      await inner.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  void test('an assignment holding a partition past the declared count is refused before the partition is read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-grown-'))
    const inner = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    // Stopped at the end whatever failed, so a failing test does not keep the process alive.
    let running: LiveEngine | undefined
    try {
      // The topic has 4 partitions while lookups still say 3: a consumer given the new partition before the engine asked.
      await inner.createTopic(purchases.topic, 4)
      const { log, grow } = growable(inner)
      grow(purchases.topic, purchases.partitions)
      const { engine, encoder } = await engineOn(dir, log)
      running = engine
      await produceEvents(log, purchases.topic, encoder, generatePurchases({ count: 400, users: 40, seed: 5 }))
      await engine.start().catch(() => undefined)
      await waitFor(() => engine.failure !== undefined, 'the engine stopped on the grown topic', 20_000)
      const failure = engine.failure
      assert.ok(failure instanceof InvariantViolation, String(failure))
      assert.match(
        failure.message,
        /^topic purchases has 4 partitions, but source purchases declares 3: .*partitions were added while kfs ran/,
      )
      assert.deepEqual(await engine.positions(), {}, 'no partition of the assignment was restored')
      assert.equal(engine.stats.consumed, 0, 'no record read')
    } finally {
      await running?.stop().catch(() => undefined)
      await inner.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
