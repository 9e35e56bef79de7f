/**
 * Checkpoints older than the tables (test/unit/engine/stale-checkpoints.test.ts, docs/semantics.md §14
 * "A checkpoint older than the tables"): a stream of records and idle markers per partition
 * (./deploy-sequence.ts) runs through partition slots — live ones, which archive, or a view's
 * backfill — over an object store that keeps a copy of a partition's checkpoint directory at every
 * publish, as a backup taken then would. A copy of the whole store later gets one partition's
 * directory back as of an earlier checkpoint and runs on to the stream's end.
 */
import assert from 'node:assert/strict'
import { silentLogger } from '../../core/logger.ts'
import type { FeatureRow, FeatureViewDef } from '../../features/types.ts'
import { CheckpointStore } from '../../engine/checkpoint-store.ts'
import { PartitionSlot, type SlotOutput } from '../../engine/partition-slot.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { purchases } from '../../examples/features.ts'
import { backfillView } from '../../replay/backfill.ts'
import type { DeadLetter } from '../../ports/dead-letters.ts'
import type { ListedObject, ObjectStore } from '../../ports/object-store.ts'
import type { ArchiveRow, OfflineSink } from '../../ports/offline.ts'
import type { OnlineStore } from '../../ports/online-store.ts'
import type { Decoder } from '../../schemas/decoder.ts'
import { fastClock, GROUP, liveSlotOptions, PARTITIONS, type Item } from './deploy-sequence.ts'

export { GROUP }

const CKPT = /^(checkpoints\/[^/]+\/[^/]+\/\d+\/)ckpt-(\d+)\.json$/

/** The objects under one checkpoint directory, as they were right after a publish. */
export type Backup = ReadonlyMap<string, Uint8Array>

/** A memory object store that copies a partition's checkpoint directory at each checkpoint publish. */
export class BackedUpStore implements ObjectStore {
  readonly rootUri: string
  readonly inner: MemoryObjectStore
  /** Directory → seq → the directory right after that record's publish. */
  readonly backups = new Map<string, Map<number, Backup>>()

  constructor(inner = new MemoryObjectStore()) {
    this.inner = inner
    this.rootUri = inner.rootUri
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.inner.get(key)
  }
  put(key: string, body: Uint8Array): Promise<void> {
    return this.inner.put(key, body)
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key)
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix)
  }
  listWithTimes(prefix: string): Promise<ListedObject[]> {
    return this.inner.listWithTimes(prefix)
  }
  uriOf(key: string): string {
    return this.inner.uriOf(key)
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const created = await this.inner.putIfAbsent(key, body)
    const record = CKPT.exec(key)
    if (created && record) {
      const [, dir, seq] = record
      const copy = new Map<string, Uint8Array>()
      for (const k of await this.inner.list(dir!)) copy.set(k, (await this.inner.get(k))!)
      const byseq = this.backups.get(dir!) ?? new Map<number, Backup>()
      byseq.set(Number(seq), copy)
      this.backups.set(dir!, byseq)
    }
    return created
  }
}

/** A copy of every object of `store`, under the same root (Iceberg metadata holds absolute paths). */
export async function copyOf(store: ObjectStore): Promise<BackedUpStore> {
  const copy = new MemoryObjectStore(store.rootUri)
  for (const key of await store.list('')) await copy.put(key, (await store.get(key))!)
  return new BackedUpStore(copy)
}

/** Puts checkpoint directory `dir` of `store` back as `backup` holds it: what restoring a backup of it does. */
export async function restoreBackup(store: ObjectStore, dir: string, backup: Backup): Promise<void> {
  for (const key of await store.list(dir)) await store.delete(key)
  for (const [key, body] of backup) await store.put(key, body)
}

export function checkpointDir(group: string, partition: number, topic = purchases.topic): string {
  return `checkpoints/${encodeURIComponent(group)}/${encodeURIComponent(topic)}/${partition}/`
}

/** The number of records among the first `at` items: the offset a cut after item `at` resumes at. */
function offsetAt(items: readonly Item[], at: number): string {
  return String(items.slice(0, at).filter((i) => 'record' in i).length)
}

/** One store and what runs over it leave besides its tables: online rows, dead letters, where each checkpoint cut the stream. */
export class Line {
  readonly store: BackedUpStore
  readonly items: Item[][]
  readonly decoder: Decoder
  online = new EmbeddedOnlineStore()
  /** Every online write, in order: a copy of the line replays them into its own store. */
  writes: { view: FeatureViewDef; rows: FeatureRow[] }[] = []
  letters: DeadLetter[] = []
  /** `${partition}/${seq}` → the index of the item a live checkpoint of that seq resumes at. */
  cuts = new Map<string, number>()

  constructor(store: BackedUpStore, items: Item[][], decoder: Decoder) {
    this.store = store
    this.items = items
    this.decoder = decoder
  }

  /** A copy: the store's objects, the online rows, the dead letters and the cuts (no backups). */
  async copy(): Promise<Line> {
    const line = new Line(await copyOf(this.store), this.items, this.decoder)
    for (const w of this.writes) await line.#write(w.view, w.rows)
    line.letters = [...this.letters]
    line.cuts = new Map(this.cuts)
    return line
  }

