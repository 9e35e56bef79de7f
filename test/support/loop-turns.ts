/**
 * Counts the event loop's turns while some work runs: a chain of setImmediate callbacks ticks once
 * per turn, so work that never lets the loop run counts none.
 */
export async function loopTurnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0
  let running = true
  const tick = (): void => {
    turns++
    if (running) setImmediate(tick)
  }
  setImmediate(tick)
  try {
    const value = await work()
    return { value, turns }
  } finally {
    running = false
  }
}
