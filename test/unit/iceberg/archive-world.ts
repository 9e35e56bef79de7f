/**
 * A raw archive built the way the engine builds it (one commit per partition per checkpoint, with
 * its checkpoint marker), from random checkpoints of records, tombstones, records that do not
 * decode, gaps and idle markers (several at one offset, marker-only checkpoints); and the reference
 * it must read as. What the archive compaction tests (archive-compaction*.test.ts) share.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { CompactionScheduler, type AutomaticCompaction } from '../../../adapters/offline/iceberg/automatic-compaction.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import type { Clock } from '../../../core/clock.ts'
import type { ArchiveRow, StagedFiles } from '../../../ports/offline.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'

export const TOPIC = 'taps'
export const T0 = Date.UTC(2026, 0, 1)
export const MINUTE = 60_000

export type Item = { readonly kind: 'record' | 'tombstone' | 'poison' | 'marker'; readonly gap: number; readonly size: number }

const item = fc.record({
  kind: fc.constantFrom<Item['kind']>('record', 'record', 'tombstone', 'poison', 'marker', 'marker'),
  gap: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 3 })),
  size: fc.nat(12),
})

/** One checkpoint's items; often idle ones (markers only, at the offset the next record will have). */
export const checkpointItems: fc.Arbitrary<Item[]> = fc.oneof(
  { weight: 3, arbitrary: fc.array(item, { minLength: 1, maxLength: 6 }) },
  {
    weight: 2,
    arbitrary: fc.array(
      item.map((i): Item => ({ ...i, kind: 'marker' })),
      { minLength: 1, maxLength: 2 },
    ),
  },
)

/** A clock the test moves: snapshot times (which files are old enough) follow it. */
export class ManualClock implements Clock {
  // Not before now: a table created on the system clock keeps snapshot times from going back.
  now = Date.now()
  nowMs(): number {
    return this.now
  }
  sleep(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve))
  }
}

export interface ArchiveCheckpoint {
  readonly partition: number
  readonly seq: number
  readonly staged: StagedFiles
}

/** Per partition, the rows appended so far (the reference) and the next offset and checkpoint. */
export class ArchiveWorld {
  readonly clock = new ManualClock()
  readonly rows = new Map<number, ArchiveRow[]>()
  readonly #next = new Map<number, number>()
  readonly #seq = new Map<number, number>()
  readonly tableId: string
  sink: IcebergOfflineSink
  /** The engine's automatic compaction (`compactInRun`), and the failures it reported. */
  scheduler: CompactionScheduler | undefined
  readonly errors: unknown[] = []
  /** Each partition's first and last checkpoint, as a restart would roll it forward. */
  readonly first = new Map<number, ArchiveCheckpoint>()
  readonly last = new Map<number, ArchiveCheckpoint>()

  readonly store: ObjectStore
  constructor(store: ObjectStore = new MemoryObjectStore()) {
    this.store = store
    this.sink = this.newSink()
    this.tableId = this.sink.tableId({ kind: 'archive', topic: TOPIC })
  }

