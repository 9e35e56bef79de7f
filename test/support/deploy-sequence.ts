/**
 * Deploy sequences through partition slots (test/unit/engine/deploy-sequences.test.ts): a stream of
 * records and idle markers per partition, consumed by a series of `kfs run`s, each with its own
 * definitions (a view set) — views added, dropped, re-added, rolled back and forward, adopted from a
 * backfill — any of them killed (the process dies: after some items with no checkpoint since, or at
 * one of its table commits, after a publish or in the restore's roll-forward). The offline tables and the online store are
 * what the runs leave, to hold against one uninterrupted run of every view over the same stream.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../core/logger.ts'
import type { Clock } from '../../core/clock.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { backfillGroupId } from '../../engine/backfill-hand-off.ts'
import { CheckpointStore } from '../../engine/checkpoint-store.ts'
import { PartitionSlot, type SlotOutput } from '../../engine/partition-slot.ts'
import type { SlotOptions } from '../../engine/slot-contract.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { purchases, user } from '../../examples/features.ts'
import { featureView } from '../../features/index.ts'
import { backfillView } from '../../replay/backfill.ts'
import type { DeadLetterSink } from '../../ports/dead-letters.ts'
import type { OfflineSink } from '../../ports/offline.ts'
import type { SourceRecord } from '../../ports/source.ts'
import { createDecoder, type Decoder } from '../../schemas/decoder.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { generatePurchases, prng } from './scenario.ts'

/** Retries back off by a turn of the event loop, not seconds. */
export const fastClock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }
const noLetters: DeadLetterSink = { write: async () => undefined, flush: async () => undefined }
export const GROUP = 'g'
export const PARTITIONS = 2

/** A live slot's options for partition `p` of purchases, its views' backfills in `store` under GROUP. */
export function liveSlotOptions(store: ObjectStore, decoder: Decoder, p: number, views: readonly FeatureViewDef[]): SlotOptions {
  return {
    topic: purchases.topic,
    partition: p,
    source: purchases,
    views,
    decoder,
    archive: true,
    backfillCheckpoints: (view) => new CheckpointStore(store, backfillGroupId(GROUP, view)),
  }
}

/** A view whose windows close on idle markers: it emits rows at an offset before its record. */
export const shortSpend = featureView({
  name: 'short_spend',
  version: 1,
  entity: user,
  source: purchases,
  aggregations: [{ op: 'sum', field: 'amount', windows: ['1h'] }],
  // Long enough that every key's last row is still served at the stream's end (idle gaps span days).
  ttl: '365d',
  freshnessSla: '1m',
  owner: 'test@example.com',
  description: 'Spend over an hour',
})

/** One partition's input, in the order live reads it: a record, or an idle marker (applied at the next offset). */
export type Item = { readonly record: SourceRecord } | { readonly markerMs: number }

/** The process dies after this many items of its run with no checkpoint since, or at its `commit`-th table commit (1-based). */
export type Kill = { readonly afterItems: number } | { readonly atCommit: number }

/** One `kfs run`: its definitions and how far into the stream it gets (a fraction of each partition's items). */
export interface Deploy {
  readonly label: string
  readonly views: readonly FeatureViewDef[]
  readonly until: number
  readonly kill?: Kill
  /** A `kfs replay` of this view runs first (it has never been live). */
  readonly backfill?: FeatureViewDef
}

/** Records of `count` purchases spread over the partitions by key, with an idle marker after some. */
export async function streamOf(
  seed: number,
  count: number,
): Promise<{ items: Item[][]; decoder: Decoder; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-deploy-sequence-'))
  const registry = new EmbeddedSchemaRegistry({ dir })
  const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
  const rand = prng(seed * 7 + 1)
  const items: Item[][] = Array.from({ length: PARTITIONS }, () => [])
  const offsets = items.map(() => 0)
  // Idle periods shift every later event by the gap, so the records after a marker are not late.
  let shift = 0
  for (const generated of generatePurchases({ count, users: 16, seed, stepMs: 120_000 })) {
    const e = { ...generated, ts: generated.ts + shift }
    const p = Number(e.user_id.slice(1)) % PARTITIONS
    const list = items[p]!
    list.push({
      record: {
        offset: String(offsets[p]!++),
        key: Buffer.from(e.user_id),
        value: encoder.encode(e),
        timestampMs: e.ts,
        headers: {},
      },
    })
    // Sometimes two markers at one offset: windows close on them, so views emit rows at the next
    // offset before its record (and a checkpoint between them keeps rowsAtNextOffset).
    if (rand() < 0.12) {
      const markers = rand() < 0.4 ? 2 : 1
      for (let m = 1; m <= markers; m++) list.push({ markerMs: e.ts + m * 3_600_000 })
      shift += (markers + 1) * 3_600_000
    }
  }
  const decoder = createDecoder({ registry, readerSchema: purchases.schema })
  return { items, decoder, dispose: () => rm(dir, { recursive: true, force: true }) }
}

