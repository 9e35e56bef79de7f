/**
 * The change-view workload of the fault and crash tests (change-checkpoint-fault-scenario.ts,
 * test/unit/engine/change-crash-restart-chaos.test.ts): Debezium JSON changes of an orders table
 * (creates, updates with before images, orders moving to another user, deletes) with commit times
 * out of order, a few poison changes of every kind, fed to the three views of
 * test/fixtures/features/change-faults.ts; and the outcome a run leaves — offline rows, online
 * rows, archives (the internal re-key topic's by origin) and dead letters — to compare with a
 * clean run's.
 *
 * Why a clean run is an oracle here: each partition is processed in offset order, no idle marker
 * is written (idleTimeout 1h), and the re-key stage's merge forwards a backlog in one order
 * whatever the stops (engine/rekey-alignment.ts). Bursts are 60 s apart and jitter stays inside
 * one burst, so a burst's records precede every later burst's in that merge: producing the bursts
 * one by one between engine generations gives the internal topic an all-at-once run gives.
 */
import assert from 'node:assert/strict'
import { consumedView } from '../../engine/plan-sources.ts'
import { unbundle } from '../../engine/rekey-bundle.ts'
import { REKEY_HEADERS } from '../../engine/rekey-records.ts'
import { DEAD_LETTER_HEADERS } from '../../engine/dead-letter-topic.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import type { EventLog } from '../../ports/event-log.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { OnlineStore } from '../../ports/online-store.ts'
import { scanTopic } from '../../ingest/scan-topic.ts'
import { prng } from '../../examples/generate-events.ts'
import { orderChanges, type OrderChange } from '../../examples/generate-tables.ts'
import { readFeatureRowsByEntity } from '../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { order, orderAttrs, orderTotals, orders, userOpen } from '../fixtures/features/change-faults.ts'
import { beforeImageOf, type ChangeImages } from './partial-change-images.ts'

export const DEAD_LETTER_TOPIC = 'kfs.dead-letters'
/** The views as the engine runs them (the re-keyed one reads its internal topic). */
export const ENGINE_VIEWS = [orderAttrs, orderTotals, userOpen]
const CHECKED_VIEWS: readonly FeatureViewDef[] = [orderAttrs, orderTotals, consumedView(userOpen)]
const T0 = Date.UTC(2026, 0, 1)
const BURST_GAP_MS = 60_000
const DAY_MS = 86_400_000
/** How far back a change's commit time may be jittered: the next change of its order may be dated before it. */
export const COMMIT_JITTER_MS = 1_500

/** One change record as produced: the topic's key (the order id) and the bytes, or a poison kind. */
export interface ChangeRecord {
  readonly key: string | null
  readonly value: Uint8Array | null
  readonly poison?: string
  /** The log timestamp: fixed (the commit's, plus the connector's lag), so dead-letter details are the same in every run. */
  readonly timestampMs: number
  /** The partition, when not the key's (generateChangeBursts' onePartitionPerBurst). */
  readonly partition?: number
}

function renamed(change: OrderChange, prefix: string): OrderChange {
  const row = (r: OrderChange['after']) => r && { ...r, order_id: `${prefix}${r.order_id}` }
  return { ...change, before: row(change.before), after: row(change.after) }
}

type Row = NonNullable<OrderChange['after']>
const json = (message: unknown): Uint8Array => Buffer.from(JSON.stringify(message))
const envelope = (op: string, before: unknown, after: unknown, tsMs: number): Uint8Array =>
  json({ op, before, after, ts_ms: tsMs + 3, source: { ts_ms: tsMs, table: 'orders' } })

/**
 * Every kind of poison change a Debezium topic brings, each given the row last changed and its
 * commit time. The engine's answer to each (a dead letter, per view or once by the re-key stage)
 * is whatever the clean run gives: the point is that faults change none of it.
 */
