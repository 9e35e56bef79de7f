/**
 * The checkpoint fault-injection scenario (issue: a failed checkpoint must never lose data): one
 * engine runs over a store with one armed fault — a step of some checkpoint fails, transiently,
 * for longer than the step's retries, or after the write happened — then is stopped the way
 * `kfs run` stops it (its own final checkpoint, which may succeed); a second engine, on a healthy
 * store, resumes from whatever was published and runs to the end. Whatever happened, the offline
 * table must equal the reference model's rows, the archive must hold every offset exactly once,
 * and replay must reproduce the live rows (parity).
 *
 * The fault meets either a checkpoint taken while the engine runs (which fails the engine) or the
 * stop's own final checkpoint, whose failure must make `stop()` reject — it used to be only
 * logged, and `kfs run` then exited 0 as after a clean stop (FAULTED_CHECKPOINTS).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { Clock } from '../../core/clock.ts'
import { silentLogger } from '../../core/logger.ts'
import { purchases, userPurchases } from '../../examples/features.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { CheckpointError } from '../../core/errors.ts'
import type { ChainPolicy } from '../../engine/state-chain.ts'
import { verifyParity } from '../../replay/verify-parity.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { FaultyObjectStore, type Fault } from './faulty-object-store.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, produceEvents, waitFor, type ProducedRecord } from './scenario.ts'
import type { FeatureRow, FeatureViewDef, SourceDef } from '../../features/types.ts'

/** How a step's writes are told apart, which faults it absorbs, and what its cases set. */
type StepFault = Pick<Fault, 'operation' | 'key'> & {
  readonly absorbs: readonly Fault['when'][]
  /** The chain policy of every engine of the step's cases (default: state-chain.ts's). */
  readonly chainPolicy?: ChainPolicy
  /** Writes let through before a running checkpoint's is faulted (default 3). */
  readonly skip?: number
}

/** Every checkpoint writes a full operator-state base (the base step's writes are then one per checkpoint). */
const BASES_ONLY: ChainPolicy = { maxDeltas: 0, maxDeltaBytesFraction: 0 }
/** Every checkpoint after a partition's first writes a delta (the delta step's writes likewise). */
const DELTAS_AFTER_THE_FIRST_BASE: ChainPolicy = { maxDeltas: Number.MAX_SAFE_INTEGER, maxDeltaBytesFraction: Infinity }

/**
 * One kind of write per checkpoint step (partition-slot.ts: stage, state base or delta, publish, commit, prune),
 * and which faults the step absorbs without failing the checkpoint: the version hint and pruning
 * are best effort, and a table commit whose answer was lost finds its snapshot on the retry. The
 * two state steps pin the chain policy, so that every checkpoint — the stop's own included — writes
 * the kind of state the step faults.
 */
export const CHECKPOINT_STEPS = {
  'stage feature rows': { operation: 'put', key: /warehouse\/features\/.*\.parquet$/, absorbs: [] },
  'stage archive rows': { operation: 'put', key: /warehouse\/archive\/.*\.parquet$/, absorbs: [] },
  'write operator state: base': { operation: 'put', key: /\/state-\d+-[^/]*\.bin$/, absorbs: [], chainPolicy: BASES_ONLY },
  // A partition's first checkpoint writes a base: here three deltas are written before the stop,
  // and the fourth would be the stop's own (covered as such, FAULTED_CHECKPOINTS); the second is a running one's.
  'write operator state: delta': {
    operation: 'put',
    key: /\/delta-\d+-[^/]*\.bin$/,
    absorbs: [],
    chainPolicy: DELTAS_AFTER_THE_FIRST_BASE,
    skip: 1,
  },
  'publish checkpoint record': { operation: 'putIfAbsent', key: /\/ckpt-\d+\.json$/, absorbs: [] },
  'commit: manifest': { operation: 'put', key: /\/metadata\/[^/]*-m0\.avro$/, absorbs: [] },
  'commit: manifest list': { operation: 'put', key: /\/metadata\/snap-[^/]*\.avro$/, absorbs: [] },
  'commit: table metadata': { operation: 'putIfAbsent', key: /\/metadata\/v\d+\.metadata\.json$/, absorbs: ['after'] },
  'commit: version hint': { operation: 'put', key: /\/metadata\/version-hint\.text$/, absorbs: ['before', 'after'] },
  'prune old checkpoints': { operation: 'delete', key: /\/(ckpt|state|delta)-\d+/, absorbs: ['before', 'after'] },
} as const satisfies Record<string, StepFault>

