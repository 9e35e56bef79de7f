/**
 * A source topic deleted and re-created that holds as many records as the checkpoints resume past,
 * or more (docs/semantics.md §17, "A topic re-created with more records"): the position alone
 * cannot tell, so each checkpoint names the last record before it and a restore reads that record
 * again. Another record there stops the engine with the partition and offset named; the same record
 * (same key, value and timestamp at the same offset) is the same log as far as anyone can tell; a
 * record gone (retention) skips the check, as does a checkpoint written before it existed, and a
 * partition whose check is pending is not caught up — nor waited for when retention leaves it
 * nothing to read. The check's own rules (compaction, a batch fetched before the seek) are in
 * resume-check.test.ts.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { InvariantViolation } from '../../../core/errors.ts'
import { silentLogger } from '../../../core/logger.ts'
import { userPurchases, purchases } from '../../../examples/features.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import type { LiveEngine } from '../../../engine/live-engine-contract.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import type { ConsumerHandlers, EventLog, LogConsumer } from '../../../ports/event-log.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { generatePurchases, waitFor, type Purchase } from '../../support/scenario.ts'

/** `events` produced with their event time as the record timestamp, or the time of the produce (`timestamps: 'now'`). */
async function produce(
  log: EventLog,
  encoder: Encoder,
  events: readonly Purchase[],
  timestamps: 'event' | 'now' = 'event',
): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const chunk = events.slice(i, i + 500)
    await log.produce(
      purchases.topic,
      chunk.map((e) => ({ key: e.user_id, value: encoder.encode(e), ...(timestamps === 'event' ? { timestampMs: e.ts } : {}) })),
    )
  }
}

/** Resolves with the engine's failure, or undefined once it is caught up without one (what the old code did). */
async function failureOrCaughtUp(engine: LiveEngine): Promise<Error | undefined> {
  let caughtUp = false
  const done = waitFor(async () => caughtUp || (await engine.isCaughtUp(300)), 'the engine caught up or failed').then(
    () => undefined,
  )
  const failed = engine.failed.then((err) => ((caughtUp = true), err))
  return Promise.race([failed, done])
}

/**
 * `log` with every partition's records before `deletedTo(partition)` gone, as retention leaves a
 * Kafka log: its start reports it, and a read from before it starts there (the client's reset).
 */
