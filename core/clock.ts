/** Processing time is injected so nothing below `main/` reads the wall clock directly. */
export interface Clock {
  nowMs(): number
  sleep(ms: number): Promise<void>
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}
