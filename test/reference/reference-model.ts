/**
 * The brute-force oracle for the operators (Chronon's NaiveAggregator idea), written from
 * docs/design.md §2–§3 and docs/semantics.md only — it shares no code with the tile engine. It keeps
 * every accepted event of every key forever and recomputes every window from scratch at every
 * emission. Sketch features (approx_distinct, approx_percentile) feed the same sketch the
 * engine uses with the window's raw values, so they must match exactly.
 *
 * Used by the operator property tests and by the engine's end-to-end tests:
 *   runReference({ views, source, records }) → rows per view per partition, dead letters.
 */
import { encodeEntityKey, invalidKeyPartReason } from '../../core/entity-key.ts'
import type { EventRecord, FeatureRow, FeatureValue, FeatureViewDef, SourceDef, AggregationDef } from '../../features/types.ts'
import { approxDistinctKernel } from '../../operators/aggregators/approx-distinct.ts'
import { approxPercentileKernel } from '../../operators/aggregators/approx-percentile.ts'
import type { Aggregator } from '../../operators/aggregators/types.ts'

export type ReferenceRecord =
  | {
      readonly partition: number
      readonly offset: string
      readonly eventTimeMs: number | undefined
      readonly event: EventRecord
      /** The record's log timestamp; an event time more than the source's maxFutureSkewMs after it is refused. */
      readonly ingestionTimeMs?: number
    }
  | { readonly partition: number; readonly marker: number }

export interface ReferenceDeadLetter {
  readonly partition: number
  readonly offset: string
  readonly reason: 'late' | 'future_event_time' | 'missing_key' | 'invalid_key' | 'missing_event_time' | 'map_failed' | 'schema_mismatch' | 'out_of_range' | 'oversize'
  readonly view?: string
}

export interface ReferenceResult {
  /** `views[i]` holds the rows of input view i, per partition, in emission order. */
  readonly views: readonly { readonly view: FeatureViewDef; readonly partitions: Map<number, FeatureRow[]> }[]
  readonly deadLetters: readonly ReferenceDeadLetter[]
  /** Rows of the view named `viewName` in `partition` ([] if none). */
  rowsOf(viewName: string, partition: number): FeatureRow[]
}

interface RefEvent {
  readonly t: number
  readonly offset: bigint
  readonly ev: EventRecord
}

interface RefKey {
  readonly key: string
  readonly events: RefEvent[]
  c: number
  last: FeatureRow | undefined
  /** Bumped on every change; queue entries of older versions are stale. */
  version: number
}

/**
 * Due boundaries, smallest (boundary, key bytes) first. Only an index: each key's next boundary is
 * still computed by brute force from all its events (`lossBoundaries`), whenever the key changes.
 */
class DueQueue {
  readonly #heap: { b: number; k: RefKey; version: number }[] = []

  static #before(x: { b: number; k: RefKey }, y: { b: number; k: RefKey }): boolean {
    return x.b < y.b || (x.b === y.b && utf8Compare(x.k.key, y.k.key) < 0)
  }

  push(b: number, k: RefKey): void {
    const h = this.#heap
    h.push({ b, k, version: k.version })
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1
      if (!DueQueue.#before(h[i]!, h[parent]!)) break
      ;[h[i], h[parent]] = [h[parent]!, h[i]!]
      i = parent
    }
  }

  /** The first live entry with boundary ≤ watermark, removed; undefined when none is due. */
  popDue(watermarkMs: number): { b: number; k: RefKey } | undefined {
    const h = this.#heap
    while (h.length > 0) {
      const top = h[0]!
      if (top.version !== top.k.version) {
        this.#removeTop()
        continue
      }
      if (top.b > watermarkMs) return undefined
      this.#removeTop()
      return top
    }
    return undefined
  }

  #removeTop(): void {
    const h = this.#heap
    const last = h.pop()!
    if (h.length === 0) return
    h[0] = last
    for (let i = 0; ; ) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && DueQueue.#before(h[l]!, h[m]!)) m = l
      if (r < h.length && DueQueue.#before(h[r]!, h[m]!)) m = r
      if (m === i) break
      ;[h[i], h[m]] = [h[m]!, h[i]!]
      i = m
    }
  }
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

