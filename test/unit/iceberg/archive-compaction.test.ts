/**
 * Archive compaction (adapters/offline/iceberg/archive-compaction.ts) over random archives: many
 * partitions, many small checkpoints of records, tombstones, records that do not decode, offset
 * gaps and idle markers (several at one offset, marker-only checkpoints), compacted at random
 * points between appends with random ages and file sizes. After every compaction each partition
 * reads exactly the reference's rows in its order — whole, and from/until random offsets as the
 * snapshot before it read them — where each partition ends, the checkpoint markers and the table's
 * row count are unchanged, snapshots taken before still read as they did, and compacting again
 * commits nothing.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { partitionRuns } from '../../../adapters/offline/iceberg/archive-compaction.ts'
import type { BoundedArchiveFile } from '../../../adapters/offline/iceberg/archive-reader.ts'
import type { LiveEntry } from '../../../adapters/offline/iceberg/table-reader.ts'
import { ArchiveWorld, checkpointItems, MINUTE, readPartition, rowText, TOPIC, type Item } from './archive-world.ts'

type Op =
  | { readonly kind: 'append'; readonly partition: number; readonly items: Item[] }
  | { readonly kind: 'compact'; readonly ageMinutes: number; readonly rowsPerFile: number; readonly filesPerCommit: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), partition: fc.nat(2), items: checkpointItems }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      ageMinutes: fc.nat(20),
      rowsPerFile: fc.integer({ min: 2, max: 30 }),
      filesPerCommit: fc.integer({ min: 1, max: 8 }),
    }),
  },
)

interface Seen {
  readonly snapshotId: string
  readonly rows: Map<number, string[]>
}

const totals = { compactions: 0, removedFiles: 0, oldSnapshotsRead: 0, rangesRead: 0 }

async function checkCompaction(
  world: ArchiveWorld,
  ageMinutes: number,
  rowsPerFile: number,
  filesPerCommit: number,
  seen: readonly Seen[],
  pick: number,
): Promise<void> {
  const { sink } = world
  const before = await sink.archiveEnd(TOPIC)
  const markersBefore = (await sink.snapshots(world.tableId)).at(-1)?.markers
  const options = { committedBeforeMs: world.clock.now - ageMinutes * MINUTE, rowsPerFile, filesPerCommit }
  const result = await sink.compactArchive(TOPIC, options)
  totals.compactions++
  totals.removedFiles += result.removedFiles
  if (result.removedFiles > 0) assert.equal(result.status, 'committed')
  else assert.deepEqual(result, { removedFiles: 0, addedFiles: 0, status: undefined })

  for (const p of world.partitions) {
    const expected = world.rows.get(p)!.map((r) => rowText(r))
    assert.deepEqual(await readPartition(sink, p), expected, `partition ${p} reads the reference`)
    if (before.snapshotId === null) continue
    // Ranges as replay and the catch-up ask for them, read as the snapshot before compaction read them.
    const offsets = world.rows.get(p)!.map((r) => Number(r.offset))
    const from = String(offsets[pick % offsets.length]!)
    const until = String(offsets[(pick * 7) % offsets.length]! + (pick % 2))
    for (const range of [{ fromOffset: from }, { untilOffset: until }, { fromOffset: from, untilOffset: until }]) {
      assert.deepEqual(
        await readPartition(sink, p, range),
        await readPartition(sink, p, { ...range, snapshotId: before.snapshotId }),
        `partition ${p} ${JSON.stringify(range)}`,
      )
      totals.rangesRead++
    }
  }
  const after = await sink.archiveEnd(TOPIC)
  assert.deepEqual(after.nextOffsets, before.nextOffsets, 'where each partition ends')
  assert.deepEqual((await sink.snapshots(world.tableId)).at(-1)?.markers, markersBefore, 'checkpoint markers')
  // Snapshots from before read as they did.
  for (const s of [seen[0], seen[pick % Math.max(1, seen.length)], seen.at(-1)]) {
    if (s === undefined) continue
    for (const [p, rows] of s.rows)
      assert.deepEqual(
        await readPartition(sink, p, { snapshotId: s.snapshotId }),
        rows,
        `snapshot ${s.snapshotId}, partition ${p}`,
      )
    totals.oldSnapshotsRead++
  }
  const snapshots = (await sink.snapshots(world.tableId)).length
  assert.deepEqual(
    await sink.compactArchive(TOPIC, options),
    { removedFiles: 0, addedFiles: 0, status: undefined },
    'compacting again finds nothing',
  )
  assert.equal((await sink.snapshots(world.tableId)).length, snapshots, 'and commits nothing')
}

void describe('archive compaction over random archives', () => {
  void test('every partition reads the same rows in the same order; old snapshots too; a rerun commits nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 40 }), fc.nat(1000), async (ops, pick) => {
        const world = new ArchiveWorld()
        const seen: Seen[] = []
        for (const o of ops) {
          world.clock.now += MINUTE
          if (o.kind === 'append') {
            await world.append(o.partition, o.items)
            const end = await world.sink.archiveEnd(TOPIC)
            seen.push({
              snapshotId: end.snapshotId!,
              rows: new Map(world.partitions.map((p) => [p, world.rows.get(p)!.map(rowText)])),
            })
          } else await checkCompaction(world, o.ageMinutes, o.rowsPerFile, o.filesPerCommit, seen, pick)
        }
        // Everything old: the last word on each archive.
        world.clock.now += 60 * MINUTE
        await checkCompaction(world, 0, 6, 4, seen, pick)
      }),
      { numRuns: 20, endOnFailure: true },
    )
    // The runs together compacted, read old snapshots and ranges: the comparisons checked something.
    assert.ok(totals.removedFiles > 50 && totals.oldSnapshotsRead > 30 && totals.rangesRead > 100, JSON.stringify(totals))
  })
})

/** A partition's files in read order, as the planner sees them: lowest and highest offset, rows. */
const partitionFiles = fc
  .array(
    fc.record({
      step: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 4 })),
      span: fc.oneof(fc.constant(0), fc.nat(5)),
      rows: fc.integer({ min: 1, max: 9 }),
    }),
    { maxLength: 30 },
  )
  .map((specs) => {
    let lo = 0n
    return specs.map(({ step, span, rows }, i) => {
      lo += BigInt(step)
      const file = { lo, hi: lo + BigInt(span), rows, seq: BigInt(i + 1) }
      lo = file.hi
      return file
    })
  })