function withDeleted(
  log: EventLog,
  deletedTo: (partition: number) => number,
  startsAsked: (calls: number) => boolean = () => true,
): EventLog {
  let calls = 0
  const startOffsets = async (topic: string) => {
    calls++
    const starts = await log.startOffsets(topic)
    return topic === purchases.topic && startsAsked(calls)
      ? starts.map((s, p) => String(Math.max(Number(s), deletedTo(p))))
      : starts
  }
  const consumer = (options: Parameters<EventLog['consumer']>[0]): LogConsumer => {
    const inner = log.consumer(options)
    return {
      commit: (offsets) => inner.commit(offsets),
      seek: (position) => inner.seek(position),
      pause: (partitions) => inner.pause(partitions),
      resume: (partitions) => inner.resume(partitions),
      stop: () => inner.stop(),
      run: (handlers: ConsumerHandlers) =>
        inner.run({
          ...handlers,
          eachBatch: async (batch) => {
            const from = batch.topic === purchases.topic ? deletedTo(batch.partition) : 0
            const records = batch.records.filter((r) => Number(r.offset) >= from)
            if (records.length === batch.records.length) return handlers.eachBatch(batch)
            if (records.length === 0) return
            const next = batch.span?.next ?? String(Number(batch.records.at(-1)!.offset) + 1)
            return handlers.eachBatch({ ...batch, records, span: { from: records[0]!.offset, next } })
          },
        }),
    }
  }
  return new Proxy(log, {
    get(target, name, receiver) {
      if (name === 'startOffsets') return startOffsets
      if (name === 'consumer') return consumer
      const value: unknown = Reflect.get(target, name, receiver)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

async function setUp() {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-recreated-'))
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const store = new LocalObjectStore(join(dir, 'warehouse'))
  const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
  const engines: LiveEngine[] = []
  const engineOn = (log: EventLog) => {
    const engine = createLiveEngine({
      log,
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
    engines.push(engine)
    return engine
  }
  const logs: EmbeddedEventLog[] = []
  const newLog = async (name: string) => {
    const log = new EmbeddedEventLog({ dir: join(dir, name), fsync: 'never' })
    logs.push(log)
    await log.createTopic(purchases.topic, purchases.partitions)
    return log
  }
  /** One run over a log holding `events`, to its end: the positions its checkpoints resume at. */
  const firstRun = async (events: readonly Purchase[]) => {
    const log = await newLog('log')
    await produce(log, encoder, events)
    const engine = engineOn(log)
    await engine.start()
    await waitFor(() => engine.isCaughtUp(300), 'the first log consumed')
    const positions = await engine.positions()
    await engine.stop()
    assert.equal(engine.stats.consumed, events.length)
    return { log, positions }
  }
  // An engine a failed assertion left running is stopped too: its timers would hold the process.
  const close = async () => {
    for (const engine of engines) await engine.stop().catch(() => undefined)
    for (const log of logs) await log.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
  return { dir, encoder, engineOn, newLog, firstRun, close }
}

const events = generatePurchases({ count: 2_100, users: 40, seed: 7 })
const CHECKPOINT_OFFSET =
  /^purchases\/(\d+): its checkpoint resumes at offset (\d+) after the record at offset (\d+) \(CRC-32 \d+, timestamp -?\d+\), but /

/** The engine stopped on a re-created log, naming a partition, its checkpoint's position and the record before it. */
function assertRecreated(err: Error | undefined, positions: Record<string, string>, there: RegExp): void {
  assert.ok(err instanceof InvariantViolation, `the engine must stop, not read on (got ${String(err)})`)
  assert.equal(err.code, 'INVARIANT_VIOLATED')
  const [, partition, at, last] = CHECKPOINT_OFFSET.exec(err.message) ?? []
  assert.ok(partition !== undefined, err.message)
  assert.equal(at, positions[`${purchases.topic}/${partition}`], 'the checkpoint position named')
  assert.ok(BigInt(last!) < BigInt(at!), 'the last record lies before the position')
  assert.match(err.message, there)
  assert.match(err.message, /the topic was deleted and re-created/)
  assert.match(err.message, /start the views over on a new store \(docs\/semantics\.md §17\)/)
}

void describe('a source topic re-created with as many records as the checkpoints, or more', () => {
  void test('re-created longer (other records, more of them): the engine stops naming the partition and offset, instead of reading only past the old positions', async () => {
    const { encoder, engineOn, newLog, firstRun, close } = await setUp()
    try {
      const { positions } = await firstRun(events.slice(0, 600))
      const recreated = await newLog('log-recreated')
      await produce(recreated, encoder, generatePurchases({ count: 1_500, users: 40, seed: 8 }))
      const ends = await recreated.endOffsets(purchases.topic)
      ends.forEach((end, p) =>
        assert.ok(BigInt(end) > BigInt(positions[`${purchases.topic}/${p}`] ?? '0'), `partition ${p} longer than its checkpoint`),
      )
      const engine = engineOn(recreated)
      await engine.start()
      const err = await failureOrCaughtUp(engine)
      assertRecreated(err, positions, /the log holds another record there \(CRC-32 \d+, timestamp -?\d+\)/)
      await engine.stop().catch(() => undefined)
    } finally {
      await close()
    }
  })

  void test('re-created with exactly as many records (other amounts, same keys): the engine stops, though every partition ends at its checkpoint', async () => {
    const { encoder, engineOn, newLog, firstRun, close } = await setUp()
    try {
      const first = events.slice(0, 600)
      const { positions } = await firstRun(first)
      const recreated = await newLog('log-recreated')
      await produce(
        recreated,
        encoder,
        first.map((e) => ({ ...e, amount: e.amount + 1 })),
      )
      const ends = await recreated.endOffsets(purchases.topic)
      ends.forEach((end, p) =>
        assert.equal(end, positions[`${purchases.topic}/${p}`] ?? '0', `partition ${p} ends at its checkpoint`),
      )
      const engine = engineOn(recreated)
      await engine.start()
      assertRecreated(await failureOrCaughtUp(engine), positions, /the log holds another record there/)
      await engine.stop().catch(() => undefined)
    } finally {
      await close()
    }
  })

  void test('the same records re-produced with other timestamps: the engine stops; with the same timestamps the logs cannot be told apart, and it reads on past the old positions', async () => {
    const { encoder, engineOn, newLog, firstRun, close } = await setUp()
    try {
      const { positions } = await firstRun(events.slice(0, 600))
      const now = await newLog('log-now')
      await produce(now, encoder, events, 'now')
      const engine = engineOn(now)
      await engine.start()
      assertRecreated(await failureOrCaughtUp(engine), positions, /the log holds another record there/)
      await engine.stop().catch(() => undefined)

      // Same keys, values and timestamps at the same offsets: the same log as far as a reader can tell.
      const same = await newLog('log-same')
      await produce(same, encoder, events)
      const again = engineOn(same)
      await again.start()
      assert.equal(await failureOrCaughtUp(again), undefined)
      await again.stop()
      assert.equal(again.stats.consumed, events.length - 600, 'read on past the old positions: what an uninterrupted run reads')
    } finally {
      await close()
    }
  })

  void test('the same log grown: the check passes and the engine reads exactly the new records', async () => {
    const { encoder, engineOn, firstRun, close } = await setUp()
    try {
      const { log } = await firstRun(events.slice(0, 600))
      await produce(log, encoder, events.slice(600))
      const engine = engineOn(log)
      await engine.start()
      assert.equal(await failureOrCaughtUp(engine), undefined)
      const positions = await engine.positions()
      await engine.stop()
      assert.equal(engine.stats.consumed, events.length - 600)
      const ends = await log.endOffsets(purchases.topic)
      ends.forEach((end, p) => assert.equal(positions[`${purchases.topic}/${p}`], end, `partition ${p} read to its end`))
    } finally {
      await close()
    }
  })

  void test('retention deleted the last record before each checkpoint: nothing to check, the engine resumes at its positions', async () => {
    const { encoder, engineOn, firstRun, close } = await setUp()
    try {
      const { log, positions } = await firstRun(events.slice(0, 600))
      await produce(log, encoder, events.slice(600))
      const at = (p: number) => Number(positions[`${purchases.topic}/${p}`] ?? '0')
      const engine = engineOn(withDeleted(log, at))
      await engine.start()
      assert.equal(await failureOrCaughtUp(engine), undefined)
      await engine.stop()
      assert.equal(engine.stats.consumed, events.length - 600, 'exactly the records past the checkpoints')
      assert.deepEqual(engine.stats.deletedBeforeRead, {}, 'nothing unread was deleted')
    } finally {
      await close()
    }
  })

  void test('retention deletes everything left between the restore and its first read: the check is settled from the log start and the run is caught up, not held', async () => {
    const { engineOn, firstRun, close } = await setUp()
    try {
      const { log, positions } = await firstRun(events.slice(0, 600))
      // Each partition's restore reads the log's start before the deletion (one call each), every later read after it.
      const at = (p: number) => Number(positions[`${purchases.topic}/${p}`] ?? '0')
      const engine = engineOn(withDeleted(log, at, (calls) => calls > purchases.partitions))
      await engine.start()
      assert.equal(await failureOrCaughtUp(engine), undefined)
      await engine.stop()
      assert.equal(engine.stats.consumed, 0)
    } finally {
      await close()
    }
  })

  void test('a checkpoint written before the last record was named (the old format) restores and reads on past its position, as before', async () => {
    const { dir, encoder, engineOn, newLog, firstRun, close } = await setUp()
    try {
      const { positions } = await firstRun(events.slice(0, 600))
      let stripped = 0
      const root = join(dir, 'warehouse', 'checkpoints')
      for (const file of await readdir(root, { recursive: true })) {
        if (!/ckpt-\d+\.json$/.test(file)) continue
        const record = JSON.parse(await readFile(join(root, file), 'utf8')) as Record<string, unknown>
        if (record.lastRecord !== undefined) stripped++
        delete record.lastRecord
        await writeFile(join(root, file), JSON.stringify(record))
      }
      assert.ok(stripped > 0, 'the checkpoints named their last record')
      const recreated = await newLog('log-recreated')
      await produce(recreated, encoder, generatePurchases({ count: 1_500, users: 40, seed: 8 }))
      const ends = await recreated.endOffsets(purchases.topic)
      const engine = engineOn(recreated)
      await engine.start()
      assert.equal(await failureOrCaughtUp(engine), undefined)
      await engine.stop()
      const past = ends.reduce((n, end, p) => n + Number(end) - Number(positions[`${purchases.topic}/${p}`] ?? '0'), 0)
      assert.equal(
        engine.stats.consumed,
        past,
        'only the records past the old positions: the limit of a checkpoint with no fingerprint',
      )
    } finally {
      await close()
    }
  })
})
