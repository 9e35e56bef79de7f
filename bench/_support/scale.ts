/**
 * KFS_BENCH_SCALE (default 1): one knob every bench honours, scaling its sizes (keys, events, rows,
 * labels, entities) and its durations (warm-ups, fixed-rate phases, load-generation seconds). At 1
 * every bench runs exactly as published; the test suite runs each at a tiny scale
 * (test/integration/bench/every-bench.test.ts) so that a bench an engine change broke fails a test,
 * not the next manual run. A bench's own variable (e.g. KFS_BENCH_E2E_EVENTS) still wins, as given.
 */
import { envNumber } from './report.ts'

export const SCALE = envNumber('KFS_BENCH_SCALE', 1)

/**
 * A size: `n` × the scale, a whole number, never below `min` — so a tiny scale cannot make an
 * empty run or a division by zero. At scale 1 it is `n` itself.
 */
export function scaled(n: number, min: number): number {
  return Math.max(min, Math.round(n * SCALE))
}

/** A duration in seconds: `seconds` × the scale, never below `min` (fractions kept). */
export function scaledSeconds(seconds: number, min: number): number {
  return Math.max(min, seconds * SCALE)
}

/** A duration for a tool that counts whole seconds (wrk's -d): `seconds` × the scale, rounded, at least 1. */
export function scaledWholeSeconds(seconds: number): number {
  return Math.max(1, Math.round(seconds * SCALE))
}
