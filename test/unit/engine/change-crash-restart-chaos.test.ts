/**
 * The crash/restart chaos loop (./crash-restart-chaos.test.ts, test/support/crash-harness.ts) over
 * change views: a Debezium changelog (test/support/change-fault-workload.ts) arrives in bursts
 * between engine generations, each generation is crashed (abandoned, its memory lost) or stopped
 * at a random point between checkpoints, and the next resumes — with an attribute view, a
 * current-state view keyed by the source key and one re-keyed by user (its re-key stage crashed
 * with the rest). The oracle is a clean run of the same changes: one engine, all of them at once,
 * no crash. Online rows (reopened from the file), offline rows, archives and dead letters must be
 * the clean run's (change-fault-workload.ts says why a clean run is comparable at all).
 * Seeded: a failure names its seed; KFS_TEST_SEED replays it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../../engine/live-engine.ts'
import type { SourceDef } from '../../../features/types.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { OnlineStore } from '../../../ports/online-store.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { createChangeJsonDecoder } from '../../../schemas/change-json-decoder.ts'
import { prng } from '../../../examples/generate-events.ts'
import { orders } from '../../fixtures/features/change-faults.ts'
import { Freezer, frozenLog, frozenOnline, frozenStore } from '../../support/crash-harness.ts'
import { unlockedStoreFiles } from '../../support/unlocked-store-files.ts'
import {
  DEAD_LETTER_TOPIC,
  ENGINE_VIEWS,
  assertOutcomeCoversWorkload,
  assertSameOutcome,
  generateChangeBursts,
  produceChanges,
  readChangeOutcome,
} from '../../support/change-fault-workload.ts'
import { waitFor } from '../../support/scenario.ts'

const decoderFor = (source: SourceDef) => createChangeJsonDecoder({ rowSchema: source.changes!.rowSchema })

function engineOn(
  log: TransactionalEventLog,
  store: ObjectStore,
  online: OnlineStore,
  checkpoint: { maxRecords: number; intervalMs: number },
): LiveEngine {
  return createLiveEngine({
    log,
    stateStore: store,
    offline: new IcebergOfflineSink(store),
    online,
    deadLetters: createDeadLetterTopicSink(log, DEAD_LETTER_TOPIC),
    deadLetterTopic: DEAD_LETTER_TOPIC,
    decoderFor,
    views: ENGINE_VIEWS,
    groupId: 'kfs-engine',
    clock: systemClock,
    logger: silentLogger,
    checkpointMaxRecords: checkpoint.maxRecords,
    checkpointIntervalMs: checkpoint.intervalMs,
    tickMs: 20,
  })
}

async function withLog<T>(label: string, run: (dir: string, log: EmbeddedEventLog) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `kfs-change-chaos-${label}-`))
  // Small fetches: a generation checkpoints several times before its random stop.
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never', maxBatchRecords: 30 })
  try {
    await log.createTopic(orders.topic, orders.partitions)
    return await run(dir, log)
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

async function runSeed(seed: number): Promise<void> {
  const where = `seed ${seed} (KFS_TEST_SEED=${seed} replays it)`
  const rand = prng(seed)
  const generations = 3 + Math.floor(rand() * 2)
  const bursts = generateChangeBursts(seed, generations + 1, 240)
  const all = bursts.flat()

  const clean = await withLog('clean', async (dir, log) => {
    await produceChanges(log as EventLog, all)
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const online = new EmbeddedOnlineStore()
    const engine = engineOn(log, store, online, { maxRecords: 100, intervalMs: 60_000 })
    await engine.start()
    await waitFor(() => engine.isCaughtUp(150), `${where}: clean run caught up`)
    await engine.stop()
    const outcome = await readChangeOutcome(log, store, online, `clean-${seed}`)
    assertOutcomeCoversWorkload(outcome, all)
    return outcome
  })

  await withLog('crashed', async (dir, log) => {
    const onlinePath = join(dir, 'online-store.json')
    let crashes = 0
    for (let g = 0; g <= generations; g++) {
      const last = g === generations
      await produceChanges(log, bursts[g]!)
      const freezer = new Freezer()
      // Each engine stands for a process that is killed: its store is left open, and its lock with it.
      const online = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
      const engineLog = frozenLog(log, freezer)
      const engine = engineOn(
        engineLog,
        frozenStore(new LocalObjectStore(join(dir, 'warehouse')), freezer),
        frozenOnline(online, freezer),
        {
          maxRecords: 20 + Math.floor(rand() * 40),
          intervalMs: 50 + Math.floor(rand() * 200),
        },
      )
      await engine.start()
      // Between checkpoints: after some of them and some records more (a re-key stage's records count too).
      const stopAt = last ? Infinity : Math.floor(rand() * bursts[g]!.length * 2)
      const checkpointsFirst = 1 + Math.floor(rand() * 3)
      const crash = !last && rand() < 0.7
      await waitFor(
        async () =>
          (engine.stats.checkpoints >= checkpointsFirst && engine.stats.consumed >= stopAt) || (await engine.isCaughtUp(150)),
        `${where}: generation ${g} ran`,
      )
      assert.equal(engine.failure, undefined, `${where}: generation ${g} failed: ${String(engine.failure)}`)
      if (process.env.KFS_TEST_DEBUG)
        console.log(
          `gen ${g}: ${crash ? 'crash' : 'stop'} after ${engine.stats.consumed} of ${all.length} records (stop at ${stopAt}), ${engine.stats.checkpoints} checkpoints`,
        )
      if (crash) {
        crashes++
        await freezer.crash(() => void engine.stop().catch(() => undefined))
      } else {
        await engine.stop()
        await online.close()
      }
    }
    assert.ok(crashes > 0, `${where}: no generation crashed (the case injected nothing)`)
    const reopened = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
    const outcome = await readChangeOutcome(log, new LocalObjectStore(join(dir, 'warehouse')), reopened, `crashed-${seed}`)
    await reopened.close()
    assertSameOutcome(outcome, clean, where)
  })
}

const BASE_SEED = Number(process.env.KFS_TEST_SEED ?? 7_300)
const SEEDS = process.env.KFS_TEST_SEED === undefined ? 4 : 1

for (let seed = BASE_SEED; seed < BASE_SEED + SEEDS; seed++) {
  void test(`change views, crash and stop at random points between checkpoints, seed ${seed}: online, offline, archive and dead letters equal a clean run's`, () =>
    runSeed(seed))
}
