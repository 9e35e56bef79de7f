/**
 * The live engine restored from a checkpoint store older than its tables (docs/semantics.md §14, "A
 * checkpoint older than the tables"), on the embedded log: a run checkpoints every partition — the
 * source topic's and a re-keyed view's internal topic's — once per round of records and stops; then,
 * for each earlier round, a copy of the store gets its whole checkpoint directory back as of that
 * round (a backup of it restored) and a new engine consumes the records produced since. The offline
 * rows of a direct view and of a re-keyed one must equal the reference model's over every record
 * (each once), every archive hold each offset once, and the online store each key's latest row.
 * Before, the restarted engine numbered its checkpoints on from the old records: the tables dropped
 * them as already held, and the rows after the old checkpoints were lost or appended twice. The
 * engine also logged the catch-up as "backfilled views handed over to live", though no backfill
 * ran; it now says what it did, per partition behind the archive: the views caught up, from the
 * checkpoint's position to where the archive holds the partition through.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger, type LogFn, type Logger } from '../../../core/logger.ts'
import { CheckpointStore } from '../../../engine/checkpoint-store.ts'
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { consumedView } from '../../../engine/plan-sources.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { OnlineStore } from '../../../ports/online-store.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../../../schemas/encoder.ts'
import { runReference, type ReferenceRecord } from '../../reference/reference-model.ts'
import { readInternalTopic } from '../../fixtures/features/rekey-clicks.ts'
import { copyOf, restoreBackup, type Backup } from '../../support/stale-checkpoints.ts'
import { assertSameRows, prng, waitFor } from '../../support/scenario.ts'
import { PARTITIONS, T0, buys, itemSpend, lifetime, byEntity, assertOnlineHoldsLatest, type Buy } from './crash-chaos-workload.ts'

const GROUP = 'kfs-engine'
const CHECKPOINTS = `checkpoints/${GROUP}/`
const VIEWS = [lifetime, itemSpend]
const ROUNDS = 4

let dir: string
let log: EmbeddedEventLog
let encoder: Encoder
let registry: EmbeddedSchemaRegistry
const produced: { partition: number; offset: string; timestampMs: number; event: Buy }[] = []
const rand = prng(4_242)
let clock = T0

/** Records over every partition, in event-time order with some out of order. */
async function produceRound(count: number): Promise<void> {
  const records = Array.from({ length: count }, () => {
    clock += Math.floor(rand() * 20_000)
    const partition = Math.floor(rand() * PARTITIONS)
    const event: Buy = {
      user_id: `p${partition}u${Math.floor(rand() * 5)}`,
      item_id: `i${Math.floor(rand() * 4)}`,
      amount: Math.round(rand() * 400) / 4,
      ts: clock - Math.floor(rand() * 1_500),
    }
    return { partition, event, timestampMs: clock }
  })
  const acks = await log.produce(
    buys.topic,
    records.map((r) => ({ key: 'k', partition: r.partition, timestampMs: r.timestampMs, value: encoder.encode(r.event) })),
  )
  acks.forEach((ack, i) =>
    produced.push({
      partition: ack.partition,
      offset: ack.offset,
      timestampMs: records[i]!.timestampMs,
      event: records[i]!.event,
    }),
  )
}

