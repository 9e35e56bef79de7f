/**
 * The crash/restart chaos loop over change views (test/unit/engine/change-crash-restart-chaos.test.ts
 * and its partial-images twin): the engine, a clean run, and a run whose generations are crashed
 * (abandoned, memory lost: crash-harness.ts) or stopped at random points between checkpoints, the
 * re-key stage with the rest, each generation resuming from what the last left.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../core/clock.ts'
import { silentLogger } from '../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import type { SourceDef } from '../../features/types.ts'
import type { EventLog } from '../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { OnlineStore } from '../../ports/online-store.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../adapters/object-store/index.ts'
import { createChangeJsonDecoder } from '../../schemas/change-json-decoder.ts'
import { prng } from '../../examples/generate-events.ts'
import { orders } from '../fixtures/features/change-faults.ts'
import { Freezer, frozenLog, frozenOnline, frozenStore } from './crash-harness.ts'
import { unlockedStoreFiles } from './unlocked-store-files.ts'
import {
  DEAD_LETTER_TOPIC,
  ENGINE_VIEWS,
  assertOutcomeCoversWorkload,
  generateChangeBursts,
  poisonKindsFor,
  produceChanges,
  readChangeOutcome,
  type BurstOptions,
  type ChangeOutcome,
  type ChangeRecord,
} from './change-fault-workload.ts'
import { waitFor } from './scenario.ts'

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

/** One seed's case: the changes in bursts (one a generation, one more for the last) and the random draws of its stops. */
export interface ChaosCase {
  readonly seed: number
  /** Names the seed and how to replay it, for assertion messages. */
  readonly where: string
  readonly rand: () => number
  readonly generations: number
  readonly bursts: readonly ChangeRecord[][]
  /** The poison kinds the bursts hold. */
  readonly poisonKinds: readonly string[]
}

export const PER_BURST = 240

export function chaosCase(seed: number, options: BurstOptions = {}): ChaosCase {
  const rand = prng(seed)
  const generations = 3 + Math.floor(rand() * 2)
  const bursts = generateChangeBursts(seed, generations + 1, PER_BURST, options)
  const poisonKinds = poisonKindsFor(options.poisonsFor ?? options.images ?? 'full')
  return { seed, where: `seed ${seed} (KFS_TEST_SEED=${seed} replays it)`, rand, generations, bursts, poisonKinds }
}

/** One engine, every change at once, no crash: the oracle. */
export function cleanChangeRun(c: ChaosCase, label: string): Promise<ChangeOutcome> {
  const records = c.bursts.flat()
  return withLog('clean', async (dir, log) => {
    await produceChanges(log as EventLog, records)
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const online = new EmbeddedOnlineStore()
    const engine = engineOn(log, store, online, { maxRecords: 100, intervalMs: 60_000 })
    await engine.start()
    await waitFor(() => engine.isCaughtUp(150), `${c.where}: clean run caught up`)
    await engine.stop()
    const outcome = await readChangeOutcome(log, store, online, label)
    assertOutcomeCoversWorkload(outcome, records, c.poisonKinds)
    return outcome
  })
}

/** A burst a generation, each generation but the last crashed or stopped at a random point between checkpoints. */
export function crashedChangeRun(c: ChaosCase): Promise<ChangeOutcome> {
  const { rand, where, bursts, generations } = c
  const total = bursts.reduce((n, b) => n + b.length, 0)
  return withLog('crashed', async (dir, log) => {
    const onlinePath = join(dir, 'online-store.json')
    let crashes = 0
    for (let g = 0; g <= generations; g++) {
      const last = g === generations
      await produceChanges(log, bursts[g]!)
      const freezer = new Freezer()
      // Each engine stands for a process that is killed: its store is left open, and its lock with it.
      const online = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
      const engine = engineOn(
        frozenLog(log, freezer),
        frozenStore(new LocalObjectStore(join(dir, 'warehouse')), freezer),
        frozenOnline(online, freezer, { inProcess: true }),
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
          `gen ${g}: ${crash ? 'crash' : 'stop'} after ${engine.stats.consumed} of ${total} records (stop at ${stopAt}), ${engine.stats.checkpoints} checkpoints`,
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
    const outcome = await readChangeOutcome(log, new LocalObjectStore(join(dir, 'warehouse')), reopened, `crashed-${c.seed}`)
    await reopened.close()
    return outcome
  })
}