function valueOf(ev: EventRecord, field: string): unknown {
  const v = ev[field]
  if (v === undefined || v === null) return null
  if (typeof v === 'bigint' && Number.isSafeInteger(Number(v))) return Number(v)
  return v
}

function isNumberOp(op: AggregationDef['op']): boolean {
  return op === 'sum' || op === 'avg' || op === 'min' || op === 'max' || op === 'approx_percentile' || op === 'variance' || op === 'stddev'
}

/** The largest magnitude an op takes (docs/semantics.md §1): sums 2^960, variance and stddev 2^476 (squares must fit). */
function maxMagnitude(op: AggregationDef['op']): number {
  if (op === 'sum' || op === 'avg' || op === 'approx_percentile') return 2 ** 960
  if (op === 'variance' || op === 'stddev') return 2 ** 476
  return Infinity
}

/** docs/semantics.md §1: why a non-null value is refused by `op`, or undefined when it is taken. */
function refusal(op: AggregationDef['op'], v: unknown, maxStringBytes: number): 'schema_mismatch' | 'out_of_range' | 'oversize' | undefined {
  if (op === 'count') return undefined
  if (typeof v === 'bigint') return 'out_of_range'
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return 'out_of_range'
    return Math.abs(v) > maxMagnitude(op) ? 'out_of_range' : undefined
  }
  if (typeof v !== 'string' || isNumberOp(op)) return 'schema_mismatch'
  return Buffer.byteLength(v, 'utf8') > maxStringBytes ? 'oversize' : undefined
}

function keyOf(view: FeatureViewDef, ev: EventRecord): { key: string } | { reason: 'missing_key' | 'invalid_key' } {
  const parts: string[] = []
  for (const f of view.entity.joinKeys) {
    const v = ev[f]
    if (v === undefined || v === null) return { reason: 'missing_key' }
    let part: string
    if (view.entity.keyType === 'int') {
      if (typeof v === 'number' && Number.isSafeInteger(v)) part = String(v)
      else if (typeof v === 'bigint') part = v.toString()
      else if (typeof v === 'string' && /^(0|-?[1-9]\d*)$/.test(v)) part = v
      else return { reason: 'invalid_key' }
    } else if (typeof v === 'string') part = v
    else return { reason: 'invalid_key' }
    if (invalidKeyPartReason(part) !== undefined) return { reason: 'invalid_key' }
    parts.push(part)
  }
  return { key: encodeEntityKey(parts) }
}

function sameValue(a: FeatureValue, b: FeatureValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x as FeatureValue, b[i] as FeatureValue))
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b))
}