  /** A world of its own with this one's archive (its objects copied) and reference. */
  async copy(): Promise<ArchiveWorld> {
    const store = new MemoryObjectStore()
    for (const key of await this.store.list('')) await store.put(key, (await this.store.get(key))!)
    const world = new ArchiveWorld(store)
    world.clock.now = this.clock.now
    for (const [p, rows] of this.rows) world.rows.set(p, [...rows])
    for (const [p, n] of this.#next) world.#next.set(p, n)
    for (const [p, n] of this.#seq) world.#seq.set(p, n)
    for (const [p, cp] of this.first) world.first.set(p, cp)
    for (const [p, cp] of this.last) world.last.set(p, cp)
    return world
  }

  /** From now on `sink` is an engine's that compacts in the background as `kfs run`'s does, over `store` (default: the world's). */
  compactInRun(settings: Omit<AutomaticCompaction, 'onError'>, store: ObjectStore = this.store): this {
    this.scheduler = new CompactionScheduler({ ...settings, onError: (err) => this.errors.push(err) }, { clock: this.clock })
    this.sink = new IcebergOfflineSink(store, { parquetWorker: false, clock: this.clock, automaticCompaction: this.scheduler })
    return this
  }

  /** A restart's roll-forward of each partition's first and last checkpoint, by a new process: recognised, nothing committed. */
  async assertRollForwardsRecognised(what: string): Promise<void> {
    const restarted = this.newSink()
    const before = (await restarted.snapshots(this.tableId)).length
    for (const cp of [...this.first.values(), ...this.last.values()])
      await restarted.commit(this.tableId, [cp.staged], { [`kfs-engine/${TOPIC}/${cp.partition}`]: cp.seq }, {})
    assert.equal((await restarted.snapshots(this.tableId)).length, before, `${what}: a roll-forward committed again`)
  }

  newSink(store: ObjectStore = this.store): IcebergOfflineSink {
    return new IcebergOfflineSink(store, { parquetWorker: false, clock: this.clock })
  }

  /** One checkpoint's rows of `partition`, as the engine would archive them. */
  checkpointRows(partition: number, items: readonly Item[]): ArchiveRow[] {
    let next = this.#next.get(partition) ?? 0
    const out: ArchiveRow[] = []
    for (const item of items) {
      if (item.kind === 'marker') {
        // A marker carries the next offset to read: at most the next record's.
        out.push({
          partition,
          offset: String(next),
          eventTimeMs: null,
          key: null,
          schemaId: null,
          payload: null,
          markerWatermarkMs: this.clock.now - item.size,
          timestampMs: -1,
        })
        continue
      }
      const offset = next + item.gap
      next = offset + 1
      const body = Uint8Array.from({ length: item.size }, (_, i) => (offset * 7 + i) & 0xff)
      out.push({
        partition,
        offset: String(offset),
        eventTimeMs: item.kind === 'poison' ? null : T0 + offset * 10,
        key: item.size % 5 === 4 ? null : Uint8Array.of(partition, offset & 0xff),
        schemaId: item.kind === 'record' ? 1 : null,
        payload:
          item.kind === 'tombstone'
            ? null
            : item.kind === 'poison'
              ? body.map((b) => b ^ 0x5a)
              : Uint8Array.of(0, 0, 0, 0, 1, ...body),
        markerWatermarkMs: null,
        timestampMs: item.size === 0 ? -1 : this.clock.now,
      })
    }
    return out
  }

  /** Stages and commits one checkpoint of `partition` through `sink` (the engine's path), then counts it in the reference. */
  async append(partition: number, items: readonly Item[], sink: IcebergOfflineSink = this.sink): Promise<void> {
    const rows = this.checkpointRows(partition, items)
    const seq = (this.#seq.get(partition) ?? 0) + 1
    const staged = await sink.stageArchiveRows(TOPIC, rows)
    await sink.commit(this.tableId, [staged], { [`kfs-engine/${TOPIC}/${partition}`]: seq }, {})
    this.#commit(partition, rows, seq)
    const cp = { partition, seq, staged }
    if (!this.first.has(partition)) this.first.set(partition, cp)
    this.last.set(partition, cp)
  }

  /** Counts a checkpoint committed elsewhere (a racing engine) in the reference. */
  #commit(partition: number, rows: readonly ArchiveRow[], seq: number): void {
    this.#seq.set(partition, seq)
    const last = rows.reduce(
      (n, r) => (r.markerWatermarkMs === null ? Math.max(n, Number(r.offset) + 1) : Math.max(n, Number(r.offset))),
      this.#next.get(partition) ?? 0,
    )
    this.#next.set(partition, last)
    this.rows.set(partition, [...(this.rows.get(partition) ?? []), ...rows])
  }

  get partitions(): number[] {
    return [...this.rows.keys()].sort((a, b) => a - b)
  }
}

const hex = (b: Uint8Array | null): string => (b === null ? 'null' : Buffer.from(b).toString('hex'))

/** A row as text, every field the archive keeps (offsets as read: strings). */
export function rowText(r: ArchiveRow): string {
  return [
    r.partition,
    String(r.offset),
    r.eventTimeMs,
    hex(r.key),
    r.schemaId,
    hex(r.payload),
    r.markerWatermarkMs,
    r.timestampMs,
  ].join('|')
}

/** One partition of the archive as read, as text. */
export async function readPartition(
  sink: IcebergOfflineSink,
  partition: number,
  options: { fromOffset?: string; untilOffset?: string; snapshotId?: string } = {},
): Promise<string[]> {
  const out: string[] = []
  for await (const r of sink.readArchive(TOPIC, partition, options)) out.push(rowText(r))
  return out
}

/** Every partition reads the reference's rows in its order, and ends where the reference does. */
export async function assertReadsReference(world: ArchiveWorld, what: string): Promise<void> {
  const sink = world.newSink()
  for (const p of world.partitions)
    assert.deepEqual(await readPartition(sink, p), world.rows.get(p)!.map(rowText), `${what}: partition ${p}`)
  const end = await sink.archiveEnd(TOPIC)
  for (const p of world.partitions) {
    const rows = world.rows.get(p)!
    const records = rows.filter((r) => r.markerWatermarkMs === null).map((r) => Number(r.offset) + 1)
    const markers = rows.filter((r) => r.markerWatermarkMs !== null).map((r) => Number(r.offset))
    assert.equal(
      end.nextOffsets[p],
      String(Math.max(...records, ...markers.map((m) => m + 1))),
      `${what}: where partition ${p} ends`,
    )
  }
}

/** Fixed checkpoint items: a record, a tombstone, a marker and a record that does not decode; every third a marker-only checkpoint. */
export const fixedItems = (i: number): Item[] =>
  i % 3 === 2
    ? [{ kind: 'marker', gap: 0, size: 1 }]
    : [
        { kind: 'record', gap: i % 2, size: 3 + i },
        { kind: 'tombstone', gap: 0, size: 2 },
        { kind: 'marker', gap: 0, size: 1 },
        { kind: 'poison', gap: 0, size: 4 },
      ]
