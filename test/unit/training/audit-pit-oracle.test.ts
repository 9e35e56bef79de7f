/**
 * An outside audit's point-in-time oracle (docs/design.md §9, training/README.md "Semantics"),
 * written apart from fixtures.ts's: random feature rows of four views (three entities, one with a
 * composite key; long, double and list features; nulls) committed in several snapshots — some rows
 * committed twice, as a replay re-commits them — then compacted, against random labels that sit
 * exactly on an as_of, a created_at and each side of a TTL edge, repeat the same key and time,
 * come before any row, name no entity or an unknown one. Every feature value names the row it
 * came from, so the check is which row each label got, not only which value.
 *
 * The oracle scans every row for every label: point in time, the row with the greatest
 * (as_of, seq) among as_of ≤ t; as served, among created_at ≤ t, the greatest
 * (as_of, created_at, seq); its values if as_of > t − ttl, else nulls; the request feature
 * amount_vs_avg_7d is the label's amount over that join's amount_avg_7d. Checked for CSV labels,
 * Parquet labels whose keys and times the engine derives in SQL (timestamp and epoch-ms times),
 * before and after compaction (same answer), and a rebuild of the set built before compaction
 * (pinned snapshot) after it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import * as examples from '../../../examples/features.ts'
import type { FeatureValue, FeatureValueType, FeatureViewDef } from '../../../features/types.ts'
import type { OfflineFeatureRow } from '../../../ports/offline.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { compactPartitions, loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { IcebergOfflineSink, featureTablePath } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { encodeParquetColumns, readParquetBatches } from '../../../adapters/offline/parquet/index.ts'
import { createTrainingSet, rebuildTrainingSet } from '../../../training/index.ts'
import { registryWithViews, trainingDeps, userItemClicks } from './fixtures.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-pit-audit-'))
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const T0 = Date.UTC(2026, 2, 1)
const H = 3_600_000
const USERS = ['a', 'b', 'c', 'd']
const ITEMS = ['x', 'y']

/** xorshift32: the audit's own seeded randomness. */
function rng(seed: number) {
  let s = seed >>> 0 || 1
  const next = (): number => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  }
}

interface Row {
  readonly id: number
  readonly key: string
  readonly asOf: number
  readonly createdAt: number
  readonly offset: string
  readonly index: number
  readonly values: readonly FeatureValue[]
}

/** Archive order: offset, then row index within it (docs/semantics.md §12). */
const seqOf = (r: Row): bigint => (BigInt(r.offset) << 21n) + BigInt(r.index)

function valueFor(type: FeatureValueType, id: number): FeatureValue {
  switch (type) {
    case 'long':
      return id
    case 'double':
      return id + 0.25
    case 'string':
      return `r${id}`
    case 'long[]':
      return [id, -id]
    case 'double[]':
      return [id + 0.5]
    case 'string[]':
      return [`r${id}`]
  }
}

/** The row a value of feature `type` names, or null. */
function rowOfValue(v: unknown): number | null {
  if (v === null || v === undefined) return null
  const first: unknown = Array.isArray(v) ? v[0] : v
  if (typeof first === 'string') return Number(first.slice(1))
  return Math.floor(Number(first))
}

function keysOf(view: FeatureViewDef): string[] {
  if (view.entity.joinKeys.length === 2) return USERS.flatMap((u) => ITEMS.map((i) => encodeEntityKey([u, i])))
  return view.entity.joinKeys[0] === 'item_id' ? ITEMS : USERS
}

let nextId = 1
/**
 * Rows on an hourly grid over 2 days (ties on as_of common), offsets shuffled, some past `far`
 * (2^32: the 64-bit tie key still fits; 2^40: it does not, and the join packs a 128-bit one).
 * `tieFree`: every row its own as_of, rising (7 minutes apart), so that committed in order the
 * writer vouches no two rows tie and the join compares as_of alone.
 */
