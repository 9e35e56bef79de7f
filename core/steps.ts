/**
 * Synchronous work written as a generator that pauses (`yield`) between slices of it and returns
 * its result: the same code runs at once (`runSteps`) or spread over event-loop turns
 * (`runStepsYielding`, event-loop.ts), so where the pauses fall cannot change what it computes.
 */
export type Steps<T> = Generator<void, T, void>

/** Runs `steps` to their end at once. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
  }
}
