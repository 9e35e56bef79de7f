/**
 * `kfs serve`'s status page: how far a view's checkpoints are behind its topic (main/view-lag.ts).
 * Records retention deleted can never be read (docs/semantics.md §17); before, a partition whose
 * log start moved past its checkpoint (or that had none) was shown behind by every deleted offset,
 * so the page never reached 0 for a view that had read all that was left. Every ordering of
 * checkpoint, log start and end, over several partitions summed.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { PartitionCheckpoint } from '../../../engine/checkpoint-store.ts'
import { viewLag } from '../../../main/view-lag.ts'

/** A partition: its checkpoint's position (undefined: none), the log's start and end. */
type Partition = [checkpoint: number | bigint | undefined, start: number | bigint, end: number | bigint]

const cases: [string, Partition[], number][] = [
  ['no retention: end minus checkpoint', [[40, 0, 100]], 60],
  ['caught up', [[100, 0, 100]], 0],
  ['no checkpoint, nothing deleted: the whole log', [[undefined, 0, 100]], 100],
  ['no checkpoint, a prefix deleted: what the log holds', [[undefined, 70, 100]], 30],
  ['checkpoint behind a moved log start: from the start', [[40, 70, 100]], 30],
  ['checkpoint behind a start at the end: nothing left to read', [[40, 100, 100]], 0],
  ['checkpoint past the start: from the checkpoint', [[80, 70, 100]], 20],
  ['an empty partition', [[undefined, 0, 0]], 0],
  [
    'partitions summed, each clamped on its own',
    [
      [40, 70, 100],
      [10, 0, 20],
      [undefined, 50, 50],
    ],
    40,
  ],
  ['offsets past 2^53', [[9007199254740986n, 9007199254740990n, 9007199254740993n]], 3],
]

void describe('viewLag: records a view is behind, what the log still holds past each checkpoint', () => {
  for (const [name, partitions, lag] of cases) {
    void test(name, async () => {
      const log = {
        startOffsets: async () => partitions.map(([, start]) => String(start)),
        endOffsets: async () => partitions.map(([, , end]) => String(end)),
      }
      const checkpoints = {
        latest: async (_topic: string, partition: number) => {
          const at = partitions[partition]![0]
          return at === undefined
            ? undefined
            : ({ nextOffset: String(at), createdAtMs: 1_000 + partition } as PartitionCheckpoint)
        },
      }
      const got = await viewLag(log, checkpoints, 't')
      assert.equal(got.lagRecords, lag)
      const missing = partitions.some(([at]) => at === undefined)
      assert.equal(got.lastCheckpointMs, missing ? undefined : 1_000, 'the oldest checkpoint, none while a partition has none')
    })
  }
})