function rowsFor(view: FeatureViewDef, count: number, seed: number, far: number, tieFree: boolean): Row[] {
  const r = rng(seed)
  const keys = keysOf(view)
  return Array.from({ length: count }, (_, i) => {
    const id = nextId++
    const asOf = tieFree ? T0 + i * 7 * 60_000 : T0 + r.int(0, 48) * H + (r.next() < 0.1 ? r.int(1, 59) * 60_000 : 0)
    const createdAt = asOf + (r.next() < 0.15 ? r.int(20, 40) * H : r.int(0, 1) * H)
    const offset = String(r.next() < 0.2 ? far + r.int(0, 5000) : r.int(0, 5000))
    return {
      id,
      key: r.pick(keys),
      asOf,
      createdAt,
      offset,
      index: r.int(0, 3),
      values: view.features.map((f) => (r.next() < 0.12 ? null : valueFor(f.type, id))),
    }
  })
}

async function commit(store: MemoryObjectStore, view: FeatureViewDef, rows: readonly Row[]): Promise<void> {
  const sink = new IcebergOfflineSink(store)
  const offline: OfflineFeatureRow[] = rows.map((r) => ({
    entityKey: r.key,
    asOfMs: r.asOf,
    createdAtMs: r.createdAt,
    values: r.values,
    origin: { partition: 0, offset: r.offset, seq: r.index, marker: false },
  }))
  await sink.commit(featureTablePath(view), [await sink.stageFeatureRows(view, offline)], {}, {})
}

/** The brute-force answer: the id of the row a label gets, or null. */
function oracleRow(rows: readonly Row[], view: FeatureViewDef, key: string | null, t: number, asServed: boolean): Row | null {
  if (key === null) return null
  let best: Row | null = null
  for (const r of rows) {
    if (r.key !== key || (asServed ? r.createdAt > t : r.asOf > t)) continue
    if (best === null) {
      best = r
      continue
    }
    const order = asServed ? [r.asOf - best.asOf, r.createdAt - best.createdAt] : [r.asOf - best.asOf]
    const first = order.find((d) => d !== 0)
    if (first !== undefined ? first > 0 : seqOf(r) > seqOf(best)) best = r
  }
  return best !== null && best.asOf > t - view.ttlMs ? best : null
}

interface Label {
  readonly user_id: string | null
  readonly item_id: string | null
  readonly ts: number
  readonly n: number
  /** The request input of amount_vs_avg_7d. */
  readonly amount: number
}

/** A request feature over user_purchases:amount_avg_7d and the label's amount. */
const REQUEST = examples.amountVsAvg7d.name
const VIEWS: readonly FeatureViewDef[] = [examples.userClicks, examples.userPurchases, examples.itemClicks, userItemClicks]
/** Per view, the features asked for (a long, a double or a list). */
const ASKED: Readonly<Record<string, readonly string[]>> = {
  user_clicks: ['count_1h', 'item_id_last_n_1d'],
  user_purchases: ['amount_avg_1d', 'count'],
  item_clicks: ['count_1d', 'dwell_ms_p50_1d'],
  user_item_clicks: ['count_1d'],
}

function labelsFor(rows: ReadonlyMap<string, Row[]>, count: number, seed: number): Label[] {
  const r = rng(seed)
  const all = VIEWS.flatMap((v) => rows.get(v.name)!.map((row) => ({ v, row })))
  const labels: Label[] = []
  while (labels.length < count) {
    const { v, row } = r.pick(all)
    const edge = r.pick([0, 0, -1, 1, v.ttlMs, v.ttlMs - 1, v.ttlMs + 1, row.createdAt - row.asOf, r.int(-3 * H, 3 * H)])
    const ts = r.next() < 0.04 ? T0 - r.int(1, 5) * H : row.asOf + edge
    const user = r.next() < 0.05 ? null : r.next() < 0.05 ? 'nobody' : r.pick(USERS)
    const label = {
      user_id: user,
      item_id: r.next() < 0.05 ? null : r.pick(ITEMS),
      ts,
      n: labels.length,
      amount: r.int(1, 400) / 8,
    }
    labels.push(label)
    // The same key and time again (a second label of one event): both kept, in file order.
    if (r.next() < 0.1) labels.push({ ...label, n: labels.length })
  }
  return labels
}

