/**
 * Event-time timers of one view: at most one live timer per key (its `timerMs`), stored in
 * buckets by boundary time plus a min-heap of the distinct bucket times. Re-scheduling a key
 * leaves its old entry behind; an entry is live only while it equals the key's `timerMs`
 * (lazy deletion), so no per-key search is ever needed.
 *
 * Guarantees: `popDue(watermarkMs)` hands out the earliest due bucket's live keys sorted by key
 * bytes; a key's stale entries are skipped; work is O(log buckets) per bucket plus a sort of
 * the bucket's keys — never a scan over all keys.
 */
import { compareKeyBytes } from './key-order.ts'

export interface TimedKey {
  readonly key: string
  timerMs: number
  dropped: boolean
}

export class TimerQueue<K extends TimedKey> {
  readonly #buckets = new Map<number, K[]>()
  readonly #times: number[] = []

  get size(): number {
    return this.#times.length
  }

  schedule(state: K, atMs: number): void {
    state.timerMs = atMs
    if (Number.isNaN(atMs) || atMs === Infinity) return
    const bucket = this.#buckets.get(atMs)
    if (bucket !== undefined) {
      bucket.push(state)
      return
    }
    this.#buckets.set(atMs, [state])
    this.#pushTime(atMs)
  }

  /** Earliest bucket due at `watermarkMs`, its live keys sorted by key bytes; undefined if none. */
  popDue(watermarkMs: number): { atMs: number; states: K[] } | undefined {
    for (;;) {
      const atMs = this.#times[0]
      if (atMs === undefined || atMs > watermarkMs) return undefined
      this.#popTime()
      const bucket = this.#buckets.get(atMs) as K[]
      this.#buckets.delete(atMs)
      const states = bucket.filter((s) => s.timerMs === atMs && !s.dropped)
      if (states.length === 0) continue
      if (states.length > 1) states.sort((a, b) => compareKeyBytes(a.key, b.key))
      // A key may sit twice in one bucket (re-scheduled back to the same time).
      const unique = states.filter((s, i) => i === 0 || s !== states[i - 1])
      return { atMs, states: unique }
    }
  }

  #pushTime(t: number): void {
    const h = this.#times
    let i = h.push(t) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((h[parent] as number) <= t) break
      h[i] = h[parent] as number
      i = parent
    }
    h[i] = t
  }

  #popTime(): void {
    const h = this.#times
    const lastT = h.pop() as number
    if (h.length === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const r = l + 1
      const child = r < h.length && (h[r] as number) < (h[l] as number) ? r : l
      if ((h[child] as number) >= lastT) break
      h[i] = h[child] as number
      i = child
    }
    h[i] = lastT
  }
}
