/**
 * A feature table written as a live engine writes it — each checkpoint, every source partition
 * stages its rows and commits them with its checkpoint marker — through the real offline sink with
 * the engine's automatic compaction (adapters/offline/iceberg/automatic-compaction.ts), on a memory
 * store and a clock the test moves. What was committed is kept, to compare the table with.
 */
import assert from 'node:assert/strict'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { CompactionScheduler, type AutomaticCompaction } from '../../../adapters/offline/iceberg/automatic-compaction.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { liveEntriesOf } from '../../../adapters/offline/iceberg/table-reader.ts'
import type { Clock } from '../../../core/clock.ts'
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import * as examples from '../../../examples/features.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { OfflineFeatureRow, StagedFiles } from '../../../ports/offline.ts'

export const DAY = 86_400_000
export const HOUR = 3_600_000
export const TOPIC = 'clicks'

const base = examples.userClicks.features[0]!.aggregation
export const VIEW: FeatureViewDef = {
  ...examples.userClicks,
  name: 'compacted_view',
  version: 1,
  features: (['long', 'string', 'double[]'] as const).map((type, i) => ({ name: `f${i}`, type, aggregation: base })),
}

export interface Checkpoint {
  readonly partition: number
  readonly seq: number
  readonly staged: StagedFiles
  readonly rows: readonly OfflineFeatureRow[]
}

export class FeatureWorld {
  now = Date.UTC(2030, 0, 1)
  readonly clock: Clock = { nowMs: () => this.now, sleep: () => new Promise((r) => setImmediate(r)) }
  readonly memory: MemoryObjectStore
  readonly scheduler: CompactionScheduler
  readonly sink: IcebergOfflineSink
  readonly tableId: string
  readonly errors: unknown[] = []
  readonly committed: OfflineFeatureRow[] = []
  readonly last = new Map<number, Checkpoint>()
  readonly #offsets = new Map<number, number>()
  readonly #seqs = new Map<number, number>()
  /** The first checkpoint of each partition. */
  readonly first = new Map<number, Checkpoint>()

  constructor(
    settings: Omit<AutomaticCompaction, 'onError'>,
    options: { readonly memory?: MemoryObjectStore; readonly store?: (memory: MemoryObjectStore) => ObjectStore } = {},
  ) {
    this.memory = options.memory ?? new MemoryObjectStore('memory://kfs', this.clock)
    this.scheduler = new CompactionScheduler({ ...settings, onError: (err) => this.errors.push(err) }, { clock: this.clock })
    const store = options.store?.(this.memory) ?? this.memory
    this.sink = new IcebergOfflineSink(store, { clock: this.clock, parquetWorker: false, automaticCompaction: this.scheduler })
    this.tableId = this.sink.tableId({ kind: 'feature', view: VIEW })
  }

  /** Goes on where `other` (on a copy of its store) left off: its clock, offsets, markers and rows. */
  continueFrom(other: FeatureWorld): this {
    this.now = other.now
    for (const [p, n] of other.#offsets) this.#offsets.set(p, n)
    for (const [p, n] of other.#seqs) this.#seqs.set(p, n)
    for (const [p, cp] of other.first) this.first.set(p, cp)
    for (const [p, cp] of other.last) this.last.set(p, cp)
    this.committed.push(...other.committed)
    return this
  }

  /** `rows` rows of `partition`'s entities at `asOfMs`, each from its own record (offsets go on per partition). */
  rowsOf(partition: number, rows: number, asOfMs: number): OfflineFeatureRow[] {
    return Array.from({ length: rows }, (_, i) => {
      const offset = this.#offsets.get(partition) ?? 0
      this.#offsets.set(partition, offset + 1)
      const n = partition * 1_000_000 + offset
      return {
        entityKey: `p${partition}-e${offset % 7}`,
        asOfMs: asOfMs + i,
        createdAtMs: asOfMs + i + 5,
        values: [n % 5 === 0 ? null : n, `v${n}`, [n / 4, -n]],
        origin: { partition, offset: String(offset), seq: 0, marker: false },
      }
    })
  }

  /** One checkpoint of `partition`: its rows staged, then committed with its marker. */
  async checkpoint(partition: number, rows: readonly OfflineFeatureRow[]): Promise<Checkpoint> {
    const seq = (this.#seqs.get(partition) ?? 0) + 1
    this.#seqs.set(partition, seq)
    const staged = await this.sink.stageFeatureRows(VIEW, rows)
    await this.sink.commit(this.tableId, [staged], { [`${TOPIC}/${partition}`]: seq }, {})
    this.committed.push(...rows)
    const cp = { partition, seq, staged, rows }
    this.last.set(partition, cp)
    if (!this.first.has(partition)) this.first.set(partition, cp)
    return cp
  }

  /** Live files per day partition of the current snapshot, with their rows. */
  async partitions(): Promise<Map<number, { files: number; rows: number }>> {
    const out = new Map<number, { files: number; rows: number }>()
    for (const e of await liveEntriesOf(await loadTable(this.memory, this.tableId))) {
      const day = e.dataFile.partition[0]!
      const p = out.get(day) ?? { files: 0, rows: 0 }
      out.set(day, { files: p.files + 1, rows: p.rows + e.dataFile.recordCount })
    }
    return out
  }

  /** A restart's roll-forward of each partition's first and last checkpoint, by a new process: recognised, nothing committed. */
  async assertRollForwardsRecognised(what: string): Promise<void> {
    const restarted = new IcebergOfflineSink(this.memory, { clock: this.clock, parquetWorker: false })
    const before = (await restarted.snapshots(this.tableId)).length
    for (const cp of [...this.first.values(), ...this.last.values()])
      await restarted.commit(this.tableId, [cp.staged], { [`${TOPIC}/${cp.partition}`]: cp.seq }, {})
    assert.equal((await restarted.snapshots(this.tableId)).length, before, `${what}: a roll-forward committed again`)
  }

  /** The table reads every committed row once, per entity in archive order, values and all. */
  async assertEveryRowOnce(what: string): Promise<void> {
    const read = await new IcebergOfflineSink(this.memory, { parquetWorker: false }).readFeatureRows(VIEW)
    const expected = expectedByEntity(this.committed)
    assert.deepEqual([...read.keys()].sort(), [...expected.keys()].sort(), `${what}: entities`)
    for (const [key, rows] of expected) assert.deepEqual(read.get(key), rows, `${what}: rows of ${key}`)
  }
}

/** What readFeatureRows must return: per entity, in (offset, seq) order, without created_at. */
export function expectedByEntity(rows: readonly OfflineFeatureRow[]): Map<string, FeatureRow[]> {
  const sorted = [...rows].sort((a, b) => Number(a.origin.offset) - Number(b.origin.offset) || a.origin.seq - b.origin.seq)
  const out = new Map<string, FeatureRow[]>()
  for (const r of sorted)
    out.set(r.entityKey, [...(out.get(r.entityKey) ?? []), { entityKey: r.entityKey, asOfMs: r.asOfMs, values: r.values }])
  return out
}

/** A copy of every object of `memory`, on `clock`. */
export async function copyOf(memory: MemoryObjectStore, clock: Clock): Promise<MemoryObjectStore> {
  const copy = new MemoryObjectStore('memory://kfs', clock)
  for (const key of await memory.list('')) await copy.put(key, (await memory.get(key))!)
  return copy
}