/**
 * Which checkpoint the fault meets. A running one (the step's first `skip` writes go through —
 * three unless the step or `only` says otherwise — and the next is faulted): a checkpoint that
 * cannot be made fails the engine. The stop's own: the engine ran healthy, the
 * fault is armed once it has caught up, and the stop's final checkpoint — the first the faulted
 * engine takes — meets it; one that cannot be made must make stop() reject.
 */
export const FAULTED_CHECKPOINTS = ['a running checkpoint', "the stop's own checkpoint"] as const

export type FaultedCheckpoint = (typeof FAULTED_CHECKPOINTS)[number]

/** What a scenario may set per engine it builds (`makeEngine`). */
export interface EngineTuning {
  readonly chainPolicy?: ChainPolicy
  readonly checkpointMaxRecords?: number
}

/** Whether the fault must make a checkpoint fail (and so the engine, or its stop). */
export function faultFailsCheckpoint(step: CheckpointStep, kind: FaultKind): boolean {
  const { heal, when } = FAULT_KINDS[kind]
  return heal !== 'by retries' && !(CHECKPOINT_STEPS[step].absorbs as readonly string[]).includes(when)
}

export type CheckpointStep = keyof typeof CHECKPOINT_STEPS

/**
 * What every case asserts of its faulted run: the fault fired — at the checkpoint the case says —
 * and failed the run exactly when the step cannot absorb it; at the stop, by stop() rejecting with
 * an error that names the failed partitions and says where the next start resumes.
 */
export function assertFaultCase(
  result: FaultCaseResult,
  step: CheckpointStep,
  kind: FaultKind,
  at: FaultedCheckpoint = 'a running checkpoint',
): void {
  assert.ok(result.injected > 0, 'the fault fired (a case that injected nothing checked nothing)')
  const fails = faultFailsCheckpoint(step, kind)
  if (at === 'a running checkpoint') {
    // The engine, not only its stop: the fault met a checkpoint taken while it ran (one still in
    // flight when the stop began included), not only the stop's own.
    const why = fails ? 'a running checkpoint that cannot be made fails the engine' : 'a fault the step absorbs failed the engine'
    assert.equal(result.firstEngineFailed, fails, why)
    return
  }
  assert.equal(result.firstEngineFailed, false, 'the engine ran healthy until its stop')
  const why = fails ? 'a stop whose final checkpoint cannot be made rejects' : 'a fault the step absorbs failed the stop'
  assert.equal(result.firstStopFailed, fails, why)
  if (fails) assertStopError(result.firstStopError)
}

/** The error of a stop whose final checkpoint failed: kfs's own, one line, naming partitions and the way back. */
export function assertStopError(err: unknown): void {
  assert.ok(err instanceof CheckpointError, `stop rejected with kfs's checkpoint error, not ${String(err)}`)
  assert.equal(err.code, 'CHECKPOINT_FAILED')
  assert.match(err.message, /the checkpoint of [^ ]+\/\d+(, [^ ]+\/\d+)* failed/, 'names the partitions whose checkpoint failed')
  assert.match(err.message, /Nothing is lost: the next start resumes from the last checkpoint that was published/)
  assert.doesNotMatch(err.message, /\n/, 'one line')
}

/**
 * How a fault behaves: healed by the step's retries; outlasting them (retries nest — a sink's own
 * inside the checkpoint's — so "outlasting" means until healed) and healed as soon as the engine
 * has failed, so the stop's own checkpoint succeeds (the sequence that used to publish past the
 * failed cut); or healed only after the stop, so the next process resumes; each with the write
 * not made, or made and its answer lost.
 */
