/**
 * The checkpoint fault scenario (checkpoint-fault-scenario.ts: the same steps, fault kinds and
 * faulted sequence) over change views: a changelog source feeding an attribute view, a
 * current-state view keyed by the source key and one re-keyed by user (change-fault-workload.ts).
 * The oracle is a clean run of the same workload: after the faulted run and its recovery, offline
 * rows, online rows (one online store outlives both engines, as Redis does), archives and dead
 * letters must equal the clean run's, and replay must reproduce every view's live rows (parity).
 *
 * The store is the in-memory one: every fault is injected above the store (FaultyObjectStore), so
 * what these cases check — the engine's recovery of change views — does not depend on it, and the
 * local directory's and S3's own behaviour under the same faults has its own matrix
 * (test/unit/engine/checkpoint-faults.test.ts, test/integration/engine/checkpoint-faults-s3.test.ts).
 * On a directory a case spent ~40 % more CPU in file-system calls, 200 cases of it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import { consumedView, internalTopicName } from '../../engine/plan-sources.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { verifyParity } from '../../replay/verify-parity.ts'
import { createChangeJsonDecoder } from '../../schemas/change-json-decoder.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import type { SourceDef } from '../../features/types.ts'
import { orders, userOpen } from '../fixtures/features/change-faults.ts'
import { FaultyObjectStore } from './faulty-object-store.ts'
import { before, describe, test } from 'node:test'
import {
  assertFaultCase,
  CASES_AT_ONCE,
  fastRetryClock,
  faultCases,
  runFaultedEngines,
  type CheckpointStep,
  type EngineTuning,
  type FaultCaseResult,
  type FaultedCheckpoint,
  type FaultKind,
} from './checkpoint-fault-scenario.ts'
import {
  DEAD_LETTER_TOPIC,
  ENGINE_VIEWS,
  assertOutcomeCoversWorkload,
  assertSameOutcome,
  generateChangeBursts,
  produceChanges,
  readChangeOutcome,
  type ChangeOutcome,
} from './change-fault-workload.ts'
import { waitFor } from './scenario.ts'

const GROUP = 'kfs-engine'
/**
 * Small enough for 50 cases in a test file's budget, large enough for a dozen checkpoints; in two
 * bursts, the second produced once the first engine has caught up with the first (a live tail),
 * so that the internal topic's partitions, which take a backlog in a bundle or two, checkpoint
 * more than once before the stop.
 */
const BURSTS = generateChangeBursts(41, 2, 260, { onePartitionPerBurst: true })
const WORKLOAD = BURSTS.flat()

const decoderFor = (source: SourceDef) => createChangeJsonDecoder({ rowSchema: source.changes!.rowSchema })

interface Run {
  readonly dir: string
  readonly log: EmbeddedEventLog
  readonly online: EmbeddedOnlineStore
  readonly makeEngine: (s: ObjectStore, tuning?: EngineTuning) => LiveEngine
}

async function prepare(checkpointMaxRecords = 60): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-change-fault-'))
  // Small fetches: a partition checkpoints every few batches, not once per run.
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never', maxBatchRecords: 40 })
  await log.createTopic(orders.topic, orders.partitions)
  await produceChanges(log, BURSTS[0]!)
  const online = new EmbeddedOnlineStore()
  const makeEngine = (s: ObjectStore, tuning: EngineTuning = {}): LiveEngine =>
    createLiveEngine({
      log,
      stateStore: s,
      offline: new IcebergOfflineSink(s, { clock: fastRetryClock }),
      online,
      deadLetters: createDeadLetterTopicSink(log, DEAD_LETTER_TOPIC),
      deadLetterTopic: DEAD_LETTER_TOPIC,
      decoderFor,
      views: ENGINE_VIEWS,
      groupId: GROUP,
      clock: fastRetryClock,
      logger: silentLogger,
      checkpointMaxRecords,
      checkpointIntervalMs: 60_000,
      tickMs: 20,
      ...tuning,
    })
  return { dir, log, online, makeEngine }
}

