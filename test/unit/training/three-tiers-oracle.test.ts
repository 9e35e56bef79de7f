/**
 * Issue #15: `kfs training-set` over a mix of the three tiers equals a brute-force point-in-time
 * join (docs/design.md §9, §11; training/README.md "Semantics"). Every step is an ordinary `kfs`
 * command run in-process on embedded defaults under a temporary KFS_DATA_DIR, as `npm start` runs
 * them: apply; ingest two nightly users snapshots (Parquet); publish the orders changelog
 * (Debezium JSON, with deletes); generate clicks and purchases; run until caught up; build the
 * training set. The oracle reads the views' offline rows back through the FeatureRowReader port
 * and, for each label and view, scans them: the entity's row with the greatest (as_of, archive
 * order) among as_of ≤ t, its values if as_of > t − ttl and it is no tombstone, else nulls; the
 * request feature is its definition's fn over the request and the joined input.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { readParquetBatches } from '../../../adapters/offline/parquet/index.ts'
import { createOfflineStore } from '../../../main/offline-adapters.ts'
import { prng } from '../../../examples/generate-events.ts'
import { orderChanges, usersSnapshot, type UserRow } from '../../../examples/generate-tables.ts'
import * as fixture from '../../fixtures/features/three-tiers-oracle.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const FEATURES = ['--features', 'test/fixtures/features/three-tiers-oracle.ts']
const SERVICE = fixture.threeTiersOracle
const SERVICE_REFS: readonly string[] = SERVICE.features
const VIEWS: readonly FeatureViewDef[] = [
  fixture.userProfile,
  fixture.userOpenOrders,
  fixture.userPurchases,
  fixture.userClicks,
  fixture.orderState,
]
const DAY = 86_400_000
const START_MS = Date.UTC(2026, 10, 1, 8)
const FIRST_NIGHT_MS = Math.floor(START_MS / DAY) * DAY - 2 * DAY
const USERS = 300
const EVENTS = 4_000
const ORDER_CHANGES = 800

type LabelKind = 'at-as-of' | 'tie' | 'tombstone' | 'outside-ttl' | 'before-any-row' | 'random'
interface Label {
  readonly kind: LabelKind
  readonly user_id: string
  readonly order_id: string
  readonly ts: number
  readonly amount: number
}

let dataDir = ''
let rows: Map<string, Map<string, FeatureRow[]>>
let labels: Label[]
let columns: Record<string, unknown[]>

after(async () => {
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true })
})

async function kfs(args: readonly string[]): Promise<string> {
  const result = await runKfsInProcess(args, dataDir)
  assert.equal(result.code, 0, `kfs ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

async function writeUsers(night: 1 | 2): Promise<string> {
  const users = usersSnapshot(night, { firstNightMs: FIRST_NIGHT_MS, users: USERS })
  const names = ['user_id', 'status', 'credit_limit', 'country', 'updated_at'] as const
  const cols = names.map((name) => ({
    name,
    type: name === 'credit_limit' ? ('double' as const) : name === 'updated_at' ? ('timestamptz' as const) : ('string' as const),
    required: true,
  }))
  const path = join(dataDir, `users-night-${night}.parquet`)
  await writeFile(
    path,
    await createParquetCodec({ worker: false }).encode(
      cols,
      cols.map((c) => users.map((r: UserRow) => r[c.name])),
    ),
  )
  return path
}

function keyOf(view: FeatureViewDef, label: Label): string {
  return encodeEntityKey(view.entity.joinKeys.map((k) => (k === 'order_id' ? label.order_id : label.user_id)))
}

/**
 * training/README.md "Semantics": the row with the greatest (as_of, seq) among as_of ≤ t; rows
 * come in archive (seq) order, so a later one wins a tie on as_of. Nulls if there is none, it is
 * as old as the TTL or older, or it is a tombstone (docs/design.md §11).
 */
function latest(view: FeatureViewDef, label: Label): FeatureRow | undefined {
  let best: FeatureRow | undefined
  for (const row of rows.get(view.name)!.get(keyOf(view, label)) ?? []) {
    if (row.asOfMs <= label.ts && (best === undefined || row.asOfMs >= best.asOfMs)) best = row
  }
  return best
}

function oracle(view: FeatureViewDef, label: Label): readonly FeatureValue[] {
  const best = latest(view, label)
  if (best === undefined || best.asOfMs <= label.ts - view.ttlMs || best.deleted === true) return view.features.map(() => null)
  return best.values
}

