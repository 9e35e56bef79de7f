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
