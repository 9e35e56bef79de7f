import type { Clock } from './clock.ts'
import type { Deadline } from './deadline.ts'
import { DeadlinePassedError, FeatureStoreError, InvariantViolation, RetriesExhaustedError } from './errors.ts'

export interface RetryOptions {
  readonly clock: Clock
  readonly attempts?: number
  readonly minDelayMs?: number
  readonly maxDelayMs?: number
  /** Deterministic jitter source in [0, 1); tests pass a constant. */
  readonly jitter?: () => number
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void
  /**
   * No retry starts once it has passed (a first attempt always does), and no back-off sleeps past it: the loop then throws a
   * DeadlinePassedError naming `what` and the last failure (the stop's deadline, live-engine.ts).
   */
  readonly until?: Deadline
  /** What is retried, named when `until` ends it (e.g. "the commit of table warehouse/features/x_v1"). */
  readonly what?: string
}

function deadlinePassed(options: RetryOptions, attempts: number, lastErr: unknown): DeadlinePassedError {
  const what = options.what ?? 'a step'
  const last = `the last of ${attempts} attempts failed: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`
  return new DeadlinePassedError(`${options.until!.what}: ${what} was given up (${last})`, { cause: lastErr, context: { step: what } })
}

function isNeverRetriable(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof InvariantViolation) return true
  // Retries nest (a sink retries its writes, the engine retries the sink): an inner budget that
  // ran out on a passing fault leaves the decision to the outer budget.
  if (err instanceof RetriesExhaustedError) return err.cause === undefined || isNeverRetriable(err.cause)
  return err instanceof FeatureStoreError && !err.retriable
}

/**
 * Exponential back-off with jitter. `bail(err)` stops at once with that error; errors marked
 * non-retriable (and programming errors) are never retried.
 */
export async function retry<T>(fn: (bail: (err: unknown) => never, attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = options.attempts ?? 8
  const minDelayMs = options.minDelayMs ?? 100
  const maxDelayMs = options.maxDelayMs ?? 5_000
  const jitter = options.jitter ?? Math.random
  let bailed: { err: unknown } | undefined
  const bail = (err: unknown): never => {
    bailed = { err }
    throw err
  }
  let lastErr: unknown
  const { until } = options
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // A first attempt is always made: the deadline ends retries, not work that succeeds when asked
    // (a healthy stop on a loaded machine may take past it).
    if (attempt > 1 && until !== undefined && until.remainingMs() <= 0) throw deadlinePassed(options, attempt - 1, lastErr)
    try {
      return await fn(bail, attempt)
    } catch (err: unknown) {
      if (bailed) throw bailed.err
      if (isNeverRetriable(err)) throw err
      lastErr = err
      if (attempt === attempts) break
      const base = Math.min(maxDelayMs, minDelayMs * 2 ** (attempt - 1))
      const jittered = Math.round(base / 2 + (base / 2) * jitter())
      const delayMs = until === undefined ? jittered : Math.max(0, Math.min(jittered, Math.ceil(until.remainingMs())))
      options.onRetry?.(err, attempt, delayMs)
      await options.clock.sleep(delayMs)
    }
  }
  // The last failure's own words: a caller printing only the message (the CLI) still says what failed.
  const last = lastErr instanceof Error ? lastErr.message : String(lastErr)
  throw new RetriesExhaustedError(`gave up after ${attempts} attempts, the last: ${last}`, { cause: lastErr })
}