type PlanFile = { lo: bigint; hi: bigint; rows: number; seq: bigint }
const bounded = (f: PlanFile): BoundedArchiveFile => ({
  lo: f.lo,
  hi: f.hi,
  e: { dataFile: { recordCount: f.rows, filePath: `f${f.seq}` }, dataSequenceNumber: f.seq } as unknown as LiveEntry,
})

void describe('archive compaction plans runs the reader orders as before', () => {
  void test('runs are whole stretches of old files, never split files sharing an offset, and a second plan finds none', () => {
    let runsSeen = 0
    fc.assert(
      fc.property(partitionFiles, fc.nat(30), fc.integer({ min: 1, max: 12 }), (files, oldCount, rowsPerFile) => {
        const runs = partitionRuns(0, files.map(bounded), (f) => Number(f.e.dataSequenceNumber) <= oldCount, rowsPerFile)
        runsSeen += runs.length
        const merged: PlanFile[] = []
        let next = 0
        for (const run of runs) {
          const first = files.findIndex((f) => `f${f.seq}` === run.files[0]!.e.dataFile.filePath)
          assert.ok(first >= next && run.files.length >= 2)
          const last = first + run.files.length - 1
          assert.ok(
            run.files.every((f, i) => f.e.dataFile.filePath === `f${files[first + i]!.seq}`),
            'a run is consecutive files',
          )
          assert.ok(last < oldCount || files.slice(0, last + 1).every((f) => f.seq <= BigInt(oldCount)), 'only old files')
          // The merged file sorts where its files did: strictly after the file before, strictly before the file after.
          const lo = files[first]!.lo
          if (first > 0) assert.ok(files[first - 1]!.lo < lo, 'the file before sorts first')
          if (last + 1 < files.length) assert.ok(files[last + 1]!.lo > lo, 'the file after sorts last')
          else assert.ok(files[last]!.hi > lo, 'a run that ends the partition does not sit at one offset an append may start at')
          merged.push(...files.slice(next, first), {
            lo,
            hi: files[last]!.hi,
            rows: files.slice(first, last + 1).reduce((n, f) => n + f.rows, 0),
            seq: 1000n + BigInt(first),
          })
          next = last + 1
        }
        merged.push(...files.slice(next))
        assert.deepEqual(
          partitionRuns(
            0,
            merged.map(bounded),
            (f) => f.e.dataSequenceNumber <= BigInt(oldCount) || f.e.dataSequenceNumber >= 1000n,
            rowsPerFile,
          ),
          [],
          'nothing left to do',
        )
      }),
      { numRuns: 2000 },
    )
    assert.ok(runsSeen > 1000, `${runsSeen} runs planned`)
  })
})
