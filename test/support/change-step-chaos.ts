/**
 * Change views under the outside audit's faults (audit-chaos-faults.ts) with stale restores drawn
 * in (test/unit/engine/change-step-chaos.test.ts). The changes arrive in bursts, one per engine
 * generation (change-crash-chaos.ts's workload). Each generation but the last is armed with one
 * fault at a random call of a random store step: it fails once, lands with its answer lost, is an
 * outage past the retries, or the process dies right before or after the call — mid-checkpoint,
 * mid-delivery, mid-restore. A generation that neither died nor failed is then stopped (its stop's
 * own checkpoint maybe faulted too) or crashed at a random point. Before a generation starts, the
 * checkpoint directories may be put back as a backup taken before an earlier generation held them
 * (docs/semantics.md §14, "A checkpoint older than the tables"). The last generation runs clean to
 * the end.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock } from '../../core/clock.ts'
import { silentLogger, type Logger } from '../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import type { FeatureViewDef, SourceDef } from '../../features/types.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../adapters/object-store/index.ts'
import { createChangeJsonDecoder } from '../../schemas/change-json-decoder.ts'
import { orders } from '../fixtures/features/change-faults.ts'
import { FAULT_MODES, Switchboard, type Fault } from './audit-chaos-faults.ts'
import { backUp, restore, type Backup } from './checkpoint-backups.ts'
import type { ChaosCase } from './change-crash-chaos.ts'
import {
  DEAD_LETTER_TOPIC,
  ENGINE_VIEWS,
  produceChanges,
  readChangeOutcome,
  type ChangeOutcome,
} from './change-fault-workload.ts'
import { Freezer, frozenLog, frozenOnline, frozenStore, settling } from './crash-harness.ts'
import { unlockedStoreFiles } from './unlocked-store-files.ts'
import { waitFor } from './scenario.ts'

/** Every store write an engine makes on the embedded defaults: the first generation's steps to fault. */
export const STORE_STEPS = [
  'put data file',
  'put manifest',
  'put manifest list',
  'create table metadata',
  'put version hint',
  'put state base',
  'put state delta',
  'create checkpoint record',
  'online write',
  'online sync',
  'dead-letter produce',
  'progress commit',
] as const

/** Real time, retries without waiting: an outage past the retries fails an engine in milliseconds. */
const clock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }
const decoderFor = (source: SourceDef) => createChangeJsonDecoder({ rowSchema: source.changes!.rowSchema })

export interface StepChaosRun {
  readonly outcome: ChangeOutcome
  /** What was drawn, in order: faults armed, stops, crashes, restores. */
  readonly drawn: readonly string[]
  /** The steps a fault struck. */
  readonly struck: ReadonlySet<string>
  readonly restores: number
  /** Engines that failed with no outage struck: only an outage past the retries may fail one. */
  readonly failures: readonly string[]
}

/** What one engine generation runs on: the switchboard's faulted stores over these. */
export interface FaultedWorld {
  readonly board: Switchboard
  readonly log: EmbeddedEventLog
  readonly warehouse: string
  readonly onlinePath: string
  /** Store calls of dead processes still settling (crash-harness.ts `settling`). */
  readonly inFlight: Set<Promise<unknown>>
  readonly rand: () => number
}

export interface FaultedEngine {
  readonly engine: LiveEngine
  readonly freezer: Freezer
  readonly online: EmbeddedOnlineStore
  /** Whether a fault killed the process (its I/O frozen, the engine stopped unseen). */
  died(): boolean
}

/**
 * A live engine of `views` over `world`'s faulted stores, with a checkpoint cadence drawn from its
 * `rand`: a fault that kills the process freezes every store and log call and stops the engine.
 */
export async function faultedChangeEngine(
  world: FaultedWorld,
  views: readonly FeatureViewDef[],
  logger: Logger,
): Promise<FaultedEngine> {
  const { board, log, warehouse, onlinePath, inFlight, rand } = world
  const freezer = new Freezer()
  const online = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
  const store = frozenStore(board.store(settling(new LocalObjectStore(warehouse), inFlight)), freezer)
  const engineLog = frozenLog(board.log(log, DEAD_LETTER_TOPIC), freezer)
  const engine = createLiveEngine({
    log: engineLog,
    stateStore: store,
    offline: new IcebergOfflineSink(store, { clock }),
    online: frozenOnline(board.online(online), freezer),
    deadLetters: createDeadLetterTopicSink(engineLog, DEAD_LETTER_TOPIC),
    deadLetterTopic: DEAD_LETTER_TOPIC,
    decoderFor,
    views,
    groupId: 'kfs-engine',
    clock,
    logger,
    checkpointMaxRecords: 20 + Math.floor(rand() * 40),
    checkpointIntervalMs: 50 + Math.floor(rand() * 200),
    tickMs: 20,
  })
  let died = false
  board.onDie = () => {
    died = true
    void freezer.crash(() => void engine.stop().catch(() => undefined))
  }
  return { engine, freezer, online, died: () => died }
}

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!
}

