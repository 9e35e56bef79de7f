/**
 * The engine-I/O fault scenario (the sibling of checkpoint-fault-scenario.ts, whose fault kinds it
 * reuses): a small backlog with poison records on the embedded defaults, a direct view and a
 * re-keyed one, so every port the live engine uses outside the object store is called — online
 * writes and syncs, dead-letter produces, the re-key stage's transactions, the consumers' batches,
 * progress commits and offset reads. One engine runs with call k of one step faulted
 * (faulty-engine-io.ts) and is stopped as `kfs run` stops it — or, when the process dies there,
 * abandoned (crash-harness.ts) —; a second engine, on healthy I/O and the online store reopened
 * from its file, resumes and runs to the end. What they leave must be what one clean run leaves.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../core/logger.ts'
import type { Clock } from '../../core/clock.ts'
import type { FeatureRow } from '../../features/types.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import { consumedView } from '../../engine/plan-sources.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { prng } from '../../examples/generate-events.ts'
import { verifyParity } from '../../replay/verify-parity.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import {
  OTHER_SCHEMA,
  PARTITIONS,
  T0,
  buys,
  burst,
  itemSpend,
  readDeadLetters,
  spend,
} from '../unit/engine/crash-chaos-workload.ts'
import { FAULT_KINDS, type FaultKind } from './checkpoint-fault-scenario.ts'
import { Freezer, frozenLog, frozenOnline } from './crash-harness.ts'
import { IoSwitchboard } from './faulty-engine-io.ts'
import { assertSameRows, valuesClose, waitFor } from './scenario.ts'
import { unlockedStoreFiles } from './unlocked-store-files.ts'

const DEAD_LETTERS = 'kfs.dead-letters'
const GROUP = 'kfs-engine'
const VIEWS = [spend, itemSpend]

/** The checkpoint test's fault kinds, plus the process dying at the call. */
export const IO_FAULT_KINDS = { ...FAULT_KINDS, 'process dies here': { when: 'dies', times: 1, heal: 'never' } } as const
export type IoFaultKind = FaultKind | 'process dies here'

/** Real time, but back-off sleeps take a turn of the event loop instead of seconds. */
const fastRetryClock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }

/** What a run leaves behind, in forms that do not depend on timing (internal offsets, bundle cuts). */
export interface RunOutcome {
  readonly offline: ReadonlyMap<string, Map<string, FeatureRow[]>>
  /** Per view: entity → [as_of, values] as the reopened online store reads it. */
  readonly online: ReadonlyMap<string, Map<string, unknown>>
  /** Source-topic archive offsets per partition (markers left out). */
  readonly archive: readonly string[][]
  /** Dead letters, by the record they name (its origin when read from the internal topic) and reason: how many. */
  readonly deadLetters: ReadonlyMap<string, number>
  /** Calls per step kind made by the (first) engine. */
  readonly calls: ReadonlyMap<string, number>
}

export interface IoFaultCaseResult {
  readonly injected: number
  /** The first engine's fatal error, or its stop's (undefined: it ran and stopped cleanly). */
  readonly firstError: unknown
  readonly died: boolean
  readonly outcome: RunOutcome
}

async function produceWorkload(log: EmbeddedEventLog, registry: EmbeddedSchemaRegistry): Promise<void> {
  const encoder = await createEncoder({ registry, subject: `${buys.topic}-value`, schema: buys.schema })
  const other = (await createEncoder({ registry, subject: 'other-value', schema: OTHER_SCHEMA as never })).encode({
    label: 'not a buy',
  })
  await log.createTopic(buys.topic, PARTITIONS)
  const rand = prng(25)
  const clocks = [T0 + 86_400_000, T0, T0 + 86_400_000]
  for (let phase = 0; phase < 2; phase++) {
    const records = burst(rand, phase, clocks, true)
    await log.produce(
      buys.topic,
      records.map((r) => ({
        key: 'k',
        partition: r.partition,
        timestampMs: r.timestampMs,
        value: r.poison?.value ? r.poison.value((b) => encoder.encode(b), other) : encoder.encode(r.buy),
      })),
    )
  }
}