export const FAULT_KINDS = {
  transient: { when: 'before', times: 2, heal: 'by retries' },
  'outlasts retries, healed before the stop': { when: 'before', times: Infinity, heal: 'before stop' },
  'outlasts retries, healed after the stop': { when: 'before', times: Infinity, heal: 'after stop' },
  'lost answer, healed before the stop': { when: 'after', times: Infinity, heal: 'before stop' },
  'lost answer, healed after the stop': { when: 'after', times: Infinity, heal: 'after stop' },
} as const satisfies Record<string, Pick<Fault, 'when' | 'times'> & { heal: string }>

export type FaultKind = keyof typeof FAULT_KINDS

/** The whole matrix, in the order tests are defined: each faulted checkpoint × checkpoint step × fault kind. */
export function faultCases(): { readonly at: FaultedCheckpoint; readonly step: CheckpointStep; readonly kind: FaultKind }[] {
  return FAULTED_CHECKPOINTS.flatMap((at) =>
    (Object.keys(CHECKPOINT_STEPS) as CheckpointStep[]).flatMap((step) => (Object.keys(FAULT_KINDS) as FaultKind[]).map((kind) => ({ at, step, kind }))),
  )
}

/** Real time, but back-off sleeps take a turn of the event loop instead of seconds. */
export const fastRetryClock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }

/**
 * The retry budgets a case's engines and sinks run with: a checkpoint step's attempts and, nested
 * inside, a table commit's (absent: the product's, 10 and 12). A fault that outlasts the retries
 * costs every attempt of both — 120 table commits per partition per checkpoint at the product's,
 * each a reload and writes on the store — which the claims (the checkpoint fails, nothing is lost)
 * do not depend on; a store with slow calls (S3) runs the matrix on smaller ones, each still more
 * than a transient fault's two failures, so that retries still nest and still heal it.
 */
export interface RetryBudgets {
  readonly checkpointStepAttempts: number
  readonly commitAttempts: number
}

/**
 * A case run with a stop deadline (test/unit/engine/stop-deadline.test.ts): its engines and sinks
 * on `clock`, stopping within `stopTimeoutMs`; the first engine's stop is run by `aroundFirstStop`,
 * which observes it (the time it took on the clock, the store's writes after it) and passes its
 * outcome on.
 */
export interface StopDeadlineCase {
  readonly clock: Clock
  readonly stopTimeoutMs: number
  readonly aroundFirstStop: (stop: () => Promise<void>, store: FaultyObjectStore) => Promise<void>
}

export interface FaultCaseResult {
  /** Calls the fault failed (0 means the case tested nothing). */
  readonly injected: number
  readonly firstEngineFailed: boolean
  /** The first engine's stop (its final checkpoint) threw. */
  readonly firstStopFailed: boolean
  readonly firstStopError: unknown
}

/**
 * The reference model's rows for what a case produced. Every case of a file produces the same
 * events at the same offsets, and the model was ~14 % of a case's CPU: its answer is kept per
 * input — the whole produced sequence, so a case that produced anything else gets its own.
 */
const referenceRows = new Map<string, Map<string, FeatureRow[]>>()

function referenceRowsOf(view: FeatureViewDef, source: SourceDef, produced: readonly ProducedRecord[]): Map<string, FeatureRow[]> {
  const input = JSON.stringify([view.name, source.topic, produced])
  let rows = referenceRows.get(input)
  if (rows === undefined) {
    rows = expectedRowsByEntity([view], source, produced).get(view.name)!
    referenceRows.set(input, rows)
  }
  return rows
}

/**
 * Cases run at once inside a matrix file: a case waits on its engines' ticks and polls (and on
 * S3, MinIO's answers) much of its time — on a quiet machine local 300 → 120 s, S3 423 → 184 s.
 */
export const CASES_AT_ONCE = 3

