import type { Steps } from './steps.ts'

/**
 * A cooperative yield for long chains of already-resolved awaits (which never let timers or I/O
 * callbacks run): the returned function yields to the event loop once `everyMs` have passed since
 * it last did, and is free otherwise.
 */
export function createYielder(everyMs: number): () => Promise<void> {
  let lastYieldAtMs = performance.now()
  return async () => {
    if (performance.now() - lastYieldAtMs < everyMs) return
    await new Promise((resolve) => setImmediate(resolve))
    lastYieldAtMs = performance.now()
  }
}

/** Runs `steps`, letting the event loop run at a pause once `yieldNowAndThen` (createYielder) says so. */
export async function runStepsYielding<T>(steps: Steps<T>, yieldNowAndThen: () => Promise<void>): Promise<T> {
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
    await yieldNowAndThen()
  }
}
