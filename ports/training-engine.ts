/**
 * The engine of one training-set build: a label reader (ports/label-reader.ts) and a
 * point-in-time joiner (ports/point-in-time-joiner.ts) on one engine instance, so a build starts
 * and frees the engine once (each start and free costs tens of milliseconds; freeing the memory of
 * a large join, ~0.1 s). Adapter: adapters/duckdb.
 *
 * The two behave exactly as their own ports say; they share the instance's threads, memory and
 * spill directory, never session settings. Failure modes: opening rejects when the engine cannot
 * start (e.g. the spill directory's parent is not writable). `close` frees both; neither is usable
 * afterwards.
 */
import type { LabelReader } from './label-reader.ts'
import type { PointInTimeJoiner } from './point-in-time-joiner.ts'

export interface TrainingEngine {
  readonly labels: LabelReader
  readonly joiner: PointInTimeJoiner
  close(): Promise<void>
}
