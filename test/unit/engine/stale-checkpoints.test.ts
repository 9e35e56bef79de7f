/**
 * A partition slot restored from a checkpoint older than its tables' newest commit (docs/semantics.md
 * §14, "A checkpoint older than the tables"): a checkpoint store restored from a backup, the newest
 * records deleted by hand or lost. A run stops with several checkpoints per partition — its last one
 * sometimes dying at one of its table commits, so the tables hold it in part —; for every checkpoint k
 * of each partition, a copy of the store gets that partition's checkpoint directory back as of k (a
 * backup of it) and runs on to the stream's end with another checkpoint cadence. Every view's
 * offline rows must then equal an uninterrupted run's exactly (each row once, none missing), the
 * archive hold every record and idle marker once, the online store each key's last row, and the dead
 * letters be each refusal once. The same for a view's backfill restored from an earlier checkpoint of
 * its own. One view emits rows on idle markers (its windows close there, before the next record).
 *
 * Before, the slot numbered its checkpoints on from the old record: the tables, holding a higher seq,
 * took none of them (their rows lost) until one passed it, which appended every row since the one
 * before again (rows doubled); the live slot archived the records again and re-emitted the dead
 * letters of the span. Seeded: a failure names its seed; KFS_TEST_SEED replays it.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { userPurchases } from '../../../examples/features.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { backfillGroupId } from '../../../engine/backfill-hand-off.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { PARTITIONS, shortSpend, streamOf, type Item } from '../../support/deploy-sequence.ts'
import {
  BackedUpStore,
  checkpointDir,
  GROUP,
  letterList,
  Line,
  restoreBackup,
  runToEnd,
} from '../../support/stale-checkpoints.ts'
import { assertOnlineHoldsLastRows, assertSameRows, prng } from '../../support/scenario.ts'
import type { Decoder } from '../../../schemas/decoder.ts'

const VIEWS: readonly FeatureViewDef[] = [userPurchases, shortSpend]

let items: Item[][]
let decoder: Decoder
let dispose: () => Promise<void>
/** One uninterrupted run of every view over the whole stream. */
let oracle: Line
let oracleArchive: string[][]
/** The stream archived by a live run of userPurchases alone: what shortSpend's backfill replays. */
let archived: Line

before(async () => {
  ;({ items, decoder, dispose } = await streamOf(5, 150))
  oracle = new Line(new BackedUpStore(), items, decoder)
  await runToEnd(oracle, VIEWS, 13)
  oracleArchive = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => oracle.archive(p)))
  // Some records arrive late for the views: their refusals are the dead letters to hold once.
  assert.ok(letterList(oracle.letters).length > 0, 'the stream has dead letters')
  archived = new Line(new BackedUpStore(), items, decoder)
  await runToEnd(archived, [userPurchases], 11)
})
after(() => dispose())

async function assertAsOracle(
  line: Line,
  views: readonly FeatureViewDef[],
  what: string,
  options: { archive: boolean },
): Promise<void> {
  for (const view of views) {
    const expected = await readFeatureRowsByEntity(oracle.store.inner, view)
    assertSameRows(await readFeatureRowsByEntity(line.store.inner, view), expected, `${view.name} offline, ${what}`)
    await assertOnlineHoldsLastRows(line.online, view, expected)
    assert.deepEqual(
      letterList(line.letters, view.name),
      letterList(oracle.letters, view.name),
      `${view.name}'s dead letters, ${what}`,
    )
  }
  if (!options.archive) return
  for (let p = 0; p < PARTITIONS; p++)
    assert.deepEqual(await line.archive(p), oracleArchive[p], `archive of partition ${p}, ${what}`)
}

/** The seqs of the checkpoints a partition's directory was backed up at, oldest first. */
function backupsOf(line: Line, dir: string): [number, ReadonlyMap<string, Uint8Array>][] {
  const backups = line.store.backups.get(dir)
  assert.ok(backups !== undefined && backups.size >= 3, `${dir}: ${backups?.size ?? 0} checkpoints, a few wanted`)
  return [...backups].sort(([a], [b]) => a - b)
}

