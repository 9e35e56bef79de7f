/**
 * @module operators — the pure aggregation library: aggregators (each with its contract, listed
 * in aggregators/catalog.ts), hopped windows and the per-partition task. Imports only core/ and
 * features/; no I/O, clock, randomness or logging, so live, replay and serving run the very
 * same code.
 */
export { createPartitionTask, restorePartitionTask } from './task/partition-task.ts'
export type { PartitionTask, PartitionTaskOptions, TaskEvent } from './task/partition-task.ts'
export type { TaskDeadLetter, TaskDeadLetterReason, TaskOutput } from './task/output.ts'
export { eventTimeOf } from './task/event-fields.ts'
export { compareKeyBytes } from './task/key-order.ts'
export { AGGREGATIONS, aggregationContract, computationOf, type CatalogOp } from './aggregators/catalog.ts'
export type { AggregationContract, Computation, ParamSpec } from './aggregators/contract.ts'
export type { Aggregator } from './aggregators/types.ts'
export { HLL_PRECISION } from './aggregators/approx-distinct.ts'
export { PERCENTILE_RELATIVE_ACCURACY } from './aggregators/approx-percentile.ts'