/**
 * One case: `fault` undefined is the clean run (the calls it counts choose the faulted k). The
 * clean run goes through the same two engines, so both outcomes are read the same way.
 */
export async function runIoFaultCase(fault?: { step: string; k: number; kind: IoFaultKind }): Promise<IoFaultCaseResult> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-io-fault-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    await produceWorkload(log, registry)
    const onlinePath = join(dir, 'online-store.json')

    const makeEngine = async (board: IoSwitchboard, freezer: Freezer) => {
      const online = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
      const store = new LocalObjectStore(join(dir, 'warehouse'))
      const engineLog = frozenLog(board.log(log), freezer)
      const engine = createLiveEngine({
        log: engineLog,
        stateStore: store,
        offline: new IcebergOfflineSink(store, { clock: fastRetryClock, parquetWorker: false }),
        online: frozenOnline(board.online(online), freezer),
        deadLetters: createDeadLetterTopicSink(engineLog, DEAD_LETTERS),
        deadLetterTopic: DEAD_LETTERS,
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: VIEWS,
        groupId: GROUP,
        clock: fastRetryClock,
        logger: silentLogger,
        checkpointMaxRecords: 40,
        checkpointIntervalMs: 60_000,
        tickMs: 20,
      })
      return { engine, online }
    }
    // The test's own polling is exempt from faults (faulty-engine-io.ts says why).
    const caughtUp = (engine: LiveEngine, board: IoSwitchboard) => board.exempt(() => engine.isCaughtUp(100))

    const board = new IoSwitchboard(DEAD_LETTERS)
    const freezer = new Freezer()
    let died = false
    let crashed: Promise<void> = Promise.resolve()
    let dying: () => void = () => {}
    const dead = new Promise<void>((resolve) => (dying = resolve))
    if (fault !== undefined) {
      const { when, times } = IO_FAULT_KINDS[fault.kind]
      // The process is gone at once: no other call of it starts or hears back (crash-harness.ts).
      board.arm({ step: fault.step, k: fault.k, when, times }, () => {
        died = true
        crashed = freezer.crash(() => void first.engine.stop().catch(() => undefined))
        dying()
      })
    }
    const first = await makeEngine(board, freezer)
    let firstFailed = false
    void first.engine.failed.then(() => (firstFailed = true))
    // A process may die in a call its start makes (the re-key stage's first reads): start never returns.
    // A start that fails (a read it makes) is the process exiting non-zero; it is restarted.
    let startError: unknown
    await Promise.race([first.engine.start().catch((err: unknown) => (startError = err)), dead])
    await waitFor(
      async () => died || firstFailed || startError !== undefined || (await caughtUp(first.engine, board)),
      'first engine died, failed or caught up',
    )
    const heal = fault === undefined ? 'by retries' : IO_FAULT_KINDS[fault.kind].heal
    if (heal === 'before stop' && firstFailed) board.disarm()
    // A process may die in a call its stop makes (the last sync, say): that stop never returns.
    let stopError: unknown
    if (!died) await Promise.race([first.engine.stop().catch((err: unknown) => (stopError = err)), dead])
    if (died) {
      // As after SIGKILL: nothing closed or flushed; the online store keeps only what it synced.
      await crashed
    } else {
      await first.online.close()
    }
    board.disarm()
    const injected = board.failures

    const secondBoard = new IoSwitchboard(DEAD_LETTERS)
    const second = await makeEngine(secondBoard, new Freezer())
    await second.engine.start()
    await waitFor(() => caughtUp(second.engine, secondBoard), 'second engine caught up')
    await second.engine.stop()
    assert.equal(second.engine.failure, undefined, `the healthy engine failed: ${String(second.engine.failure)}`)
    await second.online.close()

    const outcome = await readOutcome(dir, log, registry, board.calls, onlinePath)
    return { injected, firstError: first.engine.failure ?? startError ?? stopError, died, outcome }
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

