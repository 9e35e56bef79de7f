/**
 * Warming a slot's snapshot encoder up before its first checkpoint (issue #21). The cut of a
 * checkpoint encodes the operator state with the event loop stopped; the first cut of a process
 * used to run that code cold — interpreted, over every key: 25–45 ms in bench freshness (2,500 keys
 * a partition) against 6–8 ms once ~10,000 entries had been encoded earlier. So after each batch a
 * slot encodes a few keys' entries and throws the bytes away (PartitionTask.warmUpSnapshot: state
 * and change tracking untouched), each time a stall of a few ms at most, until enough were.
 */
import type { PartitionTask } from '../operators/task/partition-task.ts'

const WARM_UP_ENTRIES = 4_096
const WARM_UP_BATCH_KEYS = 512
/** Batches after which a slot stops trying (its views may hold few keys, or only change views, which have no warm-up). */
const WARM_UP_BATCHES = 64

export class SnapshotWarmUp {
  #entries = 0
  #batches = 0

  /** After a batch of `processors`' tasks: a few more entries, until WARM_UP_ENTRIES or WARM_UP_BATCHES. */
  afterBatch(processors: readonly { readonly task: PartitionTask }[]): void {
    if (this.#entries >= WARM_UP_ENTRIES || this.#batches++ >= WARM_UP_BATCHES) return
    for (const p of processors) this.#entries += p.task.warmUpSnapshot(WARM_UP_BATCH_KEYS)
  }
}
