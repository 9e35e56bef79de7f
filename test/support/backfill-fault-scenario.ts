/**
 * The backfill fault scenario (docs/semantics.md §14): live consumption archives a stretch of
 * purchases without user_big_spends, then a second stretch; the view is backfilled from the first
 * stretch's archive snapshot (as `kfs replay --snapshot-id` does), with one call of the backfill's
 * process faulted (call-faults.ts) — then re-run, as a new process, until it completes — and the live
 * engine adopts the backfill, catches the view up from the archive over the second stretch and
 * consumes a third one live. What a case ends with (offline rows, online rows, dead letters, the
 * registry's status, verify-parity) is compared with the clean run's by the test.
 */
import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../core/logger.ts'
import type { FeatureRow, FeatureViewDef } from '../../features/types.ts'
import { purchases, userBigSpends, userPurchases } from '../../examples/with-new-view.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { createLiveEngine } from '../../engine/live-engine.ts'
import type { DeadLetter, DeadLetterSink } from '../../ports/dead-letters.ts'
import type { EventLog } from '../../ports/event-log.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { OnlineStore } from '../../ports/online-store.ts'
import { collectDefinitions, createRegistry, type BackfillStatus } from '../../registry/index.ts'
import { backfillReadRetry, backfillRecorded } from '../../replay/backfill-before-live.ts'
import { objectStoreReadsRetried, schemaReadsRetried } from '../../engine/retried-reads.ts'
import type { SchemaRegistry } from '../../ports/schema-registry.ts'
import { verifyParity } from '../../replay/verify-parity.ts'
import { createDecoder, type Decoder } from '../../schemas/decoder.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { CallFaults, type CallFaultKind, type KindFault, type RecordedCall } from './call-faults.ts'
import { frozenLog } from './crash-harness.ts'
import { fastRetryClock } from './checkpoint-fault-scenario.ts'
import { generatePurchases, produceEvents, type ProducedRecord } from './scenario.ts'
import { unlockedStoreFiles } from './unlocked-store-files.ts'

const GROUP = 'kfs-engine'
const VIEW = userBigSpends
const VIEWS = [userPurchases, userBigSpends] as const
/** Backfill checkpoints this often (records buffered), so it publishes and commits several times. */
const BACKFILL_EVERY = 40
const clock = fastRetryClock

/** The live run before the backfill, as the next process finds it on disk and in its object store. */
export interface Baseline {
  readonly dir: string
  readonly objects: ReadonlyMap<string, Uint8Array>
  /** The archive snapshot the backfill replays: the first stretch. */
  readonly snapshotId: string
  /** Records of the third stretch, which the live engine consumes after the hand-off. */
  readonly liveRecords: number
  readonly produced: readonly ProducedRecord[]
  readonly users: readonly string[]
}

export interface CaseOutcome {
  /** The calls of the first backfill process, in the order they started. */
  readonly calls: readonly RecordedCall[]
  readonly injected: number
  /** How the first backfill process ended: done, failed (its error), or died. */
  readonly first: 'done' | 'died' | { readonly err: unknown }
  /** The registry's status of the view as the first backfill process left it. */
  readonly statusAfterFirst: BackfillStatus | undefined
  /** The second backfill process when it was faulted too (runBackfillFaultCase's `resumed`). */
  readonly second:
    | {
        readonly outcome: CaseOutcome['first']
        readonly calls: readonly RecordedCall[]
        readonly injected: number
        readonly statusAfter: BackfillStatus | undefined
      }
    | undefined
  /** Processes it took to complete the backfill, the first included. */
  readonly processes: number
  /** The calls of the first live process after the backfill (the hand-off), and whether it died. */
  readonly liveCalls: readonly RecordedCall[]
  readonly liveInjected: number
  readonly liveDied: boolean
  readonly status: BackfillStatus | undefined
  /** The backfilled view's offline rows by entity, in table order (for the reference model). */
  readonly viewRows: Map<string, FeatureRow[]>
  /** Per view, its offline rows as sorted `entity as_of values` lines (a multiset). */
  readonly offline: Readonly<Record<string, readonly string[]>>
  /** The online store right after the backfill completed, and at the end. */
  readonly onlineAfterBackfill: readonly string[]
  readonly onlineAtEnd: readonly string[]
  /** Dead letters written (backfill and live), as sorted `partition/offset reason view` lines. */
  readonly deadLetters: readonly string[]
  readonly parityOk: boolean
  readonly parityDetail: string
}

