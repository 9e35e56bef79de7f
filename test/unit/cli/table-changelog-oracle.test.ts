/**
 * docs/design.md §11 end to end against an independent brute-force model of it
 * (test/support/section11-oracle.ts): random small cases of CSV snapshots (changed and unchanged
 * rows, rows left out, a snapshot ingested again, event times going backwards) and Debezium JSON
 * changes (c/u/d/r, key-only deletes, before images, commit times out of order, a delete then a
 * re-create) go through the CLI as users run it — apply, ingest, produce, run --until-caught-up
 * (sometimes between steps), training-set — on embedded defaults. Every label at each row's as_of,
 * just before it and at random times must get the model's point-in-time answer, and the online
 * store each key's last row (or MISSING after a delete).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { readParquetRows } from '../../../adapters/offline/parquet/index.ts'
import { EmbeddedOnlineFollower } from '../../../adapters/online-store/embedded/embedded-online-follower.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import * as defs from '../../fixtures/features/oracle-s38.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { acctOracle, type Acct, genCase, orderOracle, pit, rng, type Row, sameRow, T0 } from '../../support/section11-oracle.ts'

const base = mkdtempSync(join(tmpdir(), 'kfs-cli-section11-oracle-'))
after(() => rmSync(base, { recursive: true, force: true }))
const FEATURES = ['-f', 'test/fixtures/features/oracle-s38.ts']
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 15, 22]

async function kfs(dataDir: string, args: readonly string[]): Promise<void> {
  const r = await runKfsInProcess([...args, ...FEATURES], dataDir)
  assert.equal(r.code, 0, `kfs ${args.join(' ')}: ${r.stdout}${r.stderr}`)
}

const csv = (rows: readonly Acct[]): string =>
  'account_id,tier,balance,updated_at\n' +
  rows.map((r) => `${r.account_id},${r.tier},${r.balance},${r.updated_at}`).join('\n') +
  '\n'
const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : (v ?? null))

interface Compared {
  labels: number
  tombstones: number
}

async function runCase(seed: number, compared: Compared): Promise<string[]> {
  const { steps, runAfter } = genCase(seed)
  const dataDir = mkdtempSync(join(base, `seed${seed}-`))
  await kfs(dataDir, ['apply'])
  for (const [i, step] of steps.entries()) {
    if (step.kind === 'snap') {
      const file = join(dataDir, `snapshot${i}.csv`)
      writeFileSync(file, csv(step.rows))
      await kfs(dataDir, ['ingest', '--source', 'accounts', '--snapshot', file])
    } else {
      const file = join(dataDir, `changes${i}.ndjson`)
      writeFileSync(file, step.changes.map((c) => JSON.stringify(c)).join('\n') + '\n')
      await kfs(dataDir, ['produce', '--topic', 'orders', '--file', file])
    }
    if (runAfter[i] === true && i < steps.length - 1) await kfs(dataDir, ['run', '--until-caught-up', '--idle', '100ms'])
  }
  await kfs(dataDir, ['run', '--until-caught-up', '--idle', '100ms'])

  const accounts = acctOracle(steps)
  const orders = orderOracle(steps.flatMap((s) => (s.kind === 'changes' ? s.changes : [])))
  const r = rng(seed ^ 0x5eed)
  const online = await EmbeddedOnlineFollower.follow({ path: join(dataDir, 'online', 'online-store.json'), pollMs: 0 })
  const problems: string[] = []
  const compare = async (
    view: FeatureViewDef,
    keyColumn: string,
    keys: readonly string[],
    features: readonly string[],
    model: Map<string, Row[]>,
  ): Promise<void> => {
    const labels: [string, number][] = []
    for (const key of keys) {
      const times = new Set([T0 - 1, T0 + 30_000, T0 + r.int(25_000), T0 + r.int(25_000)])
      for (const row of model.get(key) ?? []) times.add(row.asOf).add(row.asOf - 1)
      for (const t of times) labels.push([key, t])
      compared.tombstones += (model.get(key) ?? []).filter((row) => row.values === null).length
    }
    const labelFile = join(dataDir, `${view.name}-labels.csv`)
    const out = join(dataDir, `${view.name}.parquet`)
    writeFileSync(labelFile, `${keyColumn},ts\n` + labels.map(([k, t]) => `${k},${t}`).join('\n') + '\n')
    await kfs(dataDir, [
      'training-set',
      '--labels',
      labelFile,
      '--feature-refs',
      features.map((f) => `${view.name}:${f}`).join(','),
      '--out',
      out,
    ])
    let rows = 0
    for await (const row of readParquetRows(readFileSync(out))) {
      rows++
      const key = String(row[keyColumn])
      const t = Number(plain(row.ts))
      const want = pit(model.get(key), t) ?? features.map(() => null)
      const have = features.map((f) => plain(row[`${view.name}__${f}`]))
      if (!sameRow(want, have))
        problems.push(
          `seed ${seed} offline ${view.name} ${key} at T0+${t - T0}: model ${JSON.stringify(want)}, kfs ${JSON.stringify(have)}`,
        )
    }
    assert.equal(rows, labels.length, `${view.name}: one training row per label`)
    compared.labels += rows
    const reads = await online.readRows(
      keys.map((entityKey) => ({ view, entityKey, features })),
      T0 + 60_000,
    )
    keys.forEach((key, i) => {
      const last = model.get(key)?.at(-1)
      const want = last?.values ? { status: 'PRESENT', asOf: last.asOf, values: last.values } : { status: 'MISSING' }
      const read = reads[i]!
      const have =
        read.status === 'PRESENT'
          ? { status: read.status, asOf: read.asOfMs, values: read.values.map(plain) }
          : { status: read.status }
      if (!sameRow(want, have))
        problems.push(`seed ${seed} online ${view.name} ${key}: model ${JSON.stringify(want)}, kfs ${JSON.stringify(have)}`)
    })
  }
  try {
    await compare(defs.accountProfile, 'account_id', ['a1', 'a2', 'a3'], ['tier', 'balance'], accounts)
    await compare(defs.orderState, 'order_id', ['o1', 'o2', 'o3'], ['user_id', 'amount', 'status'], orders.rows)
    await compare(defs.userOpenOrders, 'user_id', ['u1', 'u2'], ['count', 'amount_sum'], orders.groups)
  } finally {
    await online.close()
  }
  return problems
}

void describe('table and changelog sources against a brute-force model of §11', () => {
  void test(`seeds ${SEEDS.join(', ')}: training-set and online answers equal the model's`, async () => {
    const compared: Compared = { labels: 0, tombstones: 0 }
    const problems: string[] = []
    for (const seed of SEEDS) problems.push(...(await runCase(seed, compared)))
    assert.deepEqual(problems, [])
    // Checked something: labels compared, and deletes among the cases.
    assert.ok(compared.labels > 50, `${compared.labels} labels compared`)
    assert.ok(compared.tombstones > 0, 'some case deletes an order')
  })
})