const cell = (s: string | null): string => s ?? ''
const csvOf = (labels: readonly Label[]): Uint8Array =>
  new TextEncoder().encode(
    [
      'user_id,item_id,ts,n,amount',
      ...labels.map((l) => `${cell(l.user_id)},${cell(l.item_id)},${l.ts},${l.n},${l.amount}`),
    ].join('\n'),
  )

async function parquetOf(labels: readonly Label[], ts: 'timestamptz' | 'long'): Promise<Uint8Array> {
  const file = await encodeParquetColumns(
    [
      { name: 'user_id', type: 'string', fieldId: 1, required: false },
      { name: 'item_id', type: 'string', fieldId: 2, required: false },
      { name: 'ts', type: ts, fieldId: 3, required: true },
      { name: 'n', type: 'long', fieldId: 4, required: true },
      { name: 'amount', type: 'double', fieldId: 5, required: true },
    ],
    [
      labels.map((l) => l.user_id),
      labels.map((l) => l.item_id),
      labels.map((l) => l.ts),
      labels.map((l) => l.n),
      labels.map((l) => l.amount),
    ],
  )
  return file.bytes
}

async function readColumns(path: string): Promise<Record<string, unknown[]>> {
  const columns: Record<string, unknown[]> = {}
  for await (const batch of readParquetBatches(new Uint8Array(await readFile(path)))) {
    for (const [name, values] of Object.entries(batch.columns)) (columns[name] ??= []).push(...values)
  }
  return columns
}

const keyOf = (view: FeatureViewDef, l: Label): string | null => {
  const parts = view.entity.joinKeys.map((k) => (k === 'user_id' ? l.user_id : l.item_id))
  return parts.some((p) => p === null) ? null : encodeEntityKey(parts as string[])
}

/** Every output cell is the oracle's row's value (the same row, by the id it carries). */
function assertOracle(
  columns: Record<string, unknown[]>,
  labels: readonly Label[],
  rows: ReadonlyMap<string, Row[]>,
  views: readonly FeatureViewDef[],
  asServed: boolean,
  what: string,
): void {
  assert.deepEqual(
    columns.n!.map(Number),
    labels.map((l) => l.n),
    `${what}: every label once, in file order`,
  )
  let checked = 0
  for (const view of views) {
    for (const feature of ASKED[view.name]!) {
      const f = view.features.findIndex((x) => x.name === feature)
      const column = columns[`${view.name}__${feature}`]!
      labels.forEach((l, i) => {
        const row = oracleRow(rows.get(view.name)!, view, keyOf(view, l), l.ts, asServed)
        const want = row === null ? null : row.values[f] === null ? null : row.id
        const got = rowOfValue(column[i])
        if (got !== want)
          assert.fail(
            `${what}: label ${i} (${JSON.stringify(l)}) ${view.name}:${feature} gave row ${got}, the oracle row ${want}`,
          )
        if (want !== null) {
          assert.deepEqual(column[i], row!.values[f], `${what}: label ${i} ${view.name}:${feature} value`)
          checked++
        }
      })
    }
  }
  assert.ok(checked > labels.length / 2, `${what}: most cells hold a value (${checked})`)
  // The request feature: amount over the 7-day average the same join gives (null without one).
  const purchases = examples.userPurchases
  const avgAt = purchases.features.findIndex((x) => x.name === 'amount_avg_7d')
  labels.forEach((l, i) => {
    const row = oracleRow(rows.get(purchases.name)!, purchases, keyOf(purchases, l), l.ts, asServed)
    const avg = row?.values[avgAt] ?? null
    const want = typeof avg === 'number' && avg > 0 ? l.amount / avg : null
    assert.equal(columns[REQUEST]![i], want, `${what}: label ${i} ${REQUEST}`)
  })
}

