/**
 * One run of the outside audit's scenario (test/unit/engine/audit-chaos.test.ts) on the embedded
 * defaults — embedded log, embedded online store in its file, local tables — through the live
 * engine `kfs run` builds. Phases of records are produced in turn, each while no engine runs (a
 * backlog: the re-key stage merges a live tail in arrival order, docs/semantics.md §16, which no two
 * runs share); an engine runs each to its end, then the wall clock (the engine's, virtual) jumps past
 * the idle timeout, so every partition with a watermark gets one idle marker, every partition is
 * checkpointed and the engine stops. A chaotic run arms faults
 * (audit-chaos-faults.ts) while a phase runs: an engine that fails is stopped as `kfs run` stops or
 * is killed, one that dies at a call is abandoned with its memory (crash-harness.ts), and a new
 * engine resumes from the checkpoints and the online store's file. What the run leaves is read back
 * from disk in forms that do not depend on timing.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Clock } from '../../core/clock.ts'
import { silentLogger } from '../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import type { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../adapters/object-store/index.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { prng } from '../../examples/generate-events.ts'
import { Freezer, frozenLog, frozenOnline, frozenStore, settling } from './crash-harness.ts'
import { FAULT_MODES, Switchboard, type Fault } from './audit-chaos-faults.ts'
import { DEAD_LETTER_TOPIC, readOutcome, waitUntil, type RunOutcome } from './audit-chaos-outcome.ts'
import { PARTITIONS, TOPIC, VIEWS, type PlannedRecord } from './audit-chaos-workload.ts'
import { unlockedStoreFiles } from './unlocked-store-files.ts'

export { DEAD_LETTER_TOPIC }
const GROUP = 'kfs-engine'

/** The engine's wall clock: still while a phase runs, so idle markers fall only where the test moves it. */
export class VirtualClock implements Clock {
  now = Date.UTC(2026, 5, 1)
  nowMs(): number {
    return this.now
  }
  sleep(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve))
  }
}

export interface Chaos {
  readonly rand: () => number
  /** Steps to fault (the clean run's enumeration). */
  readonly steps: readonly string[]
  /** Every fault armed, for the failure message. */
  readonly armed: string[]
  /** Instead of random faults: these, armed once in the first engine (no kills, no redeliveries). */
  readonly fixed?: readonly Fault[]
  /** Instead of random faults: these, armed at the idle period's checkpoints of one phase only. */
  readonly idle?: { readonly phase: number; readonly faults: readonly Fault[] }
  /**
   * Runs before each engine of phase `phase` starts (`attempt` 0: the phase's first), no engine
   * running and every store call of the last one settled: what an operator does between two
   * processes (a backup of the store's files under `warehouse` taken, or restored).
   */
  readonly beforeStart?: (phase: number, attempt: number, warehouse: string) => Promise<void>
}

export interface Outcome extends RunOutcome {
  readonly steps: ReadonlySet<string>
  readonly restarts: number
  /** The steps a fault struck. */
  readonly struck: ReadonlySet<string>
  /** Engines that failed (not died), with the fault armed then: only an outage may fail one. */
  readonly failures: string[]
}