/** Seeded labels: exactly at (and 1 ms around) stored as_of, on ties of as_of, on tombstones, at and past TTL, before any row, at random. */
function generateLabels(seed: number): Label[] {
  const rand = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
  const changes = orderChanges({ count: ORDER_CHANGES, users: USERS, startMs: START_MS, meanGapMs: 1_000 })
  const userOf = new Map<string, string>()
  for (const c of changes) userOf.set((c.after ?? c.before)!.order_id, (c.after ?? c.before)!.user_id)
  const orderIds = [...userOf.keys()]
  const amount = (): number => Math.round(1 + rand() * 50_000) / 100 + 0.005
  const forKey = (view: FeatureViewDef, key: string): { user_id: string; order_id: string } =>
    view === fixture.orderState ? { user_id: userOf.get(key)!, order_id: key } : { user_id: key, order_id: pick(orderIds) }
  const sample = (): { view: FeatureViewDef; key: string; row: FeatureRow } => {
    const view = pick(VIEWS)
    const byKey = rows.get(view.name)!
    const key = pick([...byKey.keys()])
    return { view, key, row: pick(byKey.get(key)!) }
  }
  const tombstones = [...rows.get(fixture.orderState.name)!].flatMap(([key, list]) =>
    list.filter((r) => r.deleted === true).map((row) => ({ key, row })),
  )
  const out: Label[] = []
  for (let i = 0; i < 400; i++) {
    const { view, key, row } = sample()
    out.push({ kind: 'at-as-of', ...forKey(view, key), ts: row.asOfMs + pick([0, 0, -1, 1]), amount: amount() })
  }
  // Rows of one key with the same as_of (archive order breaks the tie): a label on each.
  for (const view of VIEWS) {
    for (const [key, list] of rows.get(view.name)!) {
      list.forEach((row, i) => {
        if (i > 0 && list[i - 1]!.asOfMs === row.asOfMs)
          out.push({ kind: 'tie', ...forKey(view, key), ts: row.asOfMs + pick([0, 1]), amount: amount() })
      })
    }
  }
  for (let i = 0; i < 40; i++) {
    const { key, row } = pick(tombstones)
    out.push({ kind: 'tombstone', ...forKey(fixture.orderState, key), ts: row.asOfMs + pick([0, 1, 60_000]), amount: amount() })
  }
  for (let i = 0; i < 100; i++) {
    const { view, key, row } = sample()
    out.push({ kind: 'outside-ttl', ...forKey(view, key), ts: row.asOfMs + view.ttlMs + pick([0, 1, -1, DAY]), amount: amount() })
  }
  for (let i = 0; i < 30; i++) {
    out.push({
      kind: 'before-any-row',
      user_id: `u${Math.floor(rand() * USERS)}`,
      order_id: pick(orderIds),
      ts: FIRST_NIGHT_MS - 500 * DAY - Math.floor(rand() * DAY),
      amount: amount(),
    })
  }
  for (let i = 0; i < 200; i++) {
    const order = pick(orderIds)
    out.push({
      kind: 'random',
      user_id: rand() < 0.7 ? userOf.get(order)! : `u${Math.floor(rand() * USERS * 1.1)}`,
      order_id: order,
      ts: START_MS + Math.floor(rand() * 20 * 60_000),
      amount: amount(),
    })
  }
  // Shuffled, so that label order and kind are unrelated.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'kfs-three-tiers-oracle-'))
  await kfs(['apply', ...FEATURES])
  await kfs(['ingest', ...FEATURES, '--source', 'users', '--snapshot', await writeUsers(1)])
  await kfs(['ingest', ...FEATURES, '--source', 'users', '--snapshot', await writeUsers(2)])
  const ordersPath = join(dataDir, 'orders-changelog.ndjson')
  const changes = orderChanges({ count: ORDER_CHANGES, users: USERS, startMs: START_MS, meanGapMs: 1_000 })
  await writeFile(ordersPath, changes.map((c) => JSON.stringify(c)).join('\n') + '\n')
  await kfs(['produce', ...FEATURES, '--topic', 'shop.public.orders', '--file', ordersPath])
  await kfs(['produce', ...FEATURES, '--generate', String(EVENTS), '--start', new Date(START_MS).toISOString(), '--seed', '5'])
  await kfs(['run', ...FEATURES, '--until-caught-up', '--idle', '1s'])

  const offline = createOfflineStore(new LocalObjectStore(join(dataDir, 'objects')), { parquetWorker: false })
  rows = new Map()
  for (const view of VIEWS) rows.set(view.name, await offline.readFeatureRows(view))

  labels = generateLabels(15)
  const csv = ['user_id,order_id,ts,amount', ...labels.map((l) => `${l.user_id},${l.order_id},${l.ts},${l.amount}`)]
  const labelsPath = join(dataDir, 'labels.csv')
  await writeFile(labelsPath, csv.join('\n') + '\n')
  const out = join(dataDir, 'training-set.parquet')
  await kfs(['training-set', ...FEATURES, '--labels', labelsPath, '--service', SERVICE.name, '--out', out])
  columns = {}
  for await (const batch of readParquetBatches(new Uint8Array(await readFile(out)))) {
    for (const [name, values] of Object.entries(batch.columns)) (columns[name] ??= []).push(...values)
  }
})

