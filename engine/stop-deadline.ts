/**
 * The live engine's stop deadline (LiveEngineOptions.stopTimeoutMs): how long a stop may take
 * before it gives its final checkpoints up. Each checkpoint step is asked up to ten times with
 * back-off, and a table commit's own attempts (twelve) nest inside each: a commit failing for good
 * kept one checkpoint retrying for about 90 s, past any supervisor's kill grace (docker stop 10 s,
 * Kubernetes 30 s), which then killed the process anyway, mid-write, saying nothing.
 *
 * Armed when the stop begins; until then it never passes, so a running engine keeps its budgets.
 * Every retry loop of a checkpoint observes it (core/retry.ts `until`) — the steps', a table
 * commit's inside the offline sink, the deliveries the publish waits for — so once it has passed
 * no loop asks the stores again: nothing is written after the stop gave up. The partitions whose
 * final checkpoint did not make it are named (stop-failures.ts), and their last published
 * checkpoint stands: the next start resumes from it and processes the records after it again.
 */
import type { Clock } from '../core/clock.ts'
import type { Deadline } from '../core/deadline.ts'

export class StopDeadline implements Deadline {
  readonly #clock: Clock
  readonly #timeoutMs: number | undefined
  #atMs = Infinity

  /** `timeoutMs` undefined: the stop has no deadline (its retries keep their budgets). */
  constructor(clock: Clock, timeoutMs: number | undefined) {
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new RangeError(`stopTimeoutMs must be positive, not ${timeoutMs}`)
    this.#clock = clock
    this.#timeoutMs = timeoutMs
  }

  /** The stop begins: the deadline is `timeoutMs` from now. */
  arm(): void {
    if (this.#timeoutMs !== undefined) this.#atMs = this.#clock.nowMs() + this.#timeoutMs
  }

  remainingMs(): number {
    return this.#atMs - this.#clock.nowMs()
  }

  get passed(): boolean {
    return this.remainingMs() <= 0
  }

  get what(): string {
    return `the stop's deadline (${this.#timeoutMs} ms) passed`
  }
}