const BASE_SEED = Number(process.env.KFS_TEST_SEED ?? 1)
const SEEDS = process.env.KFS_TEST_SEED === undefined ? 2 : 1

for (let seed = BASE_SEED; seed < BASE_SEED + SEEDS; seed++) {
  void test(`live partitions restored from every earlier checkpoint, seed ${seed} (KFS_TEST_SEED=${seed} replays it)`, async (t) => {
    const rand = prng(seed)
    const stop = 0.45 + rand() * 0.3
    const every = 6 + Math.floor(rand() * 6)
    const everyAfter = 9 + Math.floor(rand() * 30)
    // Each checkpoint commits three tables: the archive, then each view's.
    const dieAtCommit = rand() < 0.5 ? 1 + Math.floor(rand() * 3) : undefined
    const original = new Line(new BackedUpStore(), items, decoder)
    for (let p = 0; p < PARTITIONS; p++) {
      const until = Math.floor(items[p]!.length * stop)
      await original.live(p, VIEWS, { until, every, ...(dieAtCommit === undefined ? {} : { dieAtCommit }) })
    }
    for (let p = 0; p < PARTITIONS; p++) {
      const backups = backupsOf(original, checkpointDir(GROUP, p))
      const newest = backups.at(-1)![0]
      for (const [k, backup] of backups) {
        const what = `seed ${seed}: partition ${p} restored from checkpoint ${k} of ${newest} (checkpoints every ${every} items, then every ${everyAfter}${dieAtCommit === undefined ? '' : `; the last one died at its commit ${dieAtCommit}`})`
        await t.test(what, async () => {
          const line = await original.copy()
          await restoreBackup(line.store, checkpointDir(GROUP, p), backup)
          await runToEnd(line, VIEWS, everyAfter)
          await assertAsOracle(line, VIEWS, what, { archive: true })
        })
      }
    }
  })

  void test(`a backfill restored from every earlier checkpoint of its own, seed ${seed}`, async (t) => {
    const rand = prng(seed * 31 + 7)
    const every = 8 + Math.floor(rand() * 8)
    // Fewer checkpoints than before, or more: its seqs pass the old ones' or stay below them.
    const everyAfter = 3 + Math.floor(rand() * 30)
    // The backfill dies at one of its commits (one table per checkpoint), or completes.
    const dieAtCommit = rand() < 0.5 ? 4 + Math.floor(rand() * 6) : undefined
    const original = await archived.copy()
    await original.backfill(shortSpend, every, dieAtCommit)
    let restored = 0
    for (let p = 0; p < PARTITIONS; p++) {
      const dir = checkpointDir(backfillGroupId(GROUP, shortSpend), p)
      const backups = [...(original.store.backups.get(dir) ?? [])].sort(([a], [b]) => a - b)
      const newest = backups.at(-1)?.[0]
      for (const [k, backup] of backups) {
        const what = `seed ${seed}: the backfill's partition ${p} restored from its checkpoint ${k} of ${newest} (checkpoints every ${every} rows, then every ${everyAfter}${dieAtCommit === undefined ? '' : `; it died at its commit ${dieAtCommit}`})`
        restored++
        await t.test(what, async () => {
          const line = await original.copy()
          await restoreBackup(line.store, dir, backup)
          await line.backfill(shortSpend, everyAfter)
          await assertAsOracle(line, [shortSpend], what, { archive: false })
          // The live group takes the view over from the backfill and runs on: every row still once.
          await runToEnd(line, VIEWS, everyAfter)
          await assertAsOracle(line, VIEWS, `${what}, then taken over by live`, { archive: true })
        })
      }
    }
    assert.ok(restored >= 3, `${restored} backfill checkpoints, a few wanted`)
  })
}