  async #write(view: FeatureViewDef, rows: FeatureRow[]): Promise<void> {
    this.writes.push({ view, rows })
    await this.online.writeRows(view, rows)
  }

  sink(): IcebergOfflineSink {
    return new IcebergOfflineSink(this.store, { clock: fastClock, parquetWorker: false })
  }

  /**
   * Runs live partition `p` with `views` from its checkpoint to item `until`, checkpointing every
   * `every` items and at the end. `dieAtCommit`: that commit of the last checkpoint (1-based)
   * fails, and every one after it — the process dies with its newest record published.
   */
  async live(
    p: number,
    views: readonly FeatureViewDef[],
    options: { until: number; every: number; dieAtCommit?: number },
  ): Promise<void> {
    let armed = false
    const offline = this.#dyingSink(options.dieAtCommit, () => armed)
    const slot = await PartitionSlot.restore(liveSlotOptions(this.store, this.decoder, p, views), {
      offline,
      checkpoints: new CheckpointStore(this.store, GROUP),
      clock: fastClock,
      logger: silentLogger,
    })
    await this.#deliver(views, await slot.catchUp(Date.now()))
    const items = this.items[p]!
    let at = this.#resumeAt(p, slot)
    const checkpoint = async (): Promise<void> => {
      this.cuts.set(`${p}/${slot.seq + 1}`, at!)
      assert.ok(await slot.checkpoint(), `partition ${p}: fenced`)
    }
    let processed = 0
    while (at < options.until) {
      const item = items[at]!
      const out =
        'record' in item ? await slot.processRecords([item.record], Date.now()) : slot.processMarker(item.markerMs, Date.now())
      at++
      await this.#deliver(views, out)
      if (++processed % options.every === 0) await checkpoint()
    }
    if (options.dieAtCommit !== undefined) {
      armed = true
      const died = await checkpoint().then(
        () => false,
        () => true,
      )
      assert.ok(died, `partition ${p}: the last checkpoint's commit ${options.dieAtCommit} did not fail`)
      return
    }
    await checkpoint()
  }

  /**
   * The item the slot resumes at: the cut of its seq — or, when the newest checkpoint's commits reached
   * the archive (committed first) and not every feature table, of the newest seq whose cut is at the
   * slot's position (the archive's): the live input goes on from there, idle markers included.
   */
  #resumeAt(p: number, slot: PartitionSlot): number {
    if (slot.seq === 0) return 0
    for (let seq = slot.seq; seq > 0; seq--) {
      const at = this.cuts.get(`${p}/${seq}`)
      assert.ok(at !== undefined, `partition ${p}: seq ${seq}, a checkpoint no run took`)
      if (offsetAt(this.items[p]!, at) === slot.nextOffset) return at
    }
    assert.fail(`partition ${p}: resumed at ${slot.nextOffset} (seq ${slot.seq}), where no checkpoint cut the stream`)
  }

  /**
   * Backfills `view` from the archive, checkpointing every `every` rows (replay/backfill.ts);
   * `dieAtCommit`: the backfill dies at that table commit (1-based), its record published.
   */
  async backfill(view: FeatureViewDef, every: number, dieAtCommit?: number): Promise<void> {
    const run = backfillView({
      offline: this.#dyingSink(dieAtCommit, () => true),
      stateStore: this.store,
      decoder: this.decoder,
      view,
      liveGroupId: GROUP,
      // The line's writes, so a copy of it replays them (the backfill asks nothing else of the store).
      online: {
        writeRows: (v: FeatureViewDef, rows: readonly FeatureRow[]) => this.#write(v, [...rows]),
      } as unknown as OnlineStore,
      deadLetters: { write: async (letters) => void this.letters.push(...letters), flush: async () => undefined },
      clock: fastClock,
      logger: silentLogger,
      checkpointEveryRecords: every,
    })
    if (dieAtCommit === undefined) return void (await run)
    assert.ok(
      await run.then(
        () => false,
        () => true,
      ),
      `the backfill did not die at its commit ${dieAtCommit}`,
    )
  }

  /** The line's sink, whose `n`-th commit once `armed` (1-based) and every one after it fail: the process dies there. */
  #dyingSink(n: number | undefined, armed: () => boolean): OfflineSink {
    const sink = this.sink()
    if (n === undefined) return sink
    let commits = 0
    return new Proxy(sink, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          if (key === 'commit' && armed() && ++commits >= n) return Promise.reject(new Error('killed at a commit'))
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    }) as OfflineSink
  }

  /** Online rows and dead letters land before the checkpoint that covers them, as the live engine's do. */
  async #deliver(views: readonly FeatureViewDef[], out: SlotOutput): Promise<void> {
    for (const [v, rows] of out.rows.entries()) if (rows.length > 0) await this.#write(views[v]!, rows)
    this.letters.push(...out.deadLetters)
  }

  /** Partition `p`'s archive: each row's offset, and its watermark when it is an idle marker. */
  async archive(p: number): Promise<string[]> {
    const rows: string[] = []
    for await (const row of this.sink().readArchive(purchases.topic, p)) rows.push(archiveLine(row))
    return rows
  }
}

function archiveLine(row: ArchiveRow): string {
  return row.markerWatermarkMs === null ? `${row.offset}` : `${row.offset} marker ${row.markerWatermarkMs}`
}

/** The dead letters as a sorted list of `partition/offset reason view`: equal lists, equal multisets. */
export function letterList(letters: readonly DeadLetter[], view?: string): string[] {
  return letters
    .filter((l) => view === undefined || l.view === view)
    .map((l) => `${l.partition}/${l.offset} ${l.reason} ${l.view ?? '-'}`)
    .sort()
}

/** Every live partition of `line` from its checkpoint to the stream's end. */
export async function runToEnd(line: Line, views: readonly FeatureViewDef[], every: number): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) await line.live(p, views, { until: line.items[p]!.length, every })
}
