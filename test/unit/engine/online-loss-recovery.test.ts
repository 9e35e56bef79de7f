/**
 * The live engine notices that its online store lost rows and makes them complete again by itself
 * (engine/online-loss-watch.ts): after every kind of loss, and at every step it can happen at,
 * every entity's online row equals the one the same run holds without a loss (the reference
 * model's latest row, which embedded-end-to-end.test.ts shows a loss-free run holds).
 *
 * The store is an in-memory stand-in that forgets on cue (test/support/forgetful-online-store.ts).
 * Before the watch, the engine went on writing new rows only: every entity with no event after
 * the loss read MISSING, and each case below failed on its first entity.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { ForgetfulOnlineStore } from '../../support/forgetful-online-store.ts'
import {
  assertOnlineHoldsLastRows,
  expectedRowsByEntity,
  generatePurchases,
  produceEvents,
  waitFor,
  type ProducedRecord,
} from '../../support/scenario.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const view = userPurchases
const source = purchases
const generated = generatePurchases({ count: 2_400, users: 80, seed: 41 })
/** Every user has events before MID; after it only every third user has (the others' rows must come back by the reload). */
const MID = 1_200
const events = [...generated.slice(0, MID), ...generated.slice(MID).filter((e) => Number(e.user_id.slice(1)) % 3 === 0)]
const END = events.length

interface Run {
  readonly engine: LiveEngine
  readonly online: ForgetfulOnlineStore
  /** Produces events [from, to) and waits until the engine consumed them. */
  produce(from: number, to: number): Promise<void>
  /** Waits until the engine saw `losses` losses in all and no reload runs. */
  recovered(losses: number): Promise<void>
  /** Calls `lose` once, in the next reload, when it has read a view's offline rows (before it writes them). */
  duringReload(lose: () => void): void
}

const lossesOf = (engine: LiveEngine): number => Object.values(engine.stats.onlineLosses ?? {}).reduce((a, b) => a + b, 0)

/** Runs the engine over the events, with `during` losing rows somewhere; then asserts every entity's online row. */
async function withLoss(
  checkpoint: { maxRecords: number; intervalMs: number },
  during: (run: Run) => Promise<void>,
): Promise<LiveEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-online-loss-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new MemoryObjectStore()
    const offline = new IcebergOfflineSink(store)
    const online = new ForgetfulOnlineStore()
    await log.createTopic(source.topic, source.partitions)
    const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
    let duringReload: (() => void) | undefined
    const engine = createLiveEngine({
      log,
      stateStore: store,
      offline,
      offlineRows: {
        async readLatestFeatureRows(v, o) {
          const rows = await offline.readLatestFeatureRows(v, o)
          const hook = duringReload
          duringReload = undefined
          hook?.()
          return rows
        },
      },
      online,
      deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
      decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
      views: [view],
      groupId: 'kfs-engine',
      clock: systemClock,
      logger: silentLogger,
      checkpointMaxRecords: checkpoint.maxRecords,
      checkpointIntervalMs: checkpoint.intervalMs,
      onlineCheckIntervalMs: 30,
      tickMs: 20,
    })
    const produced: ProducedRecord[] = []
    await engine.start()
    const run: Run = {
      engine,
      online,
      duringReload(lose) {
        duringReload = lose
      },
      async produce(from, to) {
        produced.push(...(await produceEvents(log, source.topic, encoder, events.slice(from, to))))
        await waitFor(() => engine.stats.consumed >= produced.length, `${produced.length} records consumed`)
      },
      async recovered(losses) {
        // Bounded, and not an assertion: the rows compared below are what fails when nothing recovered.
        await waitFor(
          () => lossesOf(engine) >= losses && !engine.stats.onlineReloading,
          `${losses} losses recovered`,
          20_000,
        ).catch(() => undefined)
      },
    }
    await during(run)
    await engine.stop()
    assert.equal(engine.failure, undefined)
    await assertOnlineHoldsLastRows(online, view, expectedRowsByEntity([view], source, produced).get(view.name)!)
    return engine
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const OFTEN = { maxRecords: 300, intervalMs: 100 }

void describe('the live engine reloads the online rows its store lost', () => {
  void test('lost before the first checkpoint: the rows only the store had come back from the checkpoint the reload takes', async () => {
    const engine = await withLoss({ maxRecords: 1_000_000, intervalMs: 3_600_000 }, async (run) => {
      await run.produce(0, MID)
      assert.equal(run.engine.stats.checkpoints, 0)
      run.online.forget('flush')
      await run.recovered(1)
      await run.produce(MID, END)
    })
    assert.equal(engine.stats.onlineLosses.marker_missing, 1)
    assert.ok(engine.stats.onlineReloadedRows > 0)
  })

  void test('lost between checkpoints, with more events after it', async () => {
    await withLoss(OFTEN, async (run) => {
      await run.produce(0, MID)
      await waitFor(() => run.engine.stats.checkpoints >= 2, 'two checkpoints')
      run.online.forget('flush')
      await run.produce(MID, MID + 150)
      await run.recovered(1)
      await run.produce(MID + 150, END)
    })
  })

  void test("lost during a checkpoint's online sync (the rows that checkpoint counts as landed)", async () => {
    await withLoss(OFTEN, async (run) => {
      let syncs = 0
      run.online.beforeSync = () => {
        if (++syncs === 2) run.online.forget('flush')
      }
      await run.produce(0, MID)
      await waitFor(() => syncs >= 2, 'two syncs')
      await run.recovered(1)
      await run.produce(MID, END)
    })
  })

  void test('lost again during the reload itself: the reload notices and runs again', async () => {
    const engine = await withLoss(OFTEN, async (run) => {
      await run.produce(0, MID)
      // The store is emptied again once the reload has marked the marker, checkpointed and read the table.
      run.duringReload(() => run.online.forget('flush'))
      run.online.forget('flush')
      await run.produce(MID, MID + 150)
      await run.recovered(2)
      await run.produce(MID + 150, END)
    })
    assert.deepEqual(engine.stats.onlineLosses, { marker_missing: 1, lost_during_reload: 1 })
  })

  void test('lost twice in a row: a flush, then a restart with a new server identity', async () => {
    await withLoss(OFTEN, async (run) => {
      await run.produce(0, MID)
      run.online.forget('flush')
      await run.recovered(1)
      run.online.forget('restart')
      await run.recovered(2)
      await run.produce(MID, END)
    })
  })

  void test('partly lost: keys evicted while the marker stayed, told by the eviction count', async () => {
    const engine = await withLoss(OFTEN, async (run) => {
      await run.produce(0, MID)
      assert.ok(run.online.evict(2) > 10)
      await run.recovered(1)
      await run.produce(MID, END)
    })
    assert.equal(engine.stats.onlineLosses.keys_evicted, 1)
  })
})
