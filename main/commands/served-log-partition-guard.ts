/**
 * The served-feature log's topic, checked again while `kfs serve` runs (docs/semantics.md §21).
 * Serve refuses a topic of another partition count than its source declares before it listens
 * (serve.ts `requireServedLogPartitions`); a topic that changes later — partitions added, or deleted
 * and created again with another count — is noticed here. Serve then keeps serving features (the
 * log is best effort, a side channel of the answers: it never takes them down) but sends no batch to
 * the topic: each is refused with the refusal (topic, both counts, the way on), which the served log
 * counts as dropped (`send_failed`) and logs in its rate-limited warning. `kfs run` refuses such a
 * topic too, so nothing reads records split over the wrong partitions. A check that finds the
 * declared count again (the topic created again as declared) lets batches through again.
 *
 * The check runs behind the sends, at most every `everyMs` by the clock (default 30 s): a send
 * starts it when the last one is that old and goes on with what the last answered, so records sent
 * in the first `everyMs` after a change still reach the topic. A log that does not answer is no
 * refusal (what was known stands); a check that has not answered after `everyMs` is given up and the
 * next send starts another — its late answer is dropped. No timer: nothing keeps the process alive.
 */
import type { Clock } from '../../core/clock.ts'
import { InvariantViolation } from '../../core/errors.ts'
import type { ServedLogTransport } from '../../serving/served-log/index.ts'

export interface PartitionGuardOptions {
  /** Resolves when the topic has the declared count (or does not exist); rejects with an InvariantViolation when not. */
  readonly check: () => Promise<void>
  readonly clock: Clock
  readonly everyMs?: number
}

export function partitionGuardedTransport(inner: ServedLogTransport, options: PartitionGuardOptions): ServedLogTransport {
  const everyMs = options.everyMs ?? 30_000
  // Serve checked the topic just before it was built.
  let checkedAtMs = options.clock.nowMs()
  let refusal: InvariantViolation | undefined
  // Only the newest check's answer counts: one given up on may answer after a newer one.
  let generation = 0
  const startCheck = (now: number): void => {
    const mine = ++generation
    checkedAtMs = now
    void options.check().then(
      () => {
        if (mine === generation) refusal = undefined
      },
      (err: unknown) => {
        if (mine === generation && err instanceof InvariantViolation) refusal = err
      },
    )
  }
  return {
    async send(records) {
      const now = options.clock.nowMs()
      // The last check started `everyMs` ago: answered since, or given up on.
      if (now - checkedAtMs >= everyMs) startCheck(now)
      if (refusal !== undefined) throw refusal
      await inner.send(records)
    },
    close: () => inner.close(),
  }
}
