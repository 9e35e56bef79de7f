/**
 * A test clock for measuring a stop on the clock, not the wall: it runs with real time (so the
 * engine's waits for quiet partitions pass) until frozen, and from then on moves only by its
 * sleeps — each taking a turn of the event loop, not its length — so what a stop spends in
 * back-off is exact and independent of the machine's speed. Sleeps side by side overlap (each
 * wakes at its own end; the clock moves to the latest), as they would on the wall clock.
 */
import type { Clock } from '../../core/clock.ts'

export interface FreezableClock extends Clock {
  /** From now on time moves only by sleeps. */
  freeze(): void
  /** Time flows again (with real time, from where it stands). */
  thaw(): void
}

export function freezableClock(): FreezableClock {
  /** Added to real time: what sleeps skipped, and what stood still while frozen. */
  let offsetMs = 0
  let frozenAt: number | undefined
  const nowMs = (): number => frozenAt ?? Date.now() + offsetMs
  return {
    nowMs,
    sleep(ms) {
      const wake = nowMs() + Math.max(0, ms)
      return new Promise((resolve) =>
        setImmediate(() => {
          if (frozenAt !== undefined) frozenAt = Math.max(frozenAt, wake)
          else offsetMs += Math.max(0, wake - nowMs())
          resolve()
        }),
      )
    },
    freeze() {
      frozenAt ??= nowMs()
    },
    thaw() {
      if (frozenAt === undefined) return
      offsetMs = frozenAt - Date.now()
      frozenAt = undefined
    },
  }
}