/** An online store whose writes are kept, so a copy can be made of what it holds. */
function recording(
  writes: { view: FeatureViewDef; rows: readonly FeatureRow[] }[],
  online = new EmbeddedOnlineStore(),
): OnlineStore {
  return new Proxy(online, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        if (key === 'writeRows') writes.push({ view: args[0] as FeatureViewDef, rows: [...(args[1] as readonly FeatureRow[])] })
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
}

/** A live engine over `store`; `rounds`: between rounds of records, every partition checkpoints and `onRound` runs. */
async function runEngine(
  store: ObjectStore,
  online: OnlineStore,
  rounds: { produce: () => Promise<void>; onRound?: () => Promise<void> }[],
  logger: Logger = silentLogger,
): Promise<void> {
  const engine = createLiveEngine({
    log,
    stateStore: store,
    offline: new IcebergOfflineSink(store, { parquetWorker: false }),
    online,
    deadLetters: { write: async () => undefined, flush: async () => undefined },
    decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
    views: VIEWS,
    groupId: GROUP,
    clock: systemClock,
    logger,
    checkpointMaxRecords: 100_000,
    checkpointIntervalMs: 3_600_000,
    tickMs: 20,
  })
  await engine.start()
  try {
    for (const round of rounds) {
      await round.produce()
      await waitFor(async () => engine.failure !== undefined || (await engine.isCaughtUp(100)), 'caught up')
      assert.equal(engine.failure, undefined)
      await engine.checkpointAll()
      await round.onRound?.()
    }
  } finally {
    await engine.stop()
  }
  assert.equal(engine.failure, undefined)
}

const store = new MemoryObjectStore()
const writes: { view: FeatureViewDef; rows: readonly FeatureRow[] }[] = []
/** The checkpoint directory after each round of the first run. */
const backups: Backup[] = []

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kfs-stale-live-'))
  log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  encoder = await createEncoder({ registry, subject: `${buys.topic}-value`, schema: buys.schema })
  await log.createTopic(buys.topic, PARTITIONS)
  const snapshot = async (): Promise<void> => {
    const copy = new Map<string, Uint8Array>()
    for (const key of await store.list(CHECKPOINTS)) copy.set(key, (await store.get(key))!)
    backups.push(copy)
  }
  await runEngine(
    store,
    recording(writes),
    Array.from({ length: ROUNDS }, () => ({ produce: () => produceRound(40), onRound: snapshot })),
  )
  // What the restarted engines consume after the restore.
  await produceRound(60)
})
after(async () => {
  await log.close()
  await rm(dir, { recursive: true, force: true })
})

async function expectedRows(): Promise<Map<FeatureViewDef, Map<string, FeatureRow[]>>> {
  const input: ReferenceRecord[] = produced.map((r) => ({
    partition: r.partition,
    offset: r.offset,
    eventTimeMs: Number(r.event.ts),
    ingestionTimeMs: r.timestampMs,
    event: { ...r.event },
  }))
  const direct = runReference({ views: [lifetime], source: buys, records: input })
  // The re-keyed view: the reference over its internal topic, as the re-key stage wrote it (once per source record).
  const consumed = consumedView(itemSpend)
  const internal = await readInternalTopic(log, consumed.source.topic, `check-${Date.now()}`, produced.length, 300)
  const bySource = new Map(produced.map((r) => [`${r.partition}/${r.offset}`, r]))
  const internalInput: ReferenceRecord[] = internal.map((r) => {
    const src = bySource.get(`${r.sourcePartition}/${r.sourceOffset}`)!
    return { partition: r.partition, offset: r.offset, eventTimeMs: Number(src.event.ts), event: { ...src.event } }
  })
  const rekeyed = runReference({ views: [consumed], source: consumed.source, records: internalInput })
  return new Map([
    [lifetime, byEntity(direct.views[0]!.partitions.values())],
    [consumed, byEntity(rekeyed.views[0]!.partitions.values())],
  ])
}

/** Each archived record once, in offset order: strictly increasing offsets per partition. */
async function assertArchivedOnce(copy: ObjectStore, topic: string, partitions: number, what: string): Promise<void> {
  const offline = new IcebergOfflineSink(copy, { parquetWorker: false })
  for (let p = 0; p < partitions; p++) {
    const offsets: bigint[] = []
    for await (const row of offline.readArchive(topic, p)) if (row.markerWatermarkMs === null) offsets.push(BigInt(row.offset))
    const twice = offsets.filter((o, i) => i > 0 && o <= offsets[i - 1]!)
    assert.deepEqual(twice, [], `${what}: ${topic}/${p} archived again`)
    if (topic === buys.topic)
      assert.deepEqual(
        offsets.map(String),
        produced.filter((r) => r.partition === p).map((r) => r.offset),
        `${what}: archive of ${topic}/${p}`,
      )
  }
}