void describe('training set over the three tiers > brute-force point-in-time oracle', () => {
  void test('every view has offline rows, and the orders changelog left tombstones', () => {
    for (const view of VIEWS) assert.ok((rows.get(view.name)?.size ?? 0) > 10, `${view.name} has rows for several entities`)
    const tombstones = [...rows.get(fixture.orderState.name)!.values()].flat().filter((r) => r.deleted === true)
    assert.ok(tombstones.length > 5, `deletes leave tombstones (${tombstones.length})`)
    assert.ok(tombstones.every((r) => r.values.every((v) => v === null)))
    // Same as_of twice for one key (archive order must break the tie): the labels include them.
    assert.ok(
      labels.some((l) => l.kind === 'tie'),
      'rows tied on as_of, and labels on them',
    )
  })

  void test('every stored and request feature equals the oracle, cell for cell', () => {
    assert.equal(columns.ts?.length, labels.length)
    assert.deepEqual(
      columns.user_id,
      labels.map((l) => l.user_id),
    )
    const nonNull = new Map<string, number>()
    labels.forEach((label, r) => {
      const joined = new Map<string, FeatureValue>()
      for (const view of VIEWS) {
        const expected = oracle(view, label)
        view.features.forEach((feature, i) => {
          const ref = `${view.name}:${feature.name}`
          joined.set(ref, expected[i] ?? null)
          if (!SERVICE_REFS.includes(ref)) return
          const got = columns[`${view.name}__${feature.name}`]![r]
          assert.deepEqual(
            got,
            expected[i] ?? null,
            `label ${r} (${label.kind}, user ${label.user_id}, order ${label.order_id}, t=${label.ts}) ${ref}`,
          )
          if (got !== null) nonNull.set(view.name, (nonNull.get(view.name) ?? 0) + 1)
        })
      }
      const want = fixture.amountVsAvg7d.fn(
        { amount: label.amount },
        { 'user_purchases:amount_avg_7d': joined.get('user_purchases:amount_avg_7d')! },
        {},
      )
      assert.deepEqual(columns.amount_vs_avg_7d![r], want, `label ${r} amount_vs_avg_7d`)
      if (want !== null) nonNull.set('amount_vs_avg_7d', (nonNull.get('amount_vs_avg_7d') ?? 0) + 1)
    })
    // The comparison means something only if every tier answered for many labels.
    for (const name of [...VIEWS.map((v) => v.name), 'amount_vs_avg_7d'])
      assert.ok((nonNull.get(name) ?? 0) > 20, `${name}: ${nonNull.get(name) ?? 0} non-null cells`)
  })

  void test('a label on a deleted order: order_state is null (tombstone), the user views still answer', () => {
    const onTombstone = labels.flatMap((l, r) => (l.kind === 'tombstone' ? [r] : []))
    assert.ok(onTombstone.length > 0)
    for (const r of onTombstone) {
      assert.equal(columns.order_state__status![r], null, `label ${r}`)
      assert.equal(columns.order_state__amount![r], null, `label ${r}`)
      assert.notEqual(columns.user_profile__status![r], null, `label ${r}: the user's profile`)
      assert.notEqual(columns.user_open_orders__count![r], null, `label ${r}: the user's open orders`)
    }
  })

  void test('labels exactly at a stored as_of see that row; from as_of + ttl on they see null; before any row, null', () => {
    let exact = 0
    let expired = 0
    labels.forEach((label, r) => {
      if (label.kind === 'before-any-row') {
        for (const ref of SERVICE_REFS) assert.equal(columns[ref.replace(':', '__')]![r], null, `label ${r} ${ref}`)
      }
      for (const view of VIEWS) {
        const feature = view.features.find((f) => SERVICE_REFS.includes(`${view.name}:${f.name}`))!
        const column = columns[`${view.name}__${feature.name}`]!
        // The last row written at exactly t (archive order) is the one joined.
        const at = (rows.get(view.name)!.get(keyOf(view, label)) ?? []).filter((row) => row.asOfMs === label.ts).at(-1)
        if (at !== undefined) {
          assert.deepEqual(
            column[r],
            at.deleted === true ? null : (at.values[view.features.indexOf(feature)] ?? null),
            `label ${r} ${view.name} at its as_of`,
          )
          exact++
        }
        const best = latest(view, label)
        if (best !== undefined && best.deleted !== true && best.asOfMs <= label.ts - view.ttlMs) {
          assert.equal(column[r], null, `label ${r} ${view.name}: its latest row is as old as the TTL`)
          expired++
        }
      }
    })
    assert.ok(exact > 100, `cells of labels at an as_of: ${exact}`)
    assert.ok(expired > 50, `cells whose latest row is past the TTL: ${expired}`)
  })
})
