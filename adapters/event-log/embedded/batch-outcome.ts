/**
 * How many records of a batch a handler took (ports.ts `BatchOutcome`), shared by the embedded
 * and the Kafka consumer so both read an outcome the same way.
 */
import { InvariantViolation } from '../../../core/errors.ts'
import type { BatchOutcome } from '../../../ports/event-log.ts'

/** Nothing returned → the whole batch; otherwise the checked prefix length. */
export function consumedCount(outcome: BatchOutcome | void, batchLength: number): number {
  if (outcome === undefined) return batchLength
  const n = outcome.consumed
  if (!Number.isInteger(n) || n < 0 || n > batchLength) {
    throw new InvariantViolation('a batch handler reported a consumed count outside its batch', { context: { consumed: String(n), batchLength } })
  }
  return n
}