void describe('training set > an outside brute-force point-in-time oracle', () => {
  for (const [seed, far, tieFree] of [
    [7, 2 ** 32, false],
    [31, 2 ** 40, false],
    [53, 2 ** 32, true],
  ] as const) {
    void test(`seed ${seed}, offsets past ${far}${tieFree ? ', no ties' : ''}: CSV and Parquet labels, both modes, before and after compaction, and a rebuild`, async () => {
      const store = new MemoryObjectStore()
      const registry = await registryWithViews(store, VIEWS)
      const rows = new Map<string, Row[]>()
      for (const [i, view] of VIEWS.entries()) {
        const made = rowsFor(view, 400, seed * 10 + i, far, tieFree)
        rows.set(view.name, made)
        // Several commits; the second re-commits a slice of the first (a replay's duplicates), unless
        // the rows are to stay tie-free.
        await commit(store, view, made.slice(0, 150))
        await commit(store, view, tieFree ? made.slice(150, 280) : [...made.slice(150, 280), ...made.slice(100, 150)])
        await commit(store, view, made.slice(280))
      }
      const labels = labelsFor(rows, 600, seed)
      const refs = [...VIEWS.flatMap((v) => ASKED[v.name]!.map((f) => `${v.name}:${f}`)), REQUEST]
      const singleKeyed = VIEWS.filter((v) => v.entity.joinKeys.length === 1)
      const singleRefs = [...singleKeyed.flatMap((v) => ASKED[v.name]!.map((f) => `${v.name}:${f}`)), REQUEST]
      const inputs = [
        { what: 'CSV', labels: { bytes: csvOf(labels), format: 'csv' as const }, views: VIEWS, refs },
        {
          what: 'Parquet timestamp (keys in SQL)',
          labels: { bytes: await parquetOf(labels, 'timestamptz'), format: 'parquet' as const },
          views: singleKeyed,
          refs: singleRefs,
        },
        {
          what: 'Parquet epoch ms (keys in SQL)',
          labels: { bytes: await parquetOf(labels, 'long'), format: 'parquet' as const },
          views: singleKeyed,
          refs: singleRefs,
        },
        {
          what: 'Parquet, composite key (keys in JS)',
          labels: { bytes: await parquetOf(labels, 'timestamptz'), format: 'parquet' as const },
          views: VIEWS,
          refs,
        },
      ]
      const before: { id: string; out: string }[] = []
      for (const [phase, compacted] of [
        ['before compaction', false],
        ['after compaction', true],
      ] as const) {
        if (compacted)
          for (const view of VIEWS) {
            const result = await compactPartitions(await loadTable(store, featureTablePath(view)), { minFiles: 2 })
            assert.ok(result.removedFiles > 0, `${view.name}: compaction rewrote files`)
          }
        for (const input of inputs)
          for (const asServed of [false, true]) {
            const out = join(dir, `s${seed}-${before.length}-${compacted}-${asServed}.parquet`)
            const built = await createTrainingSet({
              ...trainingDeps(store),
              registry,
              requestFeatures: [examples.amountVsAvg7d],
              labels: input.labels,
              features: input.refs,
              asServed,
              output: out,
            })
            assertOracle(
              await readColumns(out),
              labels,
              rows,
              input.views,
              asServed,
              `${input.what}, ${asServed ? 'as served' : 'point in time'}, ${phase}`,
            )
            if (!compacted) before.push({ id: built.id, out })
          }
      }
      // The sets built before compaction rebuild byte for byte from their pinned snapshots.
      for (const b of before) {
        const again = `${b.out}.again`
        await rebuildTrainingSet({
          ...trainingDeps(store),
          registry,
          requestFeatures: [examples.amountVsAvg7d],
          id: b.id,
          output: again,
        })
        assert.deepEqual(await readFile(again), await readFile(b.out))
      }
    })
  }
})