/** One matrix file: every case of faultCases() on stores `makeStore` makes, `CASES_AT_ONCE` at a time. */
export function defineCheckpointFaultCases(storeName: string, makeStore: (dir: string) => Promise<ObjectStore>, budgets?: RetryBudgets): void {
  void describe(`checkpoint faults on the ${storeName}`, { concurrency: CASES_AT_ONCE }, () => {
    for (const { at, step, kind } of faultCases()) {
      void test(`checkpoint fault, ${storeName}, ${at}: ${kind} at ${step}`, async () => {
        const result = await runCheckpointFaultCase(makeStore, step, kind, at, budgets)
        assertFaultCase(result, step, kind, at)
      })
    }
  })
}

export async function runCheckpointFaultCase(
  makeStore: (dir: string) => Promise<ObjectStore>,
  step: CheckpointStep,
  kind: FaultKind,
  at: FaultedCheckpoint = 'a running checkpoint',
  budgets?: RetryBudgets,
  deadline?: StopDeadlineCase,
): Promise<FaultCaseResult> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-ckpt-fault-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new FaultyObjectStore(await makeStore(dir))
    const view = userPurchases
    const source = purchases
    await log.createTopic(source.topic, source.partitions)
    const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
    const events = generatePurchases({ count: 2_400, users: 40, seed: 11 })
    // At the stop, the last events are a tail the faulted engine reads after a healthy one stopped.
    const tailFrom = at === 'a running checkpoint' ? events.length : events.length - 120
    const produced = await produceEvents(log, source.topic, encoder, events.slice(0, tailFrom))
    const tail = async () => void produced.push(...(await produceEvents(log, source.topic, encoder, events.slice(tailFrom))))
    const feeds = tailFrom === events.length ? [] : [tail]

    const clock = deadline?.clock ?? fastRetryClock
    const makeEngine = (s: ObjectStore, tuning: EngineTuning): LiveEngine =>
      createLiveEngine({
        log,
        stateStore: s,
        offline: new IcebergOfflineSink(s, { clock, ...(budgets === undefined ? {} : { commitAttempts: budgets.commitAttempts }) }),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (src) => createDecoder({ registry, readerSchema: src.schema }),
        views: [view],
        groupId: 'kfs-engine',
        clock,
        logger: silentLogger,
        checkpointMaxRecords: 300,
        checkpointIntervalMs: 60_000,
        tickMs: 20,
        ...(budgets === undefined ? {} : { checkpointStepAttempts: budgets.checkpointStepAttempts }),
        ...(deadline === undefined ? {} : { stopTimeoutMs: deadline.stopTimeoutMs }),
        ...tuning,
      })

    const aroundFirstStop = deadline === undefined ? {} : { aroundFirstStop: deadline.aroundFirstStop }
    const result = await runFaultedEngines(store, makeEngine, step, kind, { feeds, at, ...aroundFirstStop })

    const expected = referenceRowsOf(view, source, produced)
    assertSameRows(await readFeatureRowsByEntity(store, view), expected, `offline table after ${kind} fault at ${step}`)

    const offline = new IcebergOfflineSink(store)
    for (let p = 0; p < source.partitions; p++) {
      const offsets: string[] = []
      for await (const row of offline.readArchive(source.topic, p)) if (row.markerWatermarkMs === null) offsets.push(row.offset)
      const want = produced.filter((r) => r.partition === p).map((r) => r.offset)
      assert.deepEqual(offsets, want, `archive of partition ${p}: every offset exactly once, in order`)
    }

    const parity = await verifyParity({
      offline,
      decoder: createDecoder({ registry, readerSchema: source.schema }),
      view,
      groupId: 'kfs-engine',
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, `parity after ${kind} fault at ${step}: ${JSON.stringify(parity.differences.slice(0, 2))}`)
    return result
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export interface FaultedRunOptions {
  /** Fault only the step's writes whose key also matches this (one topic's, one view's); `skip`: as the step's. */
  readonly only?: { key: RegExp; skip: number }
  /** More input, each produced once the first engine has caught up with the last (or has failed). */
  readonly feeds?: readonly (() => Promise<void>)[]
  readonly at?: FaultedCheckpoint
  /** Runs the first engine's stop, observing it (StopDeadlineCase); default: just runs it. */
  readonly aroundFirstStop?: StopDeadlineCase['aroundFirstStop']
}

/** A checkpoint size no test reaches: the engine checkpoints only when told to (at its stop). */
const NO_SIZE_TRIGGER = Number.MAX_SAFE_INTEGER

/**
 * The faulted sequence itself, for any workload (this module's and change-checkpoint-fault-scenario.ts):
 * `step` (narrowed to the keys `only` matches, if given) is armed on `store` with `kind`.
 *
 * At a running checkpoint: the first checkpoints go through, a later one is faulted; a first engine
 * runs until it fails or catches up (with `feeds` produced on the way) and is stopped as `kfs run`
 * stops it.
 *
 * At the stop's own checkpoint: a healthy engine runs to the end of what is there and stops (its
 * checkpoints publish the state chains a delta extends); `feeds` are produced; the first engine —
 * which takes no checkpoint of its own before its stop, so none can be in flight when the fault is
 * armed — reads them, catches up, and the fault is armed just before its stop.
 *
 * Either way the fault heals (before or after that stop, as `kind` says) and a second engine resumes
 * from what was published and runs to the end. `makeEngine` builds each on the store it is given.
 */
export async function runFaultedEngines(
  store: FaultyObjectStore,
  makeEngine: (s: ObjectStore, tuning: EngineTuning) => LiveEngine,
  step: CheckpointStep,
  kind: FaultKind,
  options: FaultedRunOptions = {},
): Promise<FaultCaseResult> {
  const { only, feeds = [], at = 'a running checkpoint' } = options
  const { heal, ...behaviour } = FAULT_KINDS[kind]
  const stepFault: StepFault = CHECKPOINT_STEPS[step]
  const key = only === undefined ? stepFault.key : new RegExp(`^(?=.*(?:${only.key.source})).*(?:${stepFault.key.source})`)
  const tuning: EngineTuning = stepFault.chainPolicy === undefined ? {} : { chainPolicy: stepFault.chainPolicy }
  const arm = (skip: number) => store.arm({ operation: stepFault.operation, key, ...behaviour, skip })
  const caughtUp = async (engine: LiveEngine, failed: () => boolean, what: string) =>
    waitFor(async () => failed() || (await engine.isCaughtUp(100)), what)

  let first: LiveEngine
  let firstFailed = false
  if (at === 'a running checkpoint') {
    arm(only?.skip ?? stepFault.skip ?? 3)
    first = makeEngine(store, tuning)
    await first.start()
    void first.failed.then(() => (firstFailed = true))
    await caughtUp(first, () => firstFailed, 'first engine failed or caught up')
    for (const feed of feeds) {
      await feed()
      await caughtUp(first, () => firstFailed, 'first engine failed or caught up')
    }
  } else {
    const healthy = makeEngine(store, tuning)
    await healthy.start()
    await caughtUp(healthy, () => false, 'healthy engine caught up')
    await healthy.stop()
    assert.equal(healthy.failure, undefined, 'the healthy engine ran without failing')
    for (const feed of feeds) await feed()
    first = makeEngine(store, { ...tuning, checkpointMaxRecords: NO_SIZE_TRIGGER })
    await first.start()
    void first.failed.then(() => (firstFailed = true))
    await caughtUp(first, () => firstFailed, 'first engine failed or caught up')
    arm(0)
  }
  // As `kfs run` does after the race: stop, whose final checkpoint covers everything kept.
  if (heal === 'before stop' && firstFailed) store.disarm()
  let firstStopError: unknown
  let firstStopFailed = false
  const stopFirst = () => first.stop()
  await (options.aroundFirstStop?.(stopFirst, store) ?? stopFirst()).catch((err: unknown) => {
    firstStopFailed = true
    firstStopError = err
  })
  const injected = store.failures
  store.disarm()

  const second = makeEngine(store, tuning)
  await second.start()
  await waitFor(() => second.isCaughtUp(100), 'second engine caught up')
  await second.stop()
  return { injected, firstEngineFailed: firstFailed, firstStopFailed, firstStopError }
}