export async function stepChaosRun(c: ChaosCase, restores: boolean): Promise<StepChaosRun> {
  const { rand, bursts, generations, where } = c
  const dir = await mkdtemp(join(tmpdir(), 'kfs-change-steps-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never', maxBatchRecords: 30 })
  const warehouse = join(dir, 'warehouse')
  const onlinePath = join(dir, 'online-store.json')
  const board = new Switchboard()
  const drawn: string[] = []
  const failures: string[] = []
  const backups: Backup[] = []
  let restored = 0
  const inFlight = new Set<Promise<unknown>>()
  let live: { engine: LiveEngine; freezer: Freezer } | undefined
  // The steps earlier generations took (a restore's reads among them), else every write step.
  const stepsSeen = (): readonly string[] => (board.steps.size > 0 ? [...board.steps].sort() : STORE_STEPS)
  try {
    await log.createTopic(orders.topic, orders.partitions)
    for (let g = 0; g <= generations; g++) {
      const last = g === generations
      await produceChanges(log, bursts[g]!)
      while (inFlight.size > 0) await Promise.all([...inFlight])
      backups[g] = await backUp(join(warehouse, 'checkpoints'))
      // A backup older than the tables: taken before an earlier generation ran, and holding a
      // checkpoint. The last generation restores one if none did: a run with restores checks one.
      const older = backups.slice(1, g).flatMap((b, i) => (b.size > 0 ? [i + 1] : []))
      if (restores && older.length > 0 && (rand() < 0.4 || (last && restored === 0))) {
        const from = pick(rand, older)
        const dirs = [...backups[from]!.keys()].sort()
        const chosen = rand() < 0.5 ? dirs : [pick(rand, dirs)]
        await restore(join(warehouse, 'checkpoints'), backups[from]!, chosen)
        restored++
        drawn.push(`gen ${g}: restored ${chosen.length === dirs.length ? 'every partition' : chosen[0]} as of gen ${from}`)
      }
      board.recount()
      // With restores, the first generation runs unfaulted and is stopped: its checkpoints are the first backup's.
      const plain = restores && g === 0
      const fault: Fault | undefined =
        last || plain
          ? undefined
          : { step: pick(rand, stepsSeen()), k: 1 + Math.floor(rand() * 4), mode: pick(rand, FAULT_MODES) }
      board.arm(fault)
      if (fault) drawn.push(`gen ${g}: ${fault.mode} at ${fault.step} #${fault.k}`)
      const running = await faultedChangeEngine({ board, log, warehouse, onlinePath, inFlight, rand }, ENGINE_VIEWS, silentLogger)
      const { engine, freezer, online } = running
      live = { engine, freezer }
      const started = await Promise.race([engine.start().then(() => true), freezer.frozen.then(() => false)]).catch(
        (err: unknown) => {
          drawn.push(`gen ${g}: start failed: ${String(err)}`)
          return false
        },
      )
      const stopAt = last ? Infinity : Math.floor(rand() * bursts[g]!.length * 2)
      if (started)
        await waitFor(
          async () =>
            running.died() ||
            engine.failure !== undefined ||
            (engine.stats.checkpoints >= 1 && engine.stats.consumed >= stopAt) ||
            (await Promise.race([engine.isCaughtUp(150), freezer.frozen.then(() => false)])),
          `${where}: generation ${g} ran [${drawn.join('; ')}]`,
        )
      const outage = board.struck.some((s) => s.startsWith('outage'))
      if (!running.died() && !outage && (!started || engine.failure !== undefined))
        failures.push(`gen ${g} [${board.struck.join(', ') || 'no fault'}]: ${String(engine.failure)}`)
      if (last) {
        assert.ok(
          started && !running.died() && engine.failure === undefined,
          `${where}: the last generation failed: ${String(engine.failure)}`,
        )
        await engine.stop()
        await online.close()
      } else if (!running.died()) {
        if (!plain && rand() < 0.5) {
          drawn.push(`gen ${g}: crashed`)
          await freezer.crash(() => void engine.stop().catch(() => undefined))
        } else {
          // The stop's own checkpoint faulted too, at times.
          const stopFault =
            !plain && rand() < 0.4 ? { step: pick(rand, stepsSeen()), k: 1, mode: pick(rand, FAULT_MODES) } : undefined
          board.arm(stopFault)
          if (stopFault) drawn.push(`gen ${g} stop: ${stopFault.mode} at ${stopFault.step}`)
          await Promise.race([engine.stop().catch(() => undefined), freezer.frozen])
          if (!freezer.isFrozen) await online.close()
        }
      }
      board.arm(undefined)
      live = undefined
    }
    const reopened = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
    const outcome = await readChangeOutcome(log, new LocalObjectStore(warehouse), reopened, `steps-${c.seed}`)
    await reopened.close()
    return { outcome, drawn, struck: board.everStruck, restores: restored, failures }
  } finally {
    if (live) await live.freezer.crash(() => void live!.engine.stop().catch(() => undefined))
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}