async function readOutcome(
  dir: string,
  log: EmbeddedEventLog,
  registry: EmbeddedSchemaRegistry,
  calls: ReadonlyMap<string, number>,
  onlinePath: string,
): Promise<RunOutcome> {
  const store = new LocalObjectStore(join(dir, 'warehouse'))
  const offlineSink = new IcebergOfflineSink(store)
  const offline = new Map<string, Map<string, FeatureRow[]>>()
  const online = new Map<string, Map<string, unknown>>()
  const reopened = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
  for (const view of VIEWS.map((v) => consumedView(v))) {
    const rows = await readFeatureRowsByEntity(store, view)
    offline.set(view.name, rows)
    const keys = [...rows.keys()].sort()
    const reads = await reopened.readRows(
      keys.map((entityKey) => ({ view, entityKey, features: view.features.map((f) => f.name) })),
      Date.now(),
    )
    online.set(view.name, new Map(keys.map((key, i) => [key, [reads[i]!.asOfMs, reads[i]!.values]])))
    const parity = await verifyParity({
      offline: offlineSink,
      decoder: createDecoder({ registry, readerSchema: view.source.schema }),
      view,
      groupId: GROUP,
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, `parity of ${view.name}: ${JSON.stringify(parity.differences.slice(0, 2))}`)
  }
  await reopened.close()
  const archive: string[][] = []
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets: string[] = []
    for await (const row of offlineSink.readArchive(buys.topic, p)) if (row.markerWatermarkMs === null) offsets.push(row.offset)
    archive.push(offsets)
  }
  const deadLetters = new Map<string, number>()
  for (const l of await readDeadLetters(log, `dl-check-${Math.random()}`)) {
    const at =
      l.originOffset === undefined
        ? `${l.topic}/${l.partition}/${l.offset}`
        : `${l.topic} from ${buys.topic}/${l.originPartition}/${l.originOffset}`
    const key = `${at}:${l.reason}`
    deadLetters.set(key, (deadLetters.get(key) ?? 0) + 1)
  }
  return { offline, online, archive, deadLetters, calls }
}

/**
 * The faulted run left what the clean one did: the same offline rows, online rows, archive (every
 * offset once) and dead letters — each refused record named, none missing. A dead letter may be
 * written twice only where docs/semantics.md §15 allows it (at-least-once: a process that failed
 * or died re-processes from its last checkpoint); a run that never failed writes each once.
 */
export function assertSameOutcome(got: RunOutcome, clean: RunOutcome, mayRepeatDeadLetters: boolean, what: string): void {
  for (const view of VIEWS.map((v) => consumedView(v))) {
    assertSameRows(got.offline.get(view.name)!, clean.offline.get(view.name)!, `${what}: offline ${view.name}`)
    const want = clean.online.get(view.name)!
    const have = got.online.get(view.name)!
    assert.deepEqual([...have.keys()], [...want.keys()], `${what}: online entities of ${view.name}`)
    for (const [key, value] of want)
      assert.ok(
        valuesClose(have.get(key), value),
        `${what}: online ${view.name} ${key}: ${JSON.stringify(have.get(key))} vs ${JSON.stringify(value)}`,
      )
  }
  assert.deepEqual(got.archive, clean.archive, `${what}: archive offsets (every offset exactly once, in order)`)
  assert.ok(clean.deadLetters.size > 0, 'the workload writes dead letters')
  const missing = [...clean.deadLetters.keys()].filter((k) => !got.deadLetters.has(k))
  const extra = [...got.deadLetters.keys()].filter((k) => !clean.deadLetters.has(k))
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${what}: dead letters`)
  if (!mayRepeatDeadLetters) {
    const doubled = [...got.deadLetters].filter(([k, n]) => n > clean.deadLetters.get(k)!)
    assert.deepEqual(doubled, [], `${what}: dead letters written more than once by a run that never failed`)
  }
}
