/**
 * A re-key stage's merge held back by a source partition whose unread records retention deleted
 * while no batch came (engine/rekey-deleted.ts, docs/semantics.md §16, §17): lane 0 has nothing
 * queued, stands at offset 10 and knows the partition ends at 50; lane 1 has records queued that
 * the merge may not forward while lane 0 could still deliver an earlier one. Every ordering of
 * the lane's position and the log's start, a batch arriving during the read, a lane not yet quiet
 * and one with records queued: the merge goes on only when the log no longer holds what lane 0
 * had left, the deletion is counted once and the consumer sought to the first record left.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { silentLogger } from '../../../core/logger.ts'
import { RecordMerge } from '../../../engine/rekey-alignment.ts'
import { rekeyIdleGapHandler } from '../../../engine/rekey-deleted.ts'

const QUIET_MS = 100
const NOW = 10_000

interface Case {
  /** Where the log starts now for partition 0. */
  readonly start: bigint
  /** Lane 0 has a record queued (then it holds nothing back). */
  readonly queued?: boolean
  /** Lane 0's last batch, ms before NOW. */
  readonly batchAgoMs?: number
  /** A batch of lane 0 arrives while the offsets are read. */
  readonly batchMeanwhile?: boolean
}

interface Want {
  readonly moved: boolean
  readonly reads: number
  readonly deleted: number
  /** Lane 0's position afterwards. */
  readonly position: bigint
  /** Lane 1's records the merge forwards afterwards. */
  readonly forwarded: number
}

const cases: [string, Case, Want][] = [
  [
    'nothing deleted: the lane waits for its records',
    { start: 0n },
    { moved: false, reads: 1, deleted: 0, position: 10n, forwarded: 0 },
  ],
  ['the log starts at the lane', { start: 10n }, { moved: false, reads: 1, deleted: 0, position: 10n, forwarded: 0 }],
  [
    'every record left deleted: the merge goes on',
    { start: 50n },
    { moved: true, reads: 1, deleted: 40, position: 50n, forwarded: 2 },
  ],
  [
    'a prefix of what was left deleted: the lane reads on from the first record left, still holding the merge',
    { start: 45n },
    { moved: true, reads: 1, deleted: 35, position: 45n, forwarded: 0 },
  ],
  [
    'a batch came during the read: its gap is its own to find',
    { start: 50n, batchMeanwhile: true },
    { moved: false, reads: 1, deleted: 0, position: 12n, forwarded: 2 },
  ],
  [
    'the lane not quiet for long enough: no read',
    { start: 50n, batchAgoMs: QUIET_MS - 1 },
    { moved: false, reads: 0, deleted: 0, position: 10n, forwarded: 0 },
  ],
  [
    'records queued in the lane: it holds nothing back, no read',
    { start: 50n, queued: true },
    { moved: false, reads: 0, deleted: 0, position: 11n, forwarded: 2 },
  ],
]

function setUp(c: Case) {
  const merge = new RecordMerge<string>(2)
  merge.start(0, 10n, 50n)
  merge.start(1, 0n, 2n)
  merge.add(
    1,
    [
      { offset: 0n, timeMs: 1_000, value: 'b0' },
      { offset: 1n, timeMs: 2_000, value: 'b1' },
    ],
    2n,
    2n,
  )
  if (c.queued === true) merge.add(0, [{ offset: 10n, timeMs: 5_000, value: 'a10' }], 11n, 50n)
  const owned = new Map([
    [0, { assignedAtMs: 0, lastBatchAtMs: NOW - (c.batchAgoMs ?? QUIET_MS) }],
    [1, { assignedAtMs: 0, lastBatchAtMs: NOW }],
  ])
  const seen = { reads: 0, seeks: [] as string[], skips: [] as string[], counts: {} as Record<string, number> }
  const handler = rekeyIdleGapHandler({
    log: {
      startOffsets: async () => {
        seen.reads++
        // A batch fetched before the deletion lands while the offsets are read.
        if (c.batchMeanwhile === true)
          merge.add(
            0,
            [
              { offset: 10n, timeMs: 3_000, value: 'a10' },
              { offset: 11n, timeMs: 3_001, value: 'a11' },
            ],
            12n,
            50n,
          )
        return [c.start.toString(), '0']
      },
      endOffsets: async () => ['50', '2'],
    },
    topic: 't',
    merge: () => merge as RecordMerge<unknown>,
    owned: () => owned,
    busy: () => false,
    reads: (read) => read(),
    report: { deletedBeforeRead: seen.counts, logger: silentLogger },
    seek: (p, position) => seen.seeks.push(`${p}@${position}`),
    skipped: (p, position) => seen.skips.push(`${p}@${position}`),
  })
  return { merge, handler, seen }
}

void describe('rekeyIdleGapHandler: lane 0 quiet at 10 of 50, lane 1 holding records the merge waits to forward', () => {
  for (const [name, c, want] of cases) {
    void test(name, async () => {
      const { merge, handler, seen } = setUp(c)
      assert.equal(await handler(NOW, QUIET_MS), want.moved)
      assert.equal(seen.reads, want.reads, 'reads of the log start')
      assert.deepEqual(seen.counts, want.deleted > 0 ? { t: want.deleted } : {}, 'counted')
      const movedTo = want.moved ? [`0@${want.position}`] : []
      assert.deepEqual(seen.seeks, movedTo, 'the consumer sought to the first record left')
      assert.deepEqual(seen.skips, movedTo, 'the position handed to the next transaction')
      assert.equal(merge.position(0), want.position)
      assert.equal(merge.take(100).filter((m) => m.partition === 1).length, want.forwarded, "lane 1's records forwarded")
      // Asked again within quietMs of a read: no second read, nothing counted twice.
      if (want.reads > 0) {
        await handler(NOW + QUIET_MS - 1, QUIET_MS)
        assert.equal(seen.reads, want.reads)
        assert.deepEqual(seen.counts, want.deleted > 0 ? { t: want.deleted } : {})
      }
    })
  }

  void test("with the caught-up check's end offsets, a lane short of them is looked at though the merge thinks it at its end", async () => {
    const merge = new RecordMerge<string>(1)
    merge.start(0, 10n, 10n)
    const counts: Record<string, number> = {}
    const skips: string[] = []
    const handler = rekeyIdleGapHandler({
      log: { startOffsets: async () => ['30'], endOffsets: async () => ['30'] },
      topic: 't',
      merge: () => merge as RecordMerge<unknown>,
      owned: () => new Map([[0, { assignedAtMs: 0, lastBatchAtMs: undefined }]]),
      busy: () => false,
      reads: (read) => read(),
      report: { deletedBeforeRead: counts, logger: silentLogger },
      seek: () => {},
      skipped: (p, position) => skips.push(`${p}@${position}`),
    })
    assert.equal(merge.atEnd(0), true)
    assert.equal(await handler(NOW, QUIET_MS), false, 'without the ends: the lane holds nothing back')
    assert.equal(await handler(NOW + QUIET_MS, QUIET_MS, ['30']), true)
    assert.deepEqual(counts, { t: 20 })
    assert.deepEqual(skips, ['0@30'])
    assert.equal(merge.position(0), 30n)
  })
})