/** Value of one aggregation over the events of a key with time in [fromMs, toMs]. */
function aggregate(a: AggregationDef, events: readonly RefEvent[], fromMs: number, toMs: number): FeatureValue {
  const inWindow = events
    .filter((e) => e.t >= fromMs && e.t <= toMs)
    .sort((x, y) => (x.t !== y.t ? x.t - y.t : x.offset < y.offset ? -1 : x.offset > y.offset ? 1 : 0))
  if (a.op === 'count' && a.field === undefined) return inWindow.length
  const present = inWindow.filter((e) => valueOf(e.ev, a.field as string) !== null)
  const vals = present.map((e) => valueOf(e.ev, a.field as string) as number | string)
  switch (a.op) {
    case 'count':
      return vals.length
    case 'sum':
      return (vals as number[]).reduce((s, v) => s + v, 0)
    case 'avg':
      return vals.length === 0 ? null : (vals as number[]).reduce((s, v) => s + v, 0) / vals.length
    case 'min':
      return vals.length === 0 ? null : Math.min(...(vals as number[]))
    case 'max':
      return vals.length === 0 ? null : Math.max(...(vals as number[]))
    case 'first':
      return vals.length === 0 ? null : (vals[0] as number | string)
    case 'last':
      return vals.length === 0 ? null : (vals[vals.length - 1] as number | string)
    case 'last_n':
      return vals.slice().reverse().slice(0, a.n) as FeatureValue
    case 'approx_distinct':
    case 'approx_percentile': {
      const sketch: Aggregator = a.op === 'approx_distinct' ? approxDistinctKernel : approxPercentileKernel(a.quantile as number)
      let acc = sketch.init()
      present.forEach((e, i) => (acc = sketch.add(acc, vals[i] as number | string, e.t, e.offset.toString())))
      return sketch.finish(acc)
    }
    case 'variance':
    case 'stddev': {
      // Two passes over the raw values (docs/aggregations.md): the mean first, then the squared deviations.
      const sample = a.params?.sample === true
      const xs = vals as number[]
      if (xs.length === 0 || (sample && xs.length < 2)) return null
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length
      const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (sample ? xs.length - 1 : xs.length)
      return a.op === 'stddev' ? Math.sqrt(v) : v
    }
    case 'top_k': {
      // Count every value (−0 is 0), then order by count descending, ties numbers first, numbers
      // ascending, strings by UTF-8 bytes (docs/aggregations.md).
      const counts = new Map<string, { v: number | string; n: number }>()
      for (const raw of vals) {
        const v = raw === 0 ? 0 : raw
        const key = `${typeof v}:${String(v)}`
        const seen = counts.get(key)
        if (seen === undefined) counts.set(key, { v, n: 1 })
        else seen.n++
      }
      const byValue = (x: number | string, y: number | string): number =>
        typeof x === 'number' ? (typeof y === 'number' ? x - y : -1) : typeof y === 'number' ? 1 : utf8Compare(x, y)
      const top = [...counts.values()].sort((x, y) => y.n - x.n || byValue(x.v, y.v)).slice(0, a.params?.k as number)
      return (a.output === 'counts' ? top.map((e) => e.n) : top.map((e) => e.v)) as FeatureValue
    }
    default:
      throw new Error(`the reference model has no case for op ${a.op}`)
  }
}

function evaluate(view: FeatureViewDef, k: RefKey, t: number): FeatureValue[] {
  return view.features.map(({ aggregation: a }) => {
    if (a.windowMs === null) return aggregate(a, k.events, -Infinity, t)
    const from = (Math.floor(t / a.hopMs) + 1) * a.hopMs - a.windowMs
    return aggregate(a, k.events, from, t)
  })
}

/** Boundaries at which some window of the key loses a tile holding one of its events. */
function lossBoundaries(view: FeatureViewDef, k: RefKey): number[] {
  const out: number[] = []
  for (const { aggregation: a } of view.features) {
    if (a.windowMs === null) continue
    for (const e of k.events) out.push((Math.floor(e.t / a.hopMs) + a.windowMs / a.hopMs) * a.hopMs)
  }
  return out
}

