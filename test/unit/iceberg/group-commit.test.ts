/**
 * Group commit, made to happen (docs/semantics.md §11 "Group commit"): the first commit to a table
 * is held open by a gated store while other partitions' checkpoints arrive, one by one; they must
 * land together in one snapshot after it — each with its own marker, offset and rows-through, and
 * each answered on its own — while the first, which met no commit in flight, went to the store at
 * once. A checkpoint another writer commits while the group's attempt is in flight is left out of
 * the group on its retry; the others still land, once.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { markerName, sinkOn, stagedWorld, StepStore } from './group-commit-world.ts'

const PARTITIONS = 4
const staged = stagedWorld(PARTITIONS, 1)
const all = (seq: number): Map<number, number> => new Map(Array.from({ length: PARTITIONS }, (_, p) => [p, seq]))
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** A promise to wait on and the function that settles it. */
function gate(): { readonly opened: Promise<void>; readonly open: () => void } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

void describe('iceberg > group commit', () => {
  void test('checkpoints arriving while a commit to the table is in flight land in one snapshot after it: fewer snapshots than partitions', async () => {
    const world = await (await staged).copy()
    const step = new StepStore(world.memory)
    const sink = sinkOn(step.store)
    const held = gate()
    const reached = gate()
    step.beforeCall = async (call, key) => {
      if (step.calls > 1 || !key.includes('/archive/')) return
      reached.open()
      await held.opened
    }
    step.counting = true
    const records = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => world.record(p, 1)))
    const answered: number[] = []
    const runs = [world.rollForward(sink, records[0]!).then(() => answered.push(0))]
    // The first commit meets none in flight: it goes to the store at once.
    await reached.opened
    for (const [p, record] of records.entries()) {
      if (p === 0) continue
      runs.push(world.rollForward(sink, record).then(() => answered.push(p)))
      await turns(3)
    }
    assert.equal(step.calls, 1, 'the later checkpoints wait for the commit in flight, not the store')
    assert.deepEqual(answered, [])
    held.open()
    await Promise.all(runs)
    const snapshots = await world.assertTables(all(1))
    assert.equal(snapshots.archive, 2, 'the archive: the first checkpoint, then the three that waited for it')
    assert.ok(snapshots.feature < PARTITIONS, `the feature table: ${snapshots.feature} snapshots for ${PARTITIONS} checkpoints`)
    // The group's snapshot names each of its checkpoints apart.
    const group = (await loadTable(world.memory, world.archiveId)).metadata.snapshots.at(-1)!.summary!
    for (let p = 1; p < PARTITIONS; p++) {
      assert.equal(group[`kfs.ckpt.${markerName(p)}`], '1')
      assert.equal(group[`kfs.offset.${markerName(p)}`], '2')
    }
    assert.equal(group[`kfs.ckpt.${markerName(0)}`], undefined)
  })

  void test("a checkpoint another writer commits while the group's attempt is in flight is left out on the retry; the others land once", async () => {
    const world = await (await staged).copy()
    const step = new StepStore(world.memory)
    const sink = sinkOn(step.store)
    const first = gate()
    const firstReached = gate()
    const second = gate()
    const secondReached = gate()
    let creates = 0
    step.beforeCall = async (call, key) => {
      if (call !== 'putIfAbsent' || !key.includes('/archive/')) return
      creates++
      if (creates === 1) {
        firstReached.open()
        await first.opened
      } else if (creates === 2) {
        secondReached.open()
        await second.opened
      }
    }
    step.counting = true
    const records = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => world.record(p, 1)))
    const runs = [world.rollForward(sink, records[0]!)]
    await firstReached.opened
    for (const record of records.slice(1)) runs.push(world.rollForward(sink, record))
    first.open()
    // The group's first attempt is about to create the next version: another writer (a zombie
    // owner, a restarted process) commits the last partition's checkpoint first.
    await secondReached.opened
    const last = PARTITIONS - 1
    await world.rollForward(sinkOn(world.memory), records[last]!)
    second.open()
    await Promise.all(runs)
    assert.ok(creates > 2, `the group's attempt lost the race and was retried (${creates} creates)`)
    const snapshots = await world.assertTables(all(1))
    assert.equal(snapshots.archive, 3, 'the first checkpoint, the other writer’s, then the group without it')
    const group = (await loadTable(world.memory, world.archiveId)).metadata.snapshots.at(-1)!.summary!
    for (let p = 1; p < last; p++) assert.equal(group[`kfs.ckpt.${markerName(p)}`], '1')
    assert.equal(
      group[`kfs.ckpt.${markerName(last)}`],
      undefined,
      'the checkpoint the other writer committed is not in the group',
    )
    assert.equal(group['added-records'], String(2 * (last - 1)), 'the group added only its own rows')
  })

  void test('commits sharing a summary key (one partition’s checkpoints) never share a snapshot: each lands in its own, in call order, others joining them', async () => {
    const world = await (await staged).copy()
    const step = new StepStore(world.memory)
    const sink = sinkOn(step.store)
    const held = gate()
    const reached = gate()
    step.beforeCall = async (call, key) => {
      if (step.calls > 1 || !key.includes('/archive/')) return
      reached.open()
      await held.opened
    }
    step.counting = true
    const runs = [world.rollForward(sink, await world.record(1, 1))]
    await reached.opened
    // Partition 0's two checkpoints both wait for partition 1's commit (its second rolled forward
    // without waiting for the first, as two slots of one partition would: a fenced one and its
    // successor), and partition 2's with them.
    const [first, second, other] = [await world.record(0, 1), await world.record(0, 2), await world.record(2, 1)]
    runs.push(world.rollForward(sink, first), world.rollForward(sink, second), world.rollForward(sink, other))
    held.open()
    await Promise.all(runs)
    await world.assertTables(
      new Map([
        [0, 2],
        [1, 1],
        [2, 1],
      ]),
    )
    const summaries = (await loadTable(world.memory, world.archiveId)).metadata.snapshots.map((s) => s.summary ?? {})
    const markersOf = (p: number) => summaries.map((summary) => summary[`kfs.ckpt.${markerName(p)}`])
    assert.deepEqual(markersOf(0), [undefined, '1', '2'], 'partition 0’s checkpoints each in their own snapshot, in call order')
    assert.deepEqual(markersOf(2), [undefined, '1', undefined], 'partition 2’s joins the first of them')
  })
})
