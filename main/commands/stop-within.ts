/**
 * `kfs run`'s bound on the engine's stop, on the wall clock. The engine gives its final
 * checkpoints up at KFS_STOP_TIMEOUT_MS (engine/stop-deadline.ts): no retry asks the stores again
 * after it. A call already in flight then is not cut short, though — an S3 request inside the
 * client's own retries, a broker that does not answer the consumer group's leave — and a stop
 * waiting for it would run on into the supervisor's kill. So the command waits a short grace for
 * such calls, then reports the stop as failed (exit 1) without them; they write nothing a restart
 * depends on (the last published checkpoint stands, and the next start resumes from it).
 */
import { MAX_TIMER_MS } from '../../core/duration.ts'
import { CheckpointError } from '../../core/errors.ts'

/** What `kfs run` waits past the stop deadline for calls in flight at it. */
export const STOP_GRACE_MS = 2_000

/** `stop()`'s outcome, or a rejection once `timeoutMs` + `graceMs` have passed without one. */
export async function stopWithin(stop: () => Promise<void>, timeoutMs: number, graceMs = STOP_GRACE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const overdue = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const message = `the stop did not finish within ${timeoutMs + graceMs} ms (KFS_STOP_TIMEOUT_MS=${timeoutMs}, then ${graceMs} ms for calls in flight), so kfs gave it up and the last published checkpoint stands. Nothing is lost: the next start resumes from it and processes the records after it again`
      reject(new CheckpointError('CHECKPOINT_FAILED', message, { context: { stopTimeoutMs: timeoutMs } }))
      // Node fires a delay past its timers' reach at once: a deadline of weeks must not end the stop now.
    }, Math.min(timeoutMs + graceMs, MAX_TIMER_MS))
  })
  try {
    await Promise.race([stop(), overdue])
  } finally {
    clearTimeout(timer)
  }
}
