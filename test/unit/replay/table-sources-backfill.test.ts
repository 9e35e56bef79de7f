/**
 * The live = backfill oracle for the batch tier (docs/design.md §8, §11): a table source (a users
 * snapshot ingested twice, so rows change between nights) and a changelog source (orders, with
 * updates and deletes) are archived like any source, and a view added later and backfilled by
 * `kfs replay` writes the offline rows — as_of, values, tombstones, order — the live engine wrote
 * for the same logic. Views: an attribute view of each source (the order's tombstones included)
 * and an aggregation over the changelog (retractions). Every step is an ordinary `kfs` command
 * on embedded defaults.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { FeatureRow } from '../../../features/types.ts'
import { loadDefinitions } from '../../../registry/load-definitions.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { createOfflineStore } from '../../../main/offline-adapters.ts'
import { orderChanges, usersSnapshot, type UserRow } from '../../../examples/generate-tables.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const DAY = 86_400_000
const START_MS = Date.UTC(2026, 10, 1, 8)
const FIRST_NIGHT_MS = Math.floor(START_MS / DAY) * DAY - 2 * DAY
const USERS = 120

/** Each live view's logic again under a new name: what `kfs replay` backfills. */
const PAIRS = [
  ['user_profile', 'user_profile_added'],
  ['user_open_orders', 'user_open_orders_added'],
  ['order_state', 'order_state_added'],
] as const

const moduleText = (withAdded: boolean) => `import { featureView } from '${repo}features/index.ts'
import { order, orders, userOpenOrders, userProfile } from '${repo}examples/three-tiers.ts'
export * from '${repo}examples/three-tiers.ts'
const orderStateDef = { version: 1, entity: order, source: orders, attributes: ['status', 'amount'], ttl: '5m', freshnessSla: '5m', owner: 'audit@kfs', description: 'the order row, a tombstone once deleted' }
export const orderState = featureView({ name: 'order_state', ...orderStateDef })
${
  withAdded
    ? `export const userProfileAdded = featureView({ name: 'user_profile_added', version: 1, entity: userProfile.entity, source: userProfile.source, attributes: ['status', 'credit_limit', 'country'], ttl: '400d', freshnessSla: '2d', owner: 'audit@kfs', description: 'added later' })
export const userOpenOrdersAdded = featureView({ name: 'user_open_orders_added', version: 1, entity: userOpenOrders.entity, source: orders, filter: (row) => row.status === 'open', aggregations: [{ op: 'count' }, { op: 'sum', field: 'amount' }, { op: 'avg', field: 'amount' }], ttl: '30d', freshnessSla: '5m', owner: 'audit@kfs', description: 'added later' })
export const orderStateAdded = featureView({ name: 'order_state_added', ...orderStateDef })`
    : ''
}
`

let dataDir = ''
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'kfs-table-backfill-'))
})
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
  const codec = createParquetCodec({ worker: false })
  await writeFile(
    path,
    await codec.encode(
      cols,
      cols.map((c) => users.map((r: UserRow) => r[c.name])),
    ),
  )
  return path
}

const plain = (rows: Map<string, FeatureRow[]>) =>
  Object.fromEntries(
    [...rows]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, list]) => [key, list.map((r) => ({ asOfMs: r.asOfMs, deleted: r.deleted ?? false, values: [...r.values] }))]),
  )

void test('table and changelog sources: a view backfilled by kfs replay has the rows live wrote for the same logic', async () => {
  const live = join(dataDir, 'live.ts')
  const added = join(dataDir, 'added.ts')
  await writeFile(live, moduleText(false))
  await writeFile(added, moduleText(true))
  await kfs(['apply', '--features', live])
  await kfs(['ingest', '--features', live, '--source', 'users', '--snapshot', await writeUsers(1)])
  const ordersPath = join(dataDir, 'orders.ndjson')
  const changes = orderChanges({ count: 500, users: USERS, startMs: START_MS, meanGapMs: 1_000 })
  assert.ok(changes.some((c) => c.op === 'd') && changes.some((c) => c.op === 'u'), 'the changelog updates and deletes rows')
  await writeFile(ordersPath, changes.map((c) => JSON.stringify(c)).join('\n') + '\n')
  await kfs(['produce', '--features', live, '--topic', 'shop.public.orders', '--file', ordersPath])
  await kfs(['run', '--features', live, '--until-caught-up', '--idle', '1s'])
  await kfs(['ingest', '--features', live, '--source', 'users', '--snapshot', await writeUsers(2)])
  await kfs(['run', '--features', live, '--until-caught-up', '--idle', '1s'])

  await kfs(['apply', '--features', added])
  await kfs(['replay', '--features', added, '--online', '--views', PAIRS.map(([, b]) => b).join(',')])

  // Read as kfs read them (tsx loads a module outside a package as CommonJS, its re-exports under `default`).
  const views = new Map((await loadDefinitions(added)).views.map((v) => [v.name, v]))
  const offline = createOfflineStore(new LocalObjectStore(join(dataDir, 'objects')), { parquetWorker: false })
  for (const [liveName, addedName] of PAIRS) {
    const liveRows = plain(await offline.readFeatureRows(views.get(liveName)!))
    assert.ok(Object.keys(liveRows).length > 0, `${liveName}: live wrote rows`)
    assert.deepEqual(plain(await offline.readFeatureRows(views.get(addedName)!)), liveRows, `${addedName} = ${liveName}`)
  }
  assert.ok(
    Object.values(plain(await offline.readFeatureRows(views.get('order_state')!))).some((rows) => rows.some((r) => r.deleted)),
    'tombstones were compared',
  )
})