const decoderOf = (dir: string, wrap: (registry: SchemaRegistry) => SchemaRegistry = (r) => r): Decoder =>
  createDecoder({ registry: wrap(new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })), readerSchema: purchases.schema })
const onlinePath = (dir: string) => join(dir, 'online', 'online-store.json')

function engineFor(
  dir: string,
  log: EventLog,
  store: ObjectStore,
  online: OnlineStore,
  deadLetters: DeadLetterSink,
  views: readonly FeatureViewDef[],
) {
  return createLiveEngine({
    log,
    stateStore: store,
    offline: new IcebergOfflineSink(store, { clock, parquetWorker: false }),
    online,
    deadLetters,
    decoderFor: () => decoderOf(dir),
    views,
    groupId: GROUP,
    clock,
    logger: silentLogger,
    checkpointMaxRecords: 100,
    checkpointIntervalMs: 60_000,
    tickMs: 5,
  })
}

async function consume(engine: ReturnType<typeof engineFor>, records: number): Promise<void> {
  await engine.start()
  // Polled every few ms, not scenario.ts's 50: a few hundred cases each wait for it once.
  for (const deadline = Date.now() + 60_000; engine.failure === undefined && engine.stats.consumed < records;) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${records} records consumed`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  await engine.stop()
  if (engine.failure) throw engine.failure
}

const letterSink = (kept: DeadLetter[]): DeadLetterSink => ({
  write: async (letters) => void kept.push(...letters),
  flush: async () => undefined,
})

/** 240 purchases consumed and archived, the snapshot taken, 80 more consumed, 80 produced and left. */
export async function buildBaseline(): Promise<Baseline> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-backfill-faults-'))
  const store = new MemoryObjectStore()
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  await mkdir(join(dir, 'online'))
  const online = await EmbeddedOnlineStore.open({ clock, path: onlinePath(dir) })
  try {
    await createRegistry({ store, clock }).apply(collectDefinitions([...VIEWS]))
    await log.createTopic(purchases.topic, purchases.partitions)
    const encoder = await createEncoder({
      registry: new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') }),
      subject: `${purchases.topic}-value`,
      schema: purchases.schema,
    })
    const events = generatePurchases({ count: 400, users: 24, seed: 25 })
    const produced = await produceEvents(log, purchases.topic, encoder, events.slice(0, 240))
    const letters: DeadLetter[] = []
    await consume(engineFor(dir, log, store, online, letterSink(letters), [userPurchases]), produced.length)
    const { snapshotId } = await new IcebergOfflineSink(store).archiveEnd(purchases.topic)
    if (snapshotId === null) throw new Error('the first stretch archived nothing')
    const second = await produceEvents(log, purchases.topic, encoder, events.slice(240, 320))
    await consume(engineFor(dir, log, store, online, letterSink(letters), [userPurchases]), second.length)
    const third = await produceEvents(log, purchases.topic, encoder, events.slice(320))
    const objects = new Map<string, Uint8Array>()
    for (const key of await store.list('')) objects.set(key, (await store.get(key))!)
    const users = [...new Set(events.map((e) => e.user_id))].sort()
    return { dir, objects, snapshotId, liveRecords: third.length, produced: [...produced, ...second, ...third], users }
  } finally {
    await online.close()
    await log.close()
  }
}

/** One backfill process over the shared storage: done, failed with its error, or died (abandoned). */
async function backfillProcess(
  dir: string,
  storage: ObjectStore,
  letters: DeadLetter[],
  baseline: Baseline,
  faults: CallFaults,
): Promise<CaseOutcome['first']> {
  // Wired as `kfs replay` wires it (main/commands/live-views.ts backfillEnvironment, and the
  // registry of main/commands/replay.ts): every read of the store and the schema registry retried.
  const reads = backfillReadRetry(clock, silentLogger)
  const store = objectStoreReadsRetried(faults.store(storage), reads)
  const registry = createRegistry({ store, clock })
  const opened = await EmbeddedOnlineStore.open({ clock, path: onlinePath(dir), files: unlockedStoreFiles })
  const online = faults.online(opened)
  const deadLetters = faults.deadLetters(letterSink(letters))
  const env = {
    offline: new IcebergOfflineSink(store, { clock, parquetWorker: false }),
    stateStore: store,
    decoderFor: () => decoderOf(dir, (r) => schemaReadsRetried(faults.schemas(r), reads)),
    clock,
    online: async () => online,
    deadLetters: async () => deadLetters,
  }
  // As `kfs replay` and `kfs run` do: a complete view is left alone, any other is (re)run.
  const run = (async () => {
    if ((await registry.getBackfillStatus(VIEW.name, VIEW.version))?.state === 'complete') return
    await backfillRecorded(registry, env, {
      view: VIEW,
      liveGroupId: GROUP,
      online,
      logger: silentLogger,
      archiveSnapshotId: baseline.snapshotId,
      checkpointEveryRecords: BACKFILL_EVERY,
    })
  })()
  const outcome = await Promise.race([
    run.then(
      () => 'done' as const,
      (err: unknown) => ({ err }),
    ),
    faults.freezer.frozen.then(() => 'died' as const),
  ])
  // A process that failed closes its stores on the way out; a dead one does not.
  if (outcome !== 'died') await opened.close()
  return outcome
}

async function onlineRows(dir: string, users: readonly string[]): Promise<string[]> {
  const online = await EmbeddedOnlineStore.open({ clock, path: onlinePath(dir), files: unlockedStoreFiles })
  try {
    const lookups = VIEWS.flatMap((view) =>
      users.map((entityKey) => ({ view, entityKey, features: view.features.map((f) => f.name) })),
    )
    const reads = await online.readRows(lookups, Date.UTC(2026, 0, 2))
    return reads.map(
      (r, i) => `${lookups[i]!.view.name} ${lookups[i]!.entityKey} ${r.status} ${r.asOfMs} ${JSON.stringify(r.values)}`,
    )
  } finally {
    await online.close()
  }
}

const rowLine = (key: string, row: FeatureRow) =>
  `${key} ${row.asOfMs} ${JSON.stringify(row.values)}${row.deleted ? ' deleted' : ''}`

/** Which process of a case is faulted: the first backfill process, or the first live one after it (the hand-off). */
export type CaseFault =
  | { readonly process: 'backfill' | 'live'; readonly index: number; readonly kind: CallFaultKind }
  /** Every call of one kind in the first backfill process (call-faults.ts KindFault). */
  | { readonly process: 'backfill'; readonly calls: KindFault }

/**
 * One live process after the backfill: adopts the view, consumes `records` (or, resumed after a
 * death, until caught up) and stops — or dies at its armed call and is abandoned.
 */
async function liveProcess(
  dir: string,
  log: EmbeddedEventLog,
  storage: ObjectStore,
  letters: DeadLetter[],
  faults: CallFaults,
  records: number | undefined,
): Promise<'done' | 'died'> {
  const opened = await EmbeddedOnlineStore.open({ clock, path: onlinePath(dir), files: unlockedStoreFiles })
  const online = faults.online(opened)
  const engine = engineFor(
    dir,
    frozenLog(log, faults.freezer),
    faults.store(storage),
    online,
    faults.deadLetters(letterSink(letters)),
    VIEWS,
  )
  const run = (async () => {
    await engine.start()
    for (const deadline = Date.now() + 60_000; ; await new Promise((resolve) => setTimeout(resolve, 2))) {
      if (engine.failure) throw engine.failure
      if (records === undefined ? await engine.isCaughtUp(20) : engine.stats.consumed >= records) break
      if (Date.now() > deadline) throw new Error('timed out waiting for the live engine')
    }
    await engine.stop()
    if (engine.failure) throw engine.failure
    return 'done' as const
  })()
  const outcome = await Promise.race([run, faults.freezer.frozen.then(() => 'died' as const)])
  // A dead engine's timer is stopped (its calls go nowhere); its online store is not closed, nothing flushed.
  if (outcome === 'died') void engine.stop().catch(() => undefined)
  else await opened.close()
  return outcome
}

/**
 * Runs one case: call `fault.index` of the faulted process faulted `fault.kind` (none: the clean
 * run). `resumed`: the process that resumes after the first one is faulted so too (the reads only
 * a resumed backfill makes: its checkpoints), and a third one then completes it.
 */
export async function runBackfillFaultCase(baseline: Baseline, fault?: CaseFault, resumed?: KindFault): Promise<CaseOutcome> {
  const armed = fault?.process !== 'backfill' ? undefined : 'calls' in fault ? fault.calls : fault
  const dir = await mkdtemp(join(tmpdir(), 'kfs-backfill-fault-case-'))
  await cp(baseline.dir, dir, { recursive: true })
  const storage = new MemoryObjectStore()
  for (const [key, body] of baseline.objects) await storage.put(key, body)
  const letters: DeadLetter[] = []
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const faults = new CallFaults(armed)
    const first = await backfillProcess(dir, storage, letters, baseline, faults)
    const statusAfterFirst = await createRegistry({ store: storage, clock }).getBackfillStatus(VIEW.name, VIEW.version)
    let processes = 1
    let second: CaseOutcome['second']
    for (let outcome = first; outcome !== 'done'; processes++) {
      // A healthy process must finish what the faulted ones left: another failure is a finding.
      if (processes > (resumed === undefined ? 1 : 2))
        throw new Error(
          `the backfill re-run after ${JSON.stringify(fault)} did not complete: ${outcome === 'died' ? 'died' : String(outcome.err)}`,
          { cause: outcome === 'died' ? undefined : outcome.err },
        )
      const faulted = processes === 1 && resumed !== undefined
      const rerunFaults = new CallFaults(faulted ? resumed : undefined)
      outcome = await backfillProcess(dir, storage, letters, baseline, rerunFaults)
      if (faulted) {
        const statusAfter = await createRegistry({ store: storage, clock }).getBackfillStatus(VIEW.name, VIEW.version)
        second = { outcome, calls: rerunFaults.calls, injected: rerunFaults.injected, statusAfter }
      }
    }
    const status = await createRegistry({ store: storage, clock }).getBackfillStatus(VIEW.name, VIEW.version)
    const onlineAfterBackfill = await onlineRows(dir, baseline.users)

    const liveFaults = new CallFaults(fault?.process === 'live' ? fault : undefined)
    const liveDied = (await liveProcess(dir, log, storage, letters, liveFaults, baseline.liveRecords)) === 'died'
    if (liveDied) await liveProcess(dir, log, storage, letters, new CallFaults(), undefined)

    const sink = new IcebergOfflineSink(storage, { parquetWorker: false })
    const offline: Record<string, string[]> = {}
    for (const view of VIEWS)
      offline[view.name] = [...(await sink.readFeatureRows(view))]
        .flatMap(([key, rows]) => rows.map((r) => rowLine(key, r)))
        .sort()
    const parity = await verifyParity({
      offline: sink,
      decoder: decoderOf(dir),
      view: VIEW,
      groupId: GROUP,
      scratch: new MemoryObjectStore(),
    })
    return {
      calls: faults.calls,
      injected: faults.injected,
      first,
      statusAfterFirst,
      second,
      processes,
      liveCalls: liveFaults.calls,
      liveInjected: liveFaults.injected,
      liveDied,
      status,
      viewRows: await sink.readFeatureRows(VIEW),
      offline,
      onlineAfterBackfill,
      onlineAtEnd: await onlineRows(dir, baseline.users),
      deadLetters: letters.map((l) => `${l.partition}/${l.offset} ${l.reason} ${l.view ?? ''}@${l.viewVersion ?? ''}`).sort(),
      parityOk: parity.ok,
      parityDetail: JSON.stringify(parity.differences.slice(0, 2)),
    }
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export { VIEW as BACKFILLED_VIEW }

/**
 * A faulted case ends as the clean run did: the status complete through the same offsets, the same
 * offline rows of every view (multisets of full rows), the same online rows after the backfill and
 * at the end, the same dead letters — at least once (docs/semantics.md §15: records re-processed
 * after a failure may be refused again) — and verify-parity agreeing.
 */
export function assertEndsAsClean(got: CaseOutcome, clean: CaseOutcome, what: string): void {
  assert.equal(got.status?.state, 'complete', `${what}: status`)
  assert.deepEqual(got.status.completeThrough, clean.status!.completeThrough, `${what}: complete through`)
  for (const [view, rows] of Object.entries(clean.offline))
    assert.deepEqual(got.offline[view], rows, `${what}: offline rows of ${view}`)
  assert.deepEqual(got.onlineAfterBackfill, clean.onlineAfterBackfill, `${what}: online rows after the backfill`)
  assert.deepEqual(got.onlineAtEnd, clean.onlineAtEnd, `${what}: online rows at the end`)
  assert.deepEqual([...new Set(got.deadLetters)], clean.deadLetters, `${what}: dead letters`)
  assert.equal(got.parityOk, true, `${what}: parity ${got.parityDetail}`)
}