class Killed extends Error {}

/** The store, tables, online store and positions a series of runs shares. */
export class World {
  readonly store = new MemoryObjectStore()
  readonly online = new EmbeddedOnlineStore()
  readonly checkpoints = new CheckpointStore(this.store, GROUP)
  /** Per partition, the index of the item the latest published checkpoint resumes at. */
  readonly #resume: number[] = Array.from({ length: PARTITIONS }, () => 0)
  /** `${partition}/${seq}` → the item index at that checkpoint's cut. */
  readonly #cuts = new Map<string, number>()
  readonly items: Item[][]
  readonly decoder: Decoder

  constructor(items: Item[][], decoder: Decoder) {
    this.items = items
    this.decoder = decoder
  }

  sink(): IcebergOfflineSink {
    return new IcebergOfflineSink(this.store, { clock: fastClock, parquetWorker: false })
  }

  /** Runs `deploy`; false when its process was killed. */
  async run(deploy: Deploy): Promise<boolean> {
    if (deploy.backfill) {
      await backfillView({
        offline: this.sink(),
        stateStore: this.store,
        decoder: this.decoder,
        view: deploy.backfill,
        liveGroupId: GROUP,
        online: this.online,
        deadLetters: noLetters,
        clock: fastClock,
        logger: silentLogger,
        checkpointEveryRecords: 40,
      })
    }
    const offline = dyingAt(this.sink(), deploy.kill && 'atCommit' in deploy.kill ? deploy.kill.atCommit : Infinity)
    let processed = 0
    try {
      for (let p = 0; p < PARTITIONS; p++) {
        const end = Math.floor(this.items[p]!.length * deploy.until)
        const killAfter = deploy.kill && 'afterItems' in deploy.kill ? deploy.kill.afterItems : Infinity
        const stopped = await this.#runPartition(p, deploy.views, offline, end, killAfter - processed)
        processed += stopped.processed
        if (stopped.killed) return false
      }
      return true
    } catch (err: unknown) {
      if (!(err instanceof Killed) && !(err instanceof Error && err.cause instanceof Killed)) throw err
      return false
    } finally {
      // Whatever the dying process published is what the next one resumes from.
      for (let p = 0; p < PARTITIONS; p++) {
        const latest = await this.checkpoints.latest(purchases.topic, p)
        if (latest !== undefined) this.#resume[p] = this.#cuts.get(`${p}/${latest.seq}`)!
      }
    }
  }

  async #runPartition(
    p: number,
    views: readonly FeatureViewDef[],
    offline: OfflineSink,
    end: number,
    killAfter: number,
  ): Promise<{ processed: number; killed: boolean }> {
    const slot = await PartitionSlot.restore(liveSlotOptions(this.store, this.decoder, p, views), {
      offline,
      checkpoints: this.checkpoints,
      clock: fastClock,
      logger: silentLogger,
    })
    const items = this.items[p]!
    let at = this.#resume[p]!
    const expected = items.slice(0, at).filter((i) => 'record' in i).length
    if (slot.nextOffset !== String(expected))
      throw new Error(`partition ${p} resumed at ${slot.nextOffset}, its checkpoint's cut at item ${at} (offset ${expected})`)
    await this.#deliver(views, await slot.catchUp(Date.now()))
    let processed = 0
    const checkpoint = async (): Promise<void> => {
      this.#cuts.set(`${p}/${slot.seq + 1}`, at)
      if (!(await slot.checkpoint())) throw new Error(`partition ${p}: fenced`)
    }
    while (at < end) {
      if (processed >= killAfter) return { processed, killed: true }
      const item = items[at]!
      const out =
        'record' in item ? await slot.processRecords([item.record], Date.now()) : slot.processMarker(item.markerMs, Date.now())
      at++
      processed++
      await this.#deliver(views, out)
      if (processed % 17 === 0) await checkpoint()
    }
    await checkpoint()
    return { processed, killed: false }
  }

  /** Online writes land before the checkpoint that covers them, as the live engine's do. */
  async #deliver(views: readonly FeatureViewDef[], out: SlotOutput): Promise<void> {
    for (const [v, rows] of out.rows.entries()) if (rows.length > 0) await this.online.writeRows(views[v]!, rows)
  }
}

/** `sink`, whose process dies at its `n`-th commit: that commit and every call after it throw. */
function dyingAt(sink: IcebergOfflineSink, n: number): OfflineSink {
  let commits = 0
  let dead = false
  return new Proxy(sink, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        if (key === 'commit' && ++commits >= n) dead = true
        if (dead) throw new Killed(`killed at commit ${n}`)
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  }) as OfflineSink
}
