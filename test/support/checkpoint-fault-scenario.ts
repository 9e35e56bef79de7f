/**
 * The checkpoint fault-injection scenario (issue: a failed checkpoint must never lose data): one
 * engine runs over a store with one armed fault — a step of some checkpoint fails, transiently,
 * for longer than the step's retries, or after the write happened — then is stopped the way
 * `kfs run` stops it (its own final checkpoint, which may succeed); a second engine, on a healthy
 * store, resumes from whatever was published and runs to the end. Whatever happened, the offline
 * table must equal the reference model's rows, the archive must hold every offset exactly once,
 * and replay must reproduce the live rows (parity).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock } from '../../core/clock.ts'
import { silentLogger } from '../../core/logger.ts'
import { purchases, userPurchases } from '../../examples/features.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { verifyParity } from '../../replay/verify-parity.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { FaultyObjectStore, type Fault } from './faulty-object-store.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, produceEvents, waitFor } from './scenario.ts'

/**
 * One kind of write per checkpoint step (partition-slot.ts: stage, state base or delta, publish, commit, prune),
 * and which faults the step absorbs without failing the checkpoint: the version hint and pruning
 * are best effort, and a table commit whose answer was lost finds its snapshot on the retry.
 */
export const CHECKPOINT_STEPS = {
  'stage feature rows': { operation: 'put', key: /warehouse\/features\/.*\.parquet$/, absorbs: [] },
  'stage archive rows': { operation: 'put', key: /warehouse\/archive\/.*\.parquet$/, absorbs: [] },
  'write operator state: base': { operation: 'put', key: /\/state-\d+-[^/]*\.bin$/, absorbs: [] },
  // Deltas alternate with bases here (each checkpoint changes most keys): the fourth delta write
  // would be the stop's own, whose failure at revocation is only logged; the second is not.
  'write operator state: delta': { operation: 'put', key: /\/delta-\d+-[^/]*\.bin$/, absorbs: [], skip: 1 },
  'publish checkpoint record': { operation: 'putIfAbsent', key: /\/ckpt-\d+\.json$/, absorbs: [] },
  'commit: manifest': { operation: 'put', key: /\/metadata\/[^/]*-m0\.avro$/, absorbs: [] },
  'commit: manifest list': { operation: 'put', key: /\/metadata\/snap-[^/]*\.avro$/, absorbs: [] },
  'commit: table metadata': { operation: 'putIfAbsent', key: /\/metadata\/v\d+\.metadata\.json$/, absorbs: ['after'] },
  'commit: version hint': { operation: 'put', key: /\/metadata\/version-hint\.text$/, absorbs: ['before', 'after'] },
  'prune old checkpoints': { operation: 'delete', key: /\/(ckpt|state|delta)-\d+/, absorbs: ['before', 'after'] },
} as const satisfies Record<string, Pick<Fault, 'operation' | 'key'> & { absorbs: readonly Fault['when'][]; skip?: number }>

/** Whether the fault must make a checkpoint fail (and so the engine, or its stop). */
export function faultFailsCheckpoint(step: CheckpointStep, kind: FaultKind): boolean {
  const { heal, when } = FAULT_KINDS[kind]
  return heal !== 'by retries' && !(CHECKPOINT_STEPS[step].absorbs as readonly string[]).includes(when)
}

export type CheckpointStep = keyof typeof CHECKPOINT_STEPS

/** What every case asserts of its faulted run: the fault fired, and failed the run exactly when the step cannot absorb it. */
export function assertFaultCase(result: FaultCaseResult, step: CheckpointStep, kind: FaultKind): void {
  assert.ok(result.injected > 0, 'the fault fired (a case that injected nothing checked nothing)')
  const failed = result.firstEngineFailed || result.firstStopFailed
  assert.equal(failed, faultFailsCheckpoint(step, kind), failed ? 'a fault the step absorbs failed the checkpoint' : 'a checkpoint that cannot be made fails the engine or its stop')
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

/** Real time, but back-off sleeps take a turn of the event loop instead of seconds. */
export const fastRetryClock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }

