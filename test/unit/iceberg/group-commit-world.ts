/**
 * Partitions of one topic checkpointing into an archive table and a feature table through the
 * engine's own commit step (engine/roll-forward.ts: the archive first, then the feature table, each
 * with the partition's marker, offset and rows-through), over a memory store seen through
 * `StepStore` — which counts calls, faults the n-th, or crashes there (that call and every later one
 * never answer: the process is gone) — plus the test's own account of what the tables must hold.
 */
import assert from 'node:assert/strict'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { loadTable, readRows } from '../../../adapters/offline/iceberg/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import type { Clock } from '../../../core/clock.ts'
import { CheckpointStore, type PartitionCheckpoint } from '../../../engine/checkpoint-store.ts'
import { rollForward } from '../../../engine/roll-forward.ts'
import * as examples from '../../../examples/features.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { ArchiveRow, OfflineFeatureRow, OfflineSnapshot } from '../../../ports/offline.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'

export const TOPIC = 'clicks'
export const GROUP = 'kfs-engine'
const T0 = Date.UTC(2030, 0, 1)
/** Offsets per checkpoint of a partition. */
const PER_CHECKPOINT = 2

export const view: FeatureViewDef = {
  ...examples.userClicks,
  name: 'group_commit_view',
  version: 1,
  features: examples.userClicks.features.slice(0, 2),
}

export class InjectedFault extends Error {
  override readonly name = 'InjectedFault'
}

export type StepFault = 'before' | 'after' | 'crash'
export type StoreCall = 'get' | 'put' | 'putIfAbsent' | 'delete' | 'list' | 'listWithTimes'

/** A store whose calls are counted while `counting`; the call numbered `fault.at` fails as `fault.how` says. */
export class StepStore {
  readonly store: ObjectStore
  calls = 0
  counting = false
  fault: { readonly at: number; readonly how: StepFault } | undefined
  /** Calls left unanswered by a crash. */
  hung = 0
  /** Before each counted call: a test may hold it (a gate) or let other work run first (yields). */
  beforeCall: (call: StoreCall, key: string) => Promise<void> = () => Promise.resolve()

  constructor(inner: ObjectStore) {
    const run = async <T>(call: StoreCall, key: string, apply: () => Promise<T>): Promise<T> => {
      if (!this.counting) return apply()
      const n = this.calls++
      await this.beforeCall(call, key)
      const fault = this.fault
      if (fault !== undefined && (n === fault.at || (fault.how === 'crash' && n > fault.at))) {
        if (fault.how === 'crash') {
          this.hung++
          return new Promise<T>(() => undefined)
        }
        if (fault.how === 'before') throw new InjectedFault(`injected failure of call ${n} (${key})`)
        await apply()
        throw new InjectedFault(`injected lost answer of call ${n} (${key})`)
      }
      return apply()
    }
    this.store = {
      ...forwardingStore(inner),
      get: (k) => run('get', k, () => inner.get(k)),
      put: (k, b) => run('put', k, () => inner.put(k, b)),
      putIfAbsent: (k, b) => run('putIfAbsent', k, () => inner.putIfAbsent(k, b)),
      delete: (k) => run('delete', k, () => inner.delete(k)),
      list: (p) => run('list', p, () => inner.list(p)),
      listWithTimes: (p) => run('listWithTimes', p, () => inner.listWithTimes(p)),
    }
  }
}

/** Back-off sleeps take a turn of the event loop; time stands still. */
export const fastClock: Clock = { nowMs: () => T0, sleep: () => new Promise((resolve) => setImmediate(resolve)) }

export const sinkOn = (store: ObjectStore): IcebergOfflineSink =>
  new IcebergOfflineSink(store, { clock: fastClock, parquetWorker: false })

export const markerName = (partition: number): string => `${GROUP}/${TOPIC}/${partition}`

/** A partition's checkpoint `seq` covers offsets [(seq − 1)·2, seq·2): one archive row and one feature row each. */
function archiveRows(partition: number, seq: number): ArchiveRow[] {
  return offsetsOf(seq).map((offset) => ({
    partition,
    offset: String(offset),
    eventTimeMs: T0 + offset,
    key: Uint8Array.of(partition, offset),
    schemaId: 1,
    payload: Uint8Array.of(0, 0, 0, 0, 1),
    markerWatermarkMs: null,
    timestampMs: T0 + offset,
  }))
}

function featureRows(partition: number, seq: number): OfflineFeatureRow[] {
  return offsetsOf(seq).map((offset) => ({
    entityKey: `u${partition}`,
    asOfMs: T0 + offset * 1_000,
    createdAtMs: T0 + offset * 1_000,
    values: [offset, offset],
    origin: { partition, offset: String(offset), seq: 0, marker: false },
  }))
}

const offsetsOf = (seq: number): number[] => Array.from({ length: PER_CHECKPOINT }, (_, i) => (seq - 1) * PER_CHECKPOINT + i)

/** The tables' id and the way to commit records into them, as the engine's step 4 does. */
export class GroupWorld {
  readonly memory = new MemoryObjectStore('memory://kfs', fastClock)
  readonly archiveId: string
  readonly featureId: string
  readonly #records = new Map<string, PartitionCheckpoint>()

