/**
 * @module operators — the pure aggregation library: aggregators, hopped windows and the
 * per-partition task. Imports only core/ and features/types.ts; no I/O, clock,
 * randomness or logging, so live, replay and serving run the very same code.
 */
export { createPartitionTask, restorePartitionTask } from './task/partition-task.ts'
export type { PartitionTask, PartitionTaskOptions, TaskEvent } from './task/partition-task.ts'
export type { TaskDeadLetter, TaskDeadLetterReason, TaskOutput } from './task/output.ts'
export { eventTimeOf } from './task/event-fields.ts'
export { compareKeyBytes } from './task/key-order.ts'
export { aggregatorFor } from './aggregators/registry.ts'
export type { Aggregator } from './aggregators/types.ts'
export { HLL_PRECISION } from './aggregators/approx-distinct.ts'
export { PERCENTILE_RELATIVE_ACCURACY } from './aggregators/approx-percentile.ts'