const POISONS: readonly { kind: string; make: (row: Row, tsMs: number) => Omit<ChangeRecord, 'timestampMs'> }[] = [
  { kind: 'not JSON', make: (row) => ({ key: row.order_id, value: Buffer.from('{"op": "c", ') }) },
  { kind: 'null value (Debezium tombstone)', make: (row) => ({ key: row.order_id, value: null }) },
  { kind: "unknown op 'x'", make: (row, t) => ({ key: row.order_id, value: envelope('x', null, row, t) }) },
  {
    kind: 'before image disagrees',
    make: (row, t) => ({ key: row.order_id, value: envelope('u', { ...row, amount: 999 }, row, t) }),
  },
  {
    kind: 'delete of a key never seen',
    make: (row, t) => ({
      key: `${row.order_id}-ghost`,
      value: envelope('d', { ...row, order_id: `${row.order_id}-ghost` }, null, t),
    }),
  },
  {
    kind: 'commit time in the future',
    make: (row, t) => ({ key: row.order_id, value: envelope('u', row, row, t + 40 * DAY_MS) }),
  },
  {
    kind: 'late (a day back)',
    make: (row, t) => ({ key: row.order_id, value: envelope('u', row, { ...row, amount: 1 }, t - DAY_MS) }),
  },
  { kind: 'commit time missing', make: (row) => ({ key: row.order_id, value: json({ op: 'u', before: row, after: row }) }) },
  { kind: 'primary key empty', make: (row, t) => ({ key: '', value: envelope('c', null, { ...row, order_id: '' }, t) }) },
  {
    kind: 'update without a before image',
    make: (row, t) => ({ key: row.order_id, value: envelope('u', null, { ...row, amount: 5 }, t) }),
  },
]

/**
 * The poison kinds of a changelog with `images`. Under REPLICA IDENTITY DEFAULT every update comes
 * without a before image: one that does is no poison there, only an update the table never made
 * (amount 5, out of the blue), which a full-image run of the same changes could not follow — its
 * next before image would still say the amount the generator knows.
 */
export function poisonKindsFor(images: ChangeImages): readonly string[] {
  return poisonsFor(images).map((p) => p.kind)
}

function poisonsFor(images: ChangeImages): typeof POISONS {
  return images === 'full' ? POISONS : POISONS.filter((p) => p.kind !== 'update without a before image')
}

export interface BurstOptions {
  readonly onePartitionPerBurst?: boolean
  /** Full before images (default), or REPLICA IDENTITY DEFAULT's. */
  readonly images?: ChangeImages
  /** The poison kinds of a changelog with these images (default: `images`'); a full-image twin of a partial run takes 'partial'. */
  readonly poisonsFor?: ChangeImages
}

/**
 * `bursts` lists of changes (about `perBurst` each), seeded: orders opening, changing amount,
 * moving to another user, shipping and being deleted (examples/generate-tables.ts), commit times
 * jittered back by up to 1.5 s (out of order, within outOfOrderness + allowedLateness), and one
 * change in ~16 a poison one, every kind in turn from a random start.
 *
 * `onePartitionPerBurst`: burst k goes whole to partition k mod 2, its orders its own (their ids
 * prefixed `b<k>-`; users are shared, so the re-keyed view's groups take changes from both). A
 * burst produced while the engine runs then cannot be merged in another order than a backlog
 * (engine/rekey-alignment.ts: only where two partitions get new records at once does arrival
 * order decide), so a run fed burst by burst stays comparable with an all-at-once clean run.
 *
 * `images: 'partial'`: the same changes (records, times, poisons) as Postgres logs them under
 * REPLICA IDENTITY DEFAULT — every update without a before image, every delete with a key-only one
 * (partial-change-images.ts). The poison changes stay as they are: each is poison for what it
 * carries, whatever the table logs.
 */
