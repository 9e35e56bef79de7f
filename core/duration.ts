/**
 * Durations are written by people as `'5m'`, `'1h'`, `'7d'` or as a number of milliseconds.
 * Everything inside kfs works in epoch milliseconds (UTC), so parse once at the edge.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/**
 * The longest delay Node's timers keep: setTimeout and setInterval hold it in a signed 32-bit
 * integer, and a longer one (2^31 ms, about 24.8 days, or more) is replaced by 1 ms with only a
 * warning — a 30-day timeout would fire at once. Settings that end up as a timer are bounded by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** A well-formed duration too long to count in whole milliseconds (not a typo: callers say so). */
export class DurationTooLongError extends RangeError {}

export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd' | 'w'}`

export function parseDurationMs(value: Duration | string, what = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${what}: ${value} is not a non-negative whole number of milliseconds`)
    }
    return value
  }
  const match = /^(\d+)(ms|s|m|h|d|w)$/.exec(value.trim())
  if (!match) {
    throw new RangeError(`${what}: '${value}' is not a duration; write e.g. '500ms', '30s', '5m', '1h', '7d'`)
  }
  const ms = Number(match[1]) * (UNIT_MS[match[2]!] as number)
  // Past 2^53 ms (285,000 years) a double no longer holds every whole millisecond: '99999999999999999999d'
  // would become 8.64e27, a number the rest of kfs takes for a count of milliseconds it is not.
  if (!Number.isSafeInteger(ms)) {
    throw new DurationTooLongError(`${what}: '${value}' is longer than ${Number.MAX_SAFE_INTEGER} ms (about 285,000 years)`)
  }
  return ms
}

/** Shortest exact spelling, used to derive feature names such as `price_sum_1h`. */
export function formatDurationMs(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] as number
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
