/**
 * A point in time after which retries give up (core/retry.ts `until`): a loop asks no further
 * attempt once it has passed, and never sleeps past it. Measured on the clock the deadline was set
 * on, so a test clock measures it too. Retries nest (the engine's checkpoint steps over a table
 * commit's own attempts), and each level observes the same deadline: nothing is asked in the
 * background after the outermost loop gave up.
 */
export interface Deadline {
  /** Milliseconds left; 0 or less once it has passed, Infinity while none is set. */
  remainingMs(): number
  /** What passed, for the error: e.g. "the stop's deadline (25000 ms) passed". */
  readonly what: string
}

/** The earliest of `deadlines` (undefined: none given). */
export function earliestDeadline(deadlines: readonly (Deadline | undefined)[]): Deadline | undefined {
  const set = deadlines.filter((d): d is Deadline => d !== undefined)
  if (set.length <= 1) return set[0]
  const first = () => set.reduce((a, b) => (b.remainingMs() < a.remainingMs() ? b : a))
  return {
    remainingMs: () => first().remainingMs(),
    get what() {
      return first().what
    },
  }
}