  constructor() {
    const sink = sinkOn(this.memory)
    this.archiveId = sink.tableId({ kind: 'archive', topic: TOPIC })
    this.featureId = sink.tableId({ kind: 'feature', view })
  }

  /** A world holding every object of this one and knowing its records: staged once, tried many times. */
  async copy(): Promise<GroupWorld> {
    const copy = new GroupWorld()
    for (const key of await this.memory.list('')) await copy.memory.put(key, (await this.memory.get(key))!)
    for (const [key, record] of this.#records) copy.#records.set(key, record)
    return copy
  }

  /** Partition `partition`'s checkpoint record `seq`, its files staged once (healthy: staging is not under test). */
  async record(partition: number, seq: number): Promise<PartitionCheckpoint> {
    const key = `${partition}/${seq}`
    const known = this.#records.get(key)
    if (known !== undefined) return known
    const sink = sinkOn(this.memory)
    const staged = [
      await sink.stageArchiveRows(TOPIC, archiveRows(partition, seq)),
      await sink.stageFeatureRows(view, featureRows(partition, seq)),
    ]
    const record: PartitionCheckpoint = {
      seq,
      topic: TOPIC,
      partition,
      nextOffset: String(seq * PER_CHECKPOINT),
      watermarkMs: null,
      views: [{ view: `${view.name}@${view.version}` }],
      staged,
      createdAtMs: T0,
    }
    this.#records.set(key, record)
    return record
  }

  /** The engine's step 4 (and a restart's roll-forward) of `record` through `sink`. */
  rollForward(sink: IcebergOfflineSink, record: PartitionCheckpoint): Promise<void> {
    return rollForward(record, { offline: sink, checkpoints: new CheckpointStore(this.memory, GROUP) })
  }

  /**
   * Checks both tables against `committed` (partition → the checkpoint seqs they must hold; a
   * partition's seqs are 1..n): every snapshot holds exactly the rows of the checkpoints whose
   * markers it shows, each once; the last shows every partition's marker at its newest seq, its
   * offset and where its rows reach. Returns how many snapshots each table has.
   */
  async assertTables(committed: ReadonlyMap<number, number>): Promise<{ archive: number; feature: number }> {
    const counts = { archive: 0, feature: 0 }
    for (const [kind, tableId] of [
      ['archive', this.archiveId],
      ['feature', this.featureId],
    ] as const) {
      const snapshots = await this.assertSnapshots(kind)
      const table = await loadTable(this.memory, tableId)
      counts[kind] = snapshots.length
      const last = snapshots.at(-1)
      const expected = Object.fromEntries([...committed].filter(([, seq]) => seq > 0).map(([p, seq]) => [markerName(p), seq]))
      assert.deepEqual(last?.markers ?? {}, expected, `${kind} table's markers`)
      const summaries = table.metadata.snapshots.map((snap) => snap.summary ?? {})
      for (const [p, seq] of committed) {
        if (seq === 0) continue
        const name = markerName(p)
        const offsets = summaries.map((summary) => summary[`kfs.offset.${name}`]).filter((v) => v !== undefined)
        assert.equal(
          offsets.at(-1),
          String(seq * PER_CHECKPOINT),
          `${kind}: partition ${p}'s offset in the snapshot of its last checkpoint`,
        )
        if (kind === 'feature')
          assert.equal(last?.rowsThrough[name], (BigInt(seq * PER_CHECKPOINT) << 21n).toString(), `partition ${p}'s rows-through`)
      }
    }
    return counts
  }

  /** Every snapshot of the table holds exactly the rows of the checkpoints whose markers it shows, each once. */
  async assertSnapshots(kind: 'archive' | 'feature'): Promise<OfflineSnapshot[]> {
    const tableId = kind === 'archive' ? this.archiveId : this.featureId
    const snapshots = await sinkOn(this.memory).snapshots(tableId)
    if (snapshots.length === 0) return snapshots
    const table = await loadTable(this.memory, tableId)
    for (const s of snapshots) {
      const want: string[] = []
      for (const [name, seq] of Object.entries(s.markers)) {
        const partition = Number(name.slice(name.lastIndexOf('/') + 1))
        for (let q = 1; q <= seq; q++) for (const o of offsetsOf(q)) want.push(`${partition}:${o}`)
      }
      const have: string[] = []
      for await (const row of readRows(table, { snapshotId: BigInt(s.snapshotId), longAs: 'bigint' })) {
        if (kind === 'archive') have.push(`${String(row.partition)}:${String(row.offset)}`)
        else have.push(`${String(row.entity_key).slice(1)}:${String(BigInt(row.seq as bigint) >> 21n)}`)
      }
      assert.deepEqual(
        have.sort(),
        want.sort(),
        `${kind} snapshot ${s.snapshotId} (markers ${JSON.stringify(s.markers)}) holds exactly its checkpoints' rows, once`,
      )
    }
    return snapshots
  }
}

/** A world with checkpoints 1..`checkpoints` of partitions 0..`partitions` − 1 staged, and no commit yet: `copy()` it per case. */
export async function stagedWorld(partitions: number, checkpoints: number): Promise<GroupWorld> {
  const world = new GroupWorld()
  for (let p = 0; p < partitions; p++) for (let seq = 1; seq <= checkpoints; seq++) await world.record(p, seq)
  return world
}