async function finish(run: Run): Promise<void> {
  await run.log.close()
  await rm(run.dir, { recursive: true, force: true })
}

/** The clean run's outcome: one engine, no fault, to the end. */
export async function cleanChangeOutcome(): Promise<ChangeOutcome> {
  const run = await prepare()
  try {
    const store = new MemoryObjectStore()
    await produceChanges(run.log, BURSTS[1]!)
    const engine = run.makeEngine(store)
    await engine.start()
    await waitFor(() => engine.isCaughtUp(100), 'clean engine caught up')
    await engine.stop()
    const outcome = await readChangeOutcome(run.log, store, run.online, 'clean')
    assertOutcomeCoversWorkload(outcome, WORKLOAD)
    return outcome
  } finally {
    await finish(run)
  }
}

export interface ChangeFaultCaseResult extends FaultCaseResult {
  readonly outcome: ChangeOutcome
}

/**
 * Which writes of a step are faulted: any (the first partition to get there, mostly the source
 * topic's), or only the re-keyed view's — its internal topic's partitions, archive and feature
 * table —, whose partitions then checkpoint often (an internal record is a bundle of many changes).
 */
export type FaultTarget = 'any' | 're-keyed view'

export async function runChangeFaultCase(
  step: CheckpointStep,
  kind: FaultKind,
  target: FaultTarget = 'any',
  at: FaultedCheckpoint = 'a running checkpoint',
): Promise<ChangeFaultCaseResult> {
  const run = await prepare(target === 'any' ? 60 : 3)
  try {
    const store = new FaultyObjectStore(new MemoryObjectStore())
    // The internal partitions checkpoint only a few times (a bundle of many changes is one record):
    // their first write of the step is faulted.
    const only =
      target === 'any'
        ? undefined
        : {
            key: new RegExp(
              `${internalTopicName(orders.topic, userOpen.entity.name).replaceAll('.', '\\.')}|/${userOpen.name}_v`,
            ),
            skip: 0,
          }
    const result = await runFaultedEngines(store, run.makeEngine, step, kind, {
      ...(only === undefined ? {} : { only }),
      feeds: [() => produceChanges(run.log, BURSTS[1]!)],
      at,
    })
    const outcome = await readChangeOutcome(run.log, store, run.online, 'faulted')
    const offline = new IcebergOfflineSink(store)
    for (const view of ENGINE_VIEWS.map((v) => consumedView(v))) {
      const parity = await verifyParity({
        offline,
        decoder: decoderFor(view.source),
        view,
        groupId: GROUP,
        scratch: new MemoryObjectStore(),
      })
      assert.equal(
        parity.ok,
        true,
        `parity of ${view.name} after ${kind} fault at ${step}: ${JSON.stringify(parity.differences.slice(0, 2))}`,
      )
    }
    return { ...result, outcome }
  } finally {
    await finish(run)
  }
}

/**
 * The cases of one test file: every checkpoint step × fault kind on `target`, met by a running
 * checkpoint and by the stop's own, each asserting that its fault fired and failed the run (or the
 * stop) exactly when the step cannot absorb it, and that the outcome after recovery is the clean
 * run's (computed once per file).
 */
export function defineChangeFaultCases(target: FaultTarget): void {
  const on = target === 'any' ? 'any partition' : 'the re-keyed view'
  // On two busy cores running cases at once bought nothing here; kept for the run's idle stretches.
  void describe(`change views, checkpoint faults on ${on}`, { concurrency: CASES_AT_ONCE }, () => {
    let clean: ChangeOutcome | undefined
    before(async () => {
      clean = await cleanChangeOutcome()
    })
    for (const { at, step, kind } of faultCases()) {
      void test(`change views, checkpoint fault on ${on}, ${at}: ${kind} at ${step}`, async () => {
        const result = await runChangeFaultCase(step, kind, target, at)
        assertFaultCase(result, step, kind, at)
        assert.ok(clean !== undefined, 'the clean run finished')
        assertSameOutcome(result.outcome, clean, `${kind} at ${step}, ${at}`)
      })
    }
  })
}