/** A logger that keeps the messages logged at info with their fields. */
function recordingLogger(): Logger & { infos: { msg: string; fields: Record<string, unknown> }[] } {
  const infos: { msg: string; fields: Record<string, unknown> }[] = []
  const info: LogFn = (a: object | string, msg?: string) =>
    void (typeof a === 'string'
      ? infos.push({ msg: a, fields: {} })
      : infos.push({ msg: msg ?? '', fields: a as Record<string, unknown> }))
  const logger: Logger = { ...silentLogger, info, child: () => logger }
  return Object.assign(logger, { infos })
}

/**
 * Per partition whose checkpoint in `copy` is older than the first run's last one (the archive holds
 * the partition through that one): the catch-up the restored engine must report, as the reporting
 * test compares it.
 */
async function staleCatchUps(copy: ObjectStore): Promise<string[]> {
  const restored = new CheckpointStore(copy, GROUP)
  const newest = new CheckpointStore(store, GROUP)
  const out: string[] = []
  for (const [source, view] of [
    [buys, lifetime],
    [consumedView(itemSpend).source, itemSpend],
  ] as const) {
    for (let partition = 0; partition < source.partitions; partition++) {
      const was = await restored.latest(source.topic, partition)
      const now = await newest.latest(source.topic, partition)
      assert.ok(was !== undefined && now !== undefined, `${source.topic}/${partition} checkpointed`)
      const { nextOffset: from } = was
      const { nextOffset: to } = now
      // Behind the archive, or at its end with newer checkpoints in the tables: the idle markers
      // archived at the checkpoint's own offset are applied too (engine/restore-point.ts).
      if (BigInt(from) < BigInt(to) || was.seq < now.seq)
        out.push(JSON.stringify({ topic: source.topic, partition, views: [`${view.name}@${view.version}`], from, to }))
    }
  }
  return out.sort()
}

void test('the live engine restored from every earlier round of its checkpoints: every row once, the direct and the re-keyed view', async (t) => {
  assert.equal(backups.length, ROUNDS)
  let expected: Map<FeatureViewDef, Map<string, FeatureRow[]>> | undefined
  for (const [round, backup] of backups.entries()) {
    const what = `checkpoints restored as of round ${round + 1} of ${ROUNDS}`
    await t.test(what, async () => {
      const copy = await copyOf(store)
      await restoreBackup(copy, CHECKPOINTS, backup)
      const online = new EmbeddedOnlineStore()
      for (const w of writes) await online.writeRows(w.view, w.rows)
      const caughtUp = await staleCatchUps(copy)
      // Every backup is older than the tables on both topics: later rounds' records, and for the
      // last round the checkpoints the engine took as it stopped.
      const behind = new Set(caughtUp.map((line) => (JSON.parse(line) as { topic: string }).topic))
      assert.deepEqual([...behind].sort(), [buys.topic, consumedView(itemSpend).source.topic].sort(), caughtUp.join('\n'))
      const logger = recordingLogger()
      await runEngine(copy, online, [{ produce: async () => undefined }], logger)
      // What the engine did, said as it was: a catch-up past the stale checkpoint, from its position
      // to where the archive holds the partition through — no backfill hand-over.
      const said = (msg: string) =>
        logger.infos
          .filter((i) => i.msg === msg)
          .map(({ fields: { topic, partition, views, from, to } }) => JSON.stringify({ topic, partition, views, from, to }))
          .sort()
      assert.deepEqual(said('backfilled views handed over to live'), [], `${what}: no backfill ran`)
      assert.deepEqual(
        said(
          'views caught up from the archive past a checkpoint older than the tables (its newer records are gone): no backfill ran',
        ),
        caughtUp,
        `${what}: one line per partition whose checkpoint is older than the tables`,
      )
      expected ??= await expectedRows()
      for (const [view, rows] of expected) {
        assertSameRows(await readFeatureRowsByEntity(copy, view), rows, `${view.name} offline, ${what}`)
        await assertOnlineHoldsLatest(online, view, rows, what)
      }
      await assertArchivedOnce(copy, buys.topic, PARTITIONS, what)
      const internal = consumedView(itemSpend).source
      await assertArchivedOnce(copy, internal.topic, internal.partitions, what)
    })
  }
})
