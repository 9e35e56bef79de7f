/**
 * The bound on the reads of the commands that only read kfs's tables — verify-parity,
 * skew-report, training-set, compact, dead-letters, tables, registry: a read of the object store or the
 * schema registry that fails with a passing fault (a timeout, a 503, a reset connection) is asked
 * again (engine/retried-reads.ts), as a backfill's reads are and with the same bound
 * (replay/backfill-before-live.ts): the command then prints exactly what a clean run prints. A
 * fault that outlasts the bound, or a refusal (never asked again), fails the command with one line
 * naming what it read (exit 1). `kfs compact`'s writes are retried at the same bound
 * (commandWriteRetry, engine/retried-writes.ts).
 */
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { RetryOptions } from '../core/retry.ts'
import { BACKFILL_READ_ATTEMPTS, backfillReadRetry } from '../replay/backfill-before-live.ts'

/** Attempts of one read of such a command before it fails naming what it read. */
export const COMMAND_READ_ATTEMPTS = BACKFILL_READ_ATTEMPTS

export function commandReadRetry(clock: Clock, logger: Logger): RetryOptions {
  return {
    ...backfillReadRetry(clock, logger),
    attempts: COMMAND_READ_ATTEMPTS,
    onRetry: (err: unknown, attempt: number) => logger.warn({ err, attempt }, 'read retried'),
  }
}

/** The same bound on the repeatable writes of `kfs compact` (its data files, manifests, version hint). */
export function commandWriteRetry(clock: Clock, logger: Logger): RetryOptions {
  return {
    ...commandReadRetry(clock, logger),
    onRetry: (err: unknown, attempt: number) => logger.warn({ err, attempt }, 'write retried'),
  }
}

/**
 * The bound on a read `kfs serve` makes while a request waits (the Iceberg REST catalog's table
 * listings and metadata): as many attempts as a command's, backing off at most 100 ms each (under
 * 0.7 s of waiting in all), so that a passing fault is ridden out within the request deadline (2 s)
 * and one that persists answers 503 naming what was read — not a 504 after the deadline.
 */
export function servingReadRetry(clock: Clock, logger: Logger): RetryOptions {
  return {
    clock,
    attempts: COMMAND_READ_ATTEMPTS,
    minDelayMs: 10,
    maxDelayMs: 100,
    onRetry: (err: unknown, attempt: number) => logger.warn({ err, attempt }, 'serving read retried'),
  }
}