interface Generation {
  readonly engine: LiveEngine
  readonly freezer: Freezer
  readonly online: EmbeddedOnlineStore
  died: boolean
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const POLL_MS = 3

export async function runScenario(
  dir: string,
  registry: EmbeddedSchemaRegistry,
  phases: readonly PlannedRecord[][],
  gapsMs: readonly number[],
  chaos?: Chaos,
): Promise<Outcome> {
  const clock = new VirtualClock()
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  const onlinePath = join(dir, 'online.json')
  const board = new Switchboard()
  if (chaos && !chaos.fixed && !chaos.idle) {
    // Its own sequence: how many batches come depends on timing, the faults picked should not.
    const again = prng(Math.floor(chaos.rand() * 2 ** 31))
    board.redeliver = () => again() < 0.2
  }
  let restarts = 0
  const failures: string[] = []
  let generation: Generation | undefined
  const inFlight = new Set<Promise<unknown>>()
  try {
    await log.createTopic(TOPIC, PARTITIONS)
    const start = async (): Promise<Generation> => {
      const freezer = new Freezer()
      const online = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
      const store = frozenStore(board.store(settling(new LocalObjectStore(join(dir, 'warehouse')), inFlight)), freezer)
      const engineLog = frozenLog(board.log(log, DEAD_LETTER_TOPIC), freezer)
      const engine = createLiveEngine({
        log: engineLog,
        stateStore: store,
        offline: new IcebergOfflineSink(store),
        online: frozenOnline(board.online(online), freezer),
        deadLetters: createDeadLetterTopicSink(engineLog, DEAD_LETTER_TOPIC),
        deadLetterTopic: DEAD_LETTER_TOPIC,
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: VIEWS,
        groupId: GROUP,
        clock,
        logger: silentLogger,
        checkpointMaxRecords: chaos ? 4 + Math.floor(chaos.rand() * 30) : 1_000_000,
        checkpointIntervalMs: 1_000,
        tickMs: 5,
      })
      const g: Generation = { engine, freezer, online, died: false }
      board.onDie = () => {
        g.died = true
        void freezer.crash(() => void engine.stop().catch(() => undefined))
      }
      await engine.start()
      return g
    }
    const retire = async (g: Generation): Promise<void> => {
      restarts++
      if (!chaos?.fixed) board.arm(undefined)
      if (g.died) return
      if (chaos && chaos.rand() < 0.5) {
        await g.freezer.crash(() => void g.engine.stop().catch(() => undefined))
        return
      }
      // The stop's own checkpoints faulted too: a stop that fails leaves the next start to resume (§11).
      const stopFault = chaos && !chaos.fixed && !chaos.idle && chaos.rand() < 0.4 ? pickFault(chaos, false) : undefined
      if (stopFault) {
        board.arm(stopFault)
        chaos!.armed.push(`stop: ${stopFault.mode} at ${stopFault.step} #${stopFault.k}`)
      }
      await g.engine.stop().catch(() => undefined)
      board.arm(undefined)
      await g.online.close()
    }
    /** Runs the engine until every record so far is processed, replacing each engine that fails or dies. */
    const runToEnd = async (phase: number): Promise<LiveEngine> => {
      const what = `phase ${phase}`
      for (let attempt = 0; ; attempt++) {
        assert.ok(attempt < 40, `${what}: no engine reached the end in 40 attempts (${chaos?.armed.join('; ')})`)
        const g = (generation = await startArmed(phase, attempt))
        const end = await settle(g, what, armSome)
        if (end === 'caught up') {
          // A checkpoint still in flight may yet fail the engine: settled here, before the clock moves.
          if (!chaos?.fixed) board.arm(undefined)
          await Promise.race([g.engine.checkpointAll().catch(() => undefined), g.freezer.frozen])
          if (!g.died && g.engine.failure === undefined) return g.engine
        }
        // Only an outage past the retries may fail an engine (a passing fault is asked again).
        if (!g.died && !board.struck.some((f) => f.startsWith('outage')))
          failures.push(`${board.struck.join(', ') || 'no fault'}: ${String(g.engine.failure)}`)
        generation = undefined
        await retire(g)
      }
    }
    let fixedArmed = false
    const armSome = (): void => {
      if (chaos?.idle) return
      if (chaos?.fixed) {
        if (!fixedArmed) board.armAll(chaos.fixed)
        fixedArmed = true
        return
      }
      const fault = chaos && chaos.rand() < 0.85 ? pickFault(chaos) : undefined
      board.arm(fault)
      if (fault) chaos!.armed.push(`${fault.mode} at ${fault.step} #${board.calls.get(fault.step) ?? 0}+${fault.k}`)
    }
    const startArmed = async (phase: number, attempt: number): Promise<Generation> => {
      // A dead engine's calls already in flight land (or fail) before the next process starts.
      while (inFlight.size > 0) await Promise.all([...inFlight])
      await chaos?.beforeStart?.(phase, attempt, join(dir, 'warehouse'))
      board.recount()
      armSome()
      try {
        return await start()
      } catch (err: unknown) {
        // A start that a fault failed (a restore's reads beyond their retries): as `kfs run` exiting.
        board.arm(undefined)
        chaos?.armed.push(`start failed: ${String(err)}`)
        return start()
      }
    }

    for (let p = 0; p < phases.length; p++) {
      // Each phase is a backlog when the engine starts on it: the re-key stage's merge of a live tail
      // follows arrival order (docs/semantics.md §16), which no two runs share.
      const records = phases[p]!
      if (records.length > 0)
        await log.produce(
          TOPIC,
          records.map((r) => ({ key: 'k', partition: r.partition, timestampMs: r.timestampMs, value: r.value })),
        )
      const engine = await runToEnd(p)
      if (!chaos?.fixed) board.arm(undefined)
      // The idle period: every partition with a watermark gets one marker, then all are checkpointed.
      const before = await engine.watermarks()
      clock.now += gapsMs[p]!
      await waitUntil(async () => {
        const after = await engine.watermarks()
        return Object.entries(before).every(([k, wm]) => !Number.isFinite(wm) || (after[k] ?? wm) > wm)
      }, `phase ${p}: idle markers`)
      // The checkpoints that carry the markers, faulted too: one that fails must keep them for the
      // stop's own (docs/semantics.md §11) — a process kill here would lose them with the wall clock.
      const idleFault = chaos && !chaos.fixed && !chaos.idle && chaos.rand() < 0.5 ? pickFault(chaos, false) : undefined
      board.recount()
      board.armAll(chaos?.idle?.phase === p ? chaos.idle.faults : idleFault ? [idleFault] : [])
      if (idleFault) chaos!.armed.push(`idle: ${idleFault.mode} at ${idleFault.step} #${idleFault.k}`)
      const checkpointed = await engine.checkpointAll().then(
        () => undefined,
        (err: unknown) => err,
      )
      if (!chaos?.fixed) board.arm(undefined)
      if (!board.struck.some((f) => f.startsWith('outage'))) {
        assert.equal(checkpointed, undefined, `phase ${p}: a checkpoint of the idle period failed (${board.struck.join(', ')})`)
        assert.equal(
          engine.failure,
          undefined,
          `phase ${p}: the engine failed in the idle period (${board.struck.join(', ')}): ${String(engine.failure)}`,
        )
      }
      const g = generation!
      generation = undefined
      await g.engine.stop()
      await g.online.close()
    }
  } finally {
    if (generation) await generation.freezer.crash(() => void generation!.engine.stop().catch(() => undefined))
  }
  try {
    return { ...(await readOutcome(dir, log)), steps: board.steps, restarts, failures, struck: board.everStruck }
  } finally {
    await log.close()
  }

  async function settle(g: Generation, what: string, armSome: () => void): Promise<'caught up' | 'failed'> {
    // Or killed at no particular call: between any two steps, wherever the engine happens to be.
    const killAt = chaos && !chaos.fixed && !chaos.idle && chaos.rand() < 0.3 ? Math.floor(chaos.rand() * 30) : -1
    for (let i = 0; ; i++) {
      if (i === killAt && !g.died) {
        g.died = true
        chaos!.armed.push(`killed after ${i} polls`)
        await g.freezer.crash(() => void g.engine.stop().catch(() => undefined))
      }
      assert.ok(i < 6_000, `${what}: the engine neither failed nor caught up (${chaos?.armed.join('; ')})`)
      if (g.died || g.engine.failure !== undefined) return 'failed'
      // A passing fault that struck and was ridden out: the next one, a few times per engine.
      if (
        chaos &&
        !chaos.fixed &&
        !chaos.idle &&
        board.hit &&
        board.struck.length < 5 &&
        !board.struck.at(-1)!.startsWith('outage')
      )
        armSome()
      if (await Promise.race([g.engine.isCaughtUp(0), g.freezer.frozen.then(() => false)])) {
        if (!g.died && g.engine.failure === undefined) return 'caught up'
      }
      await sleep(POLL_MS)
    }
  }
}

function pickFault(chaos: Chaos, dying = true): Fault {
  const r = chaos.rand
  const modes = dying ? FAULT_MODES : FAULT_MODES.filter((m) => !m.startsWith('dies'))
  return {
    step: chaos.steps[Math.floor(r() * chaos.steps.length)]!,
    k: 1 + Math.floor(r() * 6),
    mode: modes[Math.floor(r() * modes.length)]!,
  }
}