export function generateChangeBursts(
  seed: number,
  bursts: number,
  perBurst: number,
  options: BurstOptions = {},
): ChangeRecord[][] {
  const { onePartitionPerBurst = false, images = 'full' } = options
  const poisons = poisonsFor(options.poisonsFor ?? images)
  const rand = prng(seed)
  const changes = onePartitionPerBurst
    ? Array.from({ length: bursts }, (_, b) =>
        orderChanges({ count: perBurst, users: 12, seed: seed * 100 + b, startMs: T0, meanGapMs: 400 }).map((c) =>
          renamed(c, `b${b}-`),
        ),
      ).flat()
    : orderChanges({ count: bursts * perBurst, users: 12, seed, startMs: T0, meanGapMs: 400 })
  let poison = Math.floor(rand() * poisons.length)
  const out: ChangeRecord[][] = []
  for (let b = 0; b < bursts; b++) {
    const burst: ChangeRecord[] = []
    for (const change of changes.slice(b * perBurst, (b + 1) * perBurst)) {
      const t =
        change.source.ts_ms +
        b * (onePartitionPerBurst ? perBurst * 2_000 : 0) +
        b * BURST_GAP_MS -
        Math.floor(rand() * COMMIT_JITTER_MS)
      const timestampMs = t + 1_500
      burst.push({
        key: (change.after ?? change.before)!.order_id,
        value: envelope(
          change.op,
          beforeImageOf(change.op, change.before, images, orders.changes!.rowSchema, order.joinKeys),
          change.after,
          t,
        ),
        timestampMs,
        ...(onePartitionPerBurst ? { partition: b % orders.partitions } : {}),
      })
      // Not in a burst's first records: a late change must find a watermark to be late against.
      if (burst.length > 20 && rand() < 1 / 16) {
        const p = poisons[poison++ % poisons.length]!
        burst.push({
          ...p.make((change.after ?? change.before)!, t),
          poison: p.kind,
          timestampMs,
          ...(onePartitionPerBurst ? { partition: b % orders.partitions } : {}),
        })
      }
    }
    out.push(burst)
  }
  return out
}

export async function produceChanges(log: EventLog, records: readonly ChangeRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 500) {
    await log.produce(
      orders.topic,
      records.slice(i, i + 500).map((r) => ({
        key: r.key,
        value: r.value,
        timestampMs: r.timestampMs,
        ...(r.partition === undefined ? {} : { partition: r.partition }),
      })),
    )
  }
}

/** What a run leaves behind, in a form two runs compare with deepEqual. */
export interface ChangeOutcome {
  /** Per view: entity → rows (as_of, values, tombstone), in archive order. */
  readonly offline: Record<string, Record<string, unknown[]>>
  /** Per view: entity → the online answer (status, as_of, values). */
  readonly online: Record<string, Record<string, unknown>>
  /** Per source partition: the archived offsets (markers aside), in archive order. */
  readonly archive: Record<number, string[]>
  /** The internal topic's archive as origins (source partition/offset → internal key), sorted; bundles differ by run. */
  readonly internalArchive: string[]
  /** Distinct dead letters by origin, reason, view and detail, sorted (they are at-least-once: docs/semantics.md §15). */
  readonly deadLetters: string[]
}

