/**
 * The operator floor: the least memory traffic the reference workload demands of any
 * implementation, with none of the computing. Per event: one `Map` lookup of the key and a
 * 128-byte state update (the real state is ~7× larger). Per row — the event's own, and one for
 * each of the 5m, 1h and 1d windows its tile later leaves (docs/design.md §3 decay rows; ~4 rows an
 * event, as the real run emits) — one read of that key's state and 18 values written into a
 * reused buffer. The decay schedule is precomputed from the event order (no timers), no window
 * is folded, no sketch or list is kept, no row object is allocated.
 *
 * Whatever the operators do, they do at least this; its rate bounds theirs on this machine.
 */
export interface FloorEvents {
  readonly keyNames: readonly string[]
  readonly keyOf: Int32Array
  readonly timeOf: Float64Array
  readonly priceOf: Float64Array
  readonly itemOf: Int32Array
  readonly spanMs: number
}

const STATE_DOUBLES = 16
const ROW_DOUBLES = 20
const DECAY_WINDOWS_MIN = [5, 60, 1440]

export function operatorFloor(e: FloorEvents): { eventsPerS: number; rows: number } {
  const events = e.keyOf.length
  const perMinute = events / (e.spanMs / 60_000)
  // Events arrive in time order (± minutes): the event whose tile leaves window w now is ~lag(w) events back.
  const lags = DECAY_WINDOWS_MIN.map((m) => Math.round(m * perMinute))
  const ids = new Map<string, number>()
  const state = new Float64Array(e.keyNames.length * STATE_DOUBLES)
  const idOf = new Int32Array(events)
  const out = new Float64Array(ROW_DOUBLES * 4096)
  let o = 0
  let rows = 0
  let nextId = 0
  const started = performance.now()
  for (let i = 0; i < events; i++) {
    const event = { user: e.keyNames[e.keyOf[i]!]!, ts: e.timeOf[i]!, price: e.priceOf[i]!, item: e.itemOf[i]! }
    let id = ids.get(event.user)
    if (id === undefined) {
      id = nextId++
      ids.set(event.user, id)
    }
    idOf[i] = id
    const b = id * STATE_DOUBLES
    state[b] = state[b]! + 1
    state[b + 1] = state[b + 1]! + event.price
    if (event.price > state[b + 2]!) state[b + 2] = event.price
    state[b + 3] = event.item
    for (let w = -1; w < lags.length; w++) {
      const j = w < 0 ? i : i - lags[w]!
      if (j < 0) continue
      const s = idOf[j]! * STATE_DOUBLES
      if (o + ROW_DOUBLES > out.length) o = 0
      out[o] = idOf[j]!
      out[o + 1] = event.ts
      for (let k = 0; k < ROW_DOUBLES - 2; k++) out[o + 2 + k] = state[s + (k & 3)]!
      o += ROW_DOUBLES
      rows++
    }
  }
  const seconds = (performance.now() - started) / 1000
  if (ids.size === 0 || out[1] === 0) throw new Error('floor did nothing')
  return { eventsPerS: events / seconds, rows }
}