export interface FaultCaseResult {
  /** Calls the fault failed (0 means the case tested nothing). */
  readonly injected: number
  readonly firstEngineFailed: boolean
  /** The first engine's stop (its final checkpoint) threw. */
  readonly firstStopFailed: boolean
}

export async function runCheckpointFaultCase(makeStore: (dir: string) => Promise<ObjectStore>, step: CheckpointStep, kind: FaultKind): Promise<FaultCaseResult> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-ckpt-fault-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new FaultyObjectStore(await makeStore(dir))
    const view = userPurchases
    const source = purchases
    await log.createTopic(source.topic, source.partitions)
    const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
    const produced = await produceEvents(log, source.topic, encoder, generatePurchases({ count: 2_400, users: 40, seed: 11 }))

    const makeEngine = (s: ObjectStore): LiveEngine =>
      createLiveEngine({
        log,
        stateStore: s,
        offline: new IcebergOfflineSink(s, { clock: fastRetryClock }),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (src) => createDecoder({ registry, readerSchema: src.schema }),
        views: [view],
        groupId: 'kfs-engine',
        clock: fastRetryClock,
        logger: silentLogger,
        checkpointMaxRecords: 300,
        checkpointIntervalMs: 60_000,
        tickMs: 20,
      })

    const { injected, firstEngineFailed, firstStopFailed } = await runFaultedEngines(store, makeEngine, step, kind)

    const expected = expectedRowsByEntity([view], source, produced).get(view.name)!
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
    return { injected, firstEngineFailed, firstStopFailed }
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * The faulted sequence itself, for any workload (this module's and change-checkpoint-fault-scenario.ts):
 * `step` (narrowed to the keys `only` matches, if given) is armed on `store` with `kind` (the first checkpoints go through, a later one is
 * faulted), a first engine runs until it fails or catches up and is stopped as `kfs run` stops it;
 * the fault heals (before or after that stop, as `kind` says) and a second engine resumes from what
 * was published and runs to the end (`feeds` produced by then). `makeEngine` builds both on the store it is given.
 */
export async function runFaultedEngines(
  store: FaultyObjectStore,
  makeEngine: (s: ObjectStore) => LiveEngine,
  step: CheckpointStep,
  kind: FaultKind,
  /** Fault only the step's writes whose key also matches this (e.g. one topic's, one view's), from the `skip`-th on. */
  only?: { key: RegExp; skip: number },
  /** More input, each produced once the first engine has caught up with the last (or has failed). */
  feeds: readonly (() => Promise<void>)[] = [],
): Promise<FaultCaseResult> {
  const { heal, ...behaviour } = FAULT_KINDS[kind]
  const stepFault: { operation: Fault['operation']; key: RegExp; skip?: number } = CHECKPOINT_STEPS[step]
  const key = only === undefined ? stepFault.key : new RegExp(`^(?=.*(?:${only.key.source})).*(?:${stepFault.key.source})`)
  store.arm({ operation: stepFault.operation, key, ...behaviour, skip: only?.skip ?? stepFault.skip ?? 3 })
  const first = makeEngine(store)
  await first.start()
  let firstFailed = false
  void first.failed.then(() => (firstFailed = true))
  await waitFor(async () => firstFailed || (await first.isCaughtUp(100)), 'first engine failed or caught up')
  for (const feed of feeds) {
    await feed()
    await waitFor(async () => firstFailed || (await first.isCaughtUp(100)), 'first engine failed or caught up')
  }
  // As `kfs run` does after the race: stop, whose final checkpoint covers everything kept.
  let injected = store.failures
  if (heal === 'before stop' && firstFailed) store.disarm()
  let firstStopFailed = false
  await first.stop().catch(() => (firstStopFailed = true))
  injected = Math.max(injected, store.failures)
  store.disarm()

  const second = makeEngine(store)
  await second.start()
  await waitFor(() => second.isCaughtUp(100), 'second engine caught up')
  await second.stop()
  return { injected, firstEngineFailed: firstFailed, firstStopFailed }
}
