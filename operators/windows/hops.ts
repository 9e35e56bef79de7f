/**
 * Hopped sliding windows (docs/design.md §3), all intervals half-open `[startMs, endMs)` in epoch ms.
 *
 * Strategy:
 * 1. Time is cut into tiles of one hop `h`: tile k covers `[k·h, (k+1)·h)`.
 * 2. A window of length W (a multiple of h, n = W/h tiles) evaluated at time t covers the n tiles
 *    `k ∈ [⌊t/h⌋+1−n, ⌊t/h⌋]`, i.e. events with time in `[(⌊t/h⌋+1)·h − W, t]`: a hopped tail and
 *    an exact head. The head is exact for free: a key is only ever evaluated at its clock c, and
 *    every event the key has accepted has time ≤ c, so the newest tile never holds anything > t.
 * 3. Loss boundary: as t crosses `B = m·h` the window's first tile moves from `m−n` to `m+1−n`,
 *    so tile k leaves a window of n tiles exactly at `B = (k+n)·h`. A key needs a decay row at B
 *    only if that tile is non-empty; everything else about the window is unchanged.
 * 4. Retention: with c the key's clock, tiles `k < ⌊c/h⌋+1−nmax` (nmax = longest window of the hop)
 *    are outside every window at c and, since c never decreases, at any later evaluation; they are
 *    dropped, and events that would land in them change no window (they are not stored).
 */

export function tileIndex(timeMs: number, hopMs: number): number {
  return Math.floor(timeMs / hopMs)
}

/** First tile index of a window of `tiles` tiles evaluated at `timeMs`. */
export function firstTileAt(timeMs: number, hopMs: number, tiles: number): number {
  return Math.floor(timeMs / hopMs) + 1 - tiles
}

/** The boundary at which tile `k` leaves a window of `tiles` tiles. */
export function lossBoundaryMs(k: number, hopMs: number, tiles: number): number {
  return (k + tiles) * hopMs
}