export async function readChangeOutcome(
  log: EventLog,
  store: ObjectStore,
  online: OnlineStore,
  label: string,
): Promise<ChangeOutcome> {
  const offline: ChangeOutcome['offline'] = {}
  const onlineRows: ChangeOutcome['online'] = {}
  for (const view of CHECKED_VIEWS) {
    const rows = await readFeatureRowsByEntity(store, view)
    offline[view.name] = Object.fromEntries(
      [...rows]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, list]) => [key, list.map((r) => ({ asOfMs: r.asOfMs, values: r.values, deleted: r.deleted === true }))]),
    )
    const keys = Object.keys(offline[view.name]!)
    const features = view.features.map((f) => f.name)
    const reads = await online.readRows(
      keys.map((entityKey) => ({ view, entityKey, features })),
      Date.now(),
    )
    onlineRows[view.name] = Object.fromEntries(
      keys.map((k, i) => [k, { status: reads[i]!.status, asOfMs: reads[i]!.asOfMs, values: reads[i]!.values }]),
    )
  }
  const sink = new IcebergOfflineSink(store)
  const archive: Record<number, string[]> = {}
  for (let p = 0; p < orders.partitions; p++) {
    const offsets: string[] = (archive[p] = [])
    for await (const row of sink.readArchive(orders.topic, p)) if (row.markerWatermarkMs === null) offsets.push(row.offset)
  }
  const internal = consumedView(userOpen).source
  const internalArchive: string[] = []
  for (let p = 0; p < internal.partitions; p++) {
    const rows = []
    for await (const row of sink.readArchive(internal.topic, p))
      if (row.markerWatermarkMs === null) rows.push({ ...row, value: row.payload, headers: {} })
    for (const e of unbundle(rows).events) {
      const h = e.headers
      internalArchive.push(
        `${h[REKEY_HEADERS.partition]}/${h[REKEY_HEADERS.offset]} → ${p}:${e.key === null ? '' : Buffer.from(e.key).toString()}`,
      )
    }
  }
  internalArchive.sort()
  const letters = new Set<string>()
  await scanTopic(
    log,
    DEAD_LETTER_TOPIC,
    (records) => {
      for (const r of records) {
        const h = r.headers
        const origin =
          h[DEAD_LETTER_HEADERS.originOffset] === undefined
            ? `${h[DEAD_LETTER_HEADERS.topic]}/${h[DEAD_LETTER_HEADERS.partition]}/${h[DEAD_LETTER_HEADERS.offset]}`
            : `${h[DEAD_LETTER_HEADERS.originTopic]}/${h[DEAD_LETTER_HEADERS.originPartition]}/${h[DEAD_LETTER_HEADERS.originOffset]}`
        letters.add(
          `${origin} ${h[DEAD_LETTER_HEADERS.reason]} ${h[DEAD_LETTER_HEADERS.view] ?? '-'}: ${h[DEAD_LETTER_HEADERS.detail]}`,
        )
      }
    },
    { groupPrefix: `check-${label}` },
  )
  return { offline, online: onlineRows, archive, internalArchive, deadLetters: [...letters].sort() }
}

/** `actual` equals the clean run's outcome, part by part (so a failure names the part). */
export function assertSameOutcome(actual: ChangeOutcome, clean: ChangeOutcome, where: string): void {
  for (const view of CHECKED_VIEWS) {
    assert.deepEqual(actual.offline[view.name], clean.offline[view.name], `${where}: offline rows of ${view.name}`)
    assert.deepEqual(actual.online[view.name], clean.online[view.name], `${where}: online rows of ${view.name}`)
  }
  assert.deepEqual(actual.archive, clean.archive, `${where}: archive of ${orders.topic}, every offset once`)
  assert.deepEqual(
    actual.internalArchive,
    clean.internalArchive,
    `${where}: archive of the internal topic, every forwarded change once`,
  )
  assert.deepEqual(actual.deadLetters, clean.deadLetters, `${where}: dead letters`)
}

/** The clean run's outcome is a real one: every view has rows and tombstones or moves, every poison kind a letter. */
export function assertOutcomeCoversWorkload(
  clean: ChangeOutcome,
  produced: readonly ChangeRecord[],
  poisonKinds: readonly string[] = poisonKindsFor('full'),
): void {
  for (const view of CHECKED_VIEWS)
    assert.ok(Object.keys(clean.offline[view.name]!).length > 5, `clean run: ${view.name} has rows`)
  const tombstones = Object.values(clean.offline[orderAttrs.name]!)
    .flat()
    .filter((r) => (r as { deleted: boolean }).deleted)
  assert.ok(tombstones.length > 0, 'clean run: the attribute view wrote tombstones')
  const kinds = new Set(produced.flatMap((r) => (r.poison === undefined ? [] : [r.poison])))
  assert.deepEqual([...kinds].sort(), [...poisonKinds].sort(), 'the workload holds every poison kind')
  assert.ok(clean.deadLetters.length >= kinds.size, 'clean run: the poison changes were dead-lettered')
  const total = Object.values(clean.archive).reduce((n, offsets) => n + offsets.length, 0)
  assert.equal(total, produced.length, 'clean run: every produced change archived')
}