export function runReference(input: { views: readonly FeatureViewDef[]; source: SourceDef; records: readonly ReferenceRecord[] }): ReferenceResult {
  const { views, source, records } = input
  const out = views.map((view) => ({ view, partitions: new Map<number, FeatureRow[]>() }))
  const deadLetters: ReferenceDeadLetter[] = []
  const partitions = new Map<number, { wm: number; keys: Map<string, RefKey>[]; due: DueQueue[] }>()
  /** After any change to a key: its smallest loss boundary above its clock, if any. */
  const reschedule = (view: FeatureViewDef, queue: DueQueue, k: RefKey): void => {
    k.version++
    let next = Infinity
    for (const b of lossBoundaries(view, k)) if (b > k.c && b < next) next = b
    if (next !== Infinity) queue.push(next, k)
  }

  for (const rec of records) {
    let p = partitions.get(rec.partition)
    if (p === undefined) {
      p = { wm: -Infinity, keys: views.map(() => new Map<string, RefKey>()), due: views.map(() => new DueQueue()) }
      partitions.set(rec.partition, p)
    }
    const emit = (vi: number, row: FeatureRow): void => {
      const byPartition = out[vi]!.partitions
      const list = byPartition.get(rec.partition) ?? []
      list.push(row)
      byPartition.set(rec.partition, list)
    }
    if ('marker' in rec) {
      // docs/semantics.md §1: times end at 2^53 − 1, and so does the watermark.
      p.wm = Math.max(p.wm, Math.min(rec.marker, Number.MAX_SAFE_INTEGER))
    } else {
      const t = rec.eventTimeMs
      if (t === undefined || !Number.isSafeInteger(t)) {
        deadLetters.push({ partition: rec.partition, offset: rec.offset, reason: 'missing_event_time' })
        continue
      }
      // docs/semantics.md §1: refused before lateness, and the watermark does not move.
      if (rec.ingestionTimeMs !== undefined && rec.ingestionTimeMs >= 0 && t > rec.ingestionTimeMs + source.maxFutureSkewMs) {
        deadLetters.push({ partition: rec.partition, offset: rec.offset, reason: 'future_event_time' })
        continue
      }
      if (t <= p.wm - source.allowedLatenessMs) {
        deadLetters.push({ partition: rec.partition, offset: rec.offset, reason: 'late' })
        continue
      }
      views.forEach((view, vi) => {
        let ev: EventRecord = rec.event
        try {
          if (view.filter && !view.filter(ev, view.constants ?? {})) return
          if (view.map) ev = view.map(ev, view.constants ?? {})
        } catch {
          deadLetters.push({ partition: rec.partition, offset: rec.offset, reason: 'map_failed', view: view.name })
          return
        }
        if (ev === null || typeof ev !== 'object') {
          deadLetters.push({ partition: rec.partition, offset: rec.offset, reason: 'map_failed', view: view.name })
          return
        }
        const kr = keyOf(view, ev)
        if ('reason' in kr) {
          deadLetters.push({ partition: rec.partition, offset: rec.offset, reason: kr.reason, view: view.name })
          return
        }
        let refused: ReferenceDeadLetter['reason'] | undefined
        for (const { aggregation: a } of view.features) {
          if (a.field === undefined) continue
          const v = valueOf(ev, a.field)
          refused = v === null ? undefined : refusal(a.op, v, view.limits?.maxStringBytes ?? 4096)
          if (refused !== undefined) break
        }
        if (refused !== undefined) {
          deadLetters.push({ partition: rec.partition, offset: rec.offset, reason: refused, view: view.name })
          return
        }
        const keys = p.keys[vi]!
        let k = keys.get(kr.key)
        if (k === undefined) {
          k = { key: kr.key, events: [], c: -Infinity, last: undefined, version: 0 }
          keys.set(kr.key, k)
        }
        k.events.push({ t, offset: BigInt(rec.offset), ev })
        k.c = Math.max(k.c, t)
        reschedule(view, p!.due[vi]!, k)
        const values = evaluate(view, k, k.c)
        const prev = k.last
        if (prev !== undefined && prev.asOfMs === k.c && prev.values.every((v, i) => sameValue(v, values[i] as FeatureValue))) return
        k.last = { entityKey: k.key, asOfMs: k.c, values }
        emit(vi, k.last)
      })
      p.wm = Math.max(p.wm, t - source.outOfOrdernessMs)
    }
    // Step 4: every (boundary, key) with c < B ≤ watermark at which a window loses a non-empty tile.
    views.forEach((view, vi) => {
      const queue = p.due[vi]!
      for (;;) {
        const best = queue.popDue(p.wm)
        if (best === undefined) break
        const { b, k } = best
        k.c = b
        reschedule(view, queue, k)
        const values = evaluate(view, k, b)
        k.last = { entityKey: k.key, asOfMs: b, values }
        emit(vi, k.last)
      }
    })
  }
  return {
    views: out,
    deadLetters,
    rowsOf: (viewName, partition) => out.find((o) => o.view.name === viewName)?.partitions.get(partition) ?? [],
  }
}
