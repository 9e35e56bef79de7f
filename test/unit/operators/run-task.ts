/** Drives a partition task over reference-model records (one partition) and collects its output. */
import type { FeatureRow, FeatureViewDef, SourceDef } from '../../../features/types.ts'
import { createPartitionTask, restorePartitionTask, type PartitionTask } from '../../../operators/task/partition-task.ts'
import type { TaskDeadLetter } from '../../../operators/task/output.ts'
import type { ReferenceRecord } from '../../reference/reference-model.ts'

export interface Collected {
  rows: FeatureRow[][]
  dead: TaskDeadLetter[]
  /** The task's snapshot after the last record (equal state must give equal bytes). */
  finalSnapshot?: Uint8Array
}

export function feed(task: PartitionTask, records: readonly ReferenceRecord[], into: Collected): void {
  for (const rec of records) {
    const out = 'marker' in rec ? task.processWatermarkMarker(rec.marker) : task.processEvent({ offset: rec.offset, eventTimeMs: rec.eventTimeMs, event: rec.event })
    out.rows.forEach((rows, i) => into.rows[i]!.push(...rows))
    into.dead.push(...out.deadLetters)
  }
}

export function runTask(views: readonly FeatureViewDef[], source: SourceDef, records: readonly ReferenceRecord[], splitAt?: number): Collected {
  const into: Collected = { rows: views.map(() => []), dead: [] }
  let task = createPartitionTask({ views, source })
  if (splitAt === undefined) {
    feed(task, records, into)
  } else {
    feed(task, records.slice(0, splitAt), into)
    task = restorePartitionTask(views, source, task.snapshot())
    feed(task, records.slice(splitAt), into)
  }
  into.finalSnapshot = task.snapshot()
  return into
}
