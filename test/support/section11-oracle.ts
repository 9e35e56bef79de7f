/**
 * An independent brute-force model of docs/design.md §11 (and docs/table-and-changelog-sources.md)
 * for one narrow slice, written from the docs' text: a CSV table source ingested as a sequence of
 * snapshots feeding an attribute view, and a Debezium changelog (c/u/d/r, out-of-order commit
 * times, deletes and re-creates) feeding an attribute view and an open-orders count/sum grouped by
 * user. Random small cases come from a seed; test/unit/cli/table-changelog-oracle.test.ts drives
 * the CLI with them and compares.
 *
 * The rules modelled, with the readings taken where the docs leave a choice: ingest appends a
 * (key, event time, row) once, each snapshot in (event time, key bytes) order, and a row left out
 * of a snapshot deletes nothing; per key, a change older than the key's version is superseded (no
 * row), any other emits at as_of = max(clock, commit time); a delete of a key not live, or a before
 * image (not key-only) unlike the current row, changes nothing; an update without a before image
 * upserts, also on a deleted key; a group's clock moves only with a copy it applies (a retraction
 * of a row it counts, an addition the filter keeps), so a change the filter refuses dates no row.
 */

export const T0 = 1767225600000

export function rng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! }
}

export type Acct = { account_id: string; tier: string; balance: number; updated_at: number }
export type Order = { order_id: string; user_id: string; amount: number; status: string }
export type Change = { op: string; before: Order | null; after: Order | null; ts_ms: number }
export type Row = { asOf: number; values: (string | number | null)[] | null } // null values = tombstone
export type Step = { kind: 'snap'; rows: Acct[] } | { kind: 'changes'; changes: Change[] }

export function genCase(seed: number) {
  const r = rng(seed)
  // Odd seeds give an order's changes equal commit times now and then (ties go by offset).
  const equalTimes = seed % 2 === 1
  const steps: Step[] = []
  const snaps: Acct[][] = []
  const nSnaps = 1 + r.int(3)
  for (let s = 0; s < nSnaps; s++) {
    if (snaps.length > 0 && r.next() < 0.3) {
      snaps.push(r.pick(snaps))
      continue
    }
    const rows: Acct[] = []
    for (const k of ['a1', 'a2', 'a3'])
      if (r.next() < 0.8)
        rows.push({ account_id: k, tier: r.pick(['gold', 'free']), balance: 1 + r.int(2), updated_at: T0 + r.int(5) * 1000 })
    if (rows.length === 0) rows.push({ account_id: 'a1', tier: 'gold', balance: 1, updated_at: T0 })
    snaps.push(rows)
  }
  // Changelog history, per order in commit-time order.
  const withBefore = r.next() < 0.4
  const history: Change[] = []
  for (const o of ['o1', 'o2', 'o3']) {
    let cur: Order | null = null
    let t = T0 + r.int(3) * 1000
    const n = 1 + r.int(5)
    for (let i = 0; i < n; i++) {
      t += (equalTimes ? r.int(3) : 1 + r.int(3)) * 1000
      const after = (): Order => ({
        order_id: o,
        user_id: r.pick(['u1', 'u2']),
        amount: 1 + r.int(4),
        status: r.pick(['open', 'open', 'shipped']),
      })
      if (cur === null) {
        const a = after()
        history.push({ op: r.pick(['c', 'r']), before: null, after: a, ts_ms: t })
        cur = a
      } else if (r.next() < 0.3) {
        const before = withBefore && r.next() < 0.5 ? cur : { order_id: o, user_id: '', amount: 0, status: '' }
        history.push({ op: 'd', before, after: null, ts_ms: t })
        cur = null
      } else {
        const a = after()
        history.push({ op: 'u', before: withBefore ? cur : null, after: a, ts_ms: t })
        cur = a
      }
    }
  }
  history.sort((x, y) => x.ts_ms - y.ts_ms)
  const sendOrder = [...history]
  for (let i = 0; i < r.int(3); i++) {
    const j = r.int(Math.max(1, sendOrder.length - 1))
    if (j + 1 < sendOrder.length) [sendOrder[j], sendOrder[j + 1]] = [sendOrder[j + 1]!, sendOrder[j]!]
  }
  // Interleave: snapshots and changelog batches, a run after some steps.
  const chunks: Change[][] = []
  for (let i = 0; i < sendOrder.length;) {
    const n = 1 + r.int(4)
    chunks.push(sendOrder.slice(i, i + n))
    i += n
  }
  // Interleave the two sequences, each kept in its own order.
  let si = 0,
    ci = 0
  while (si < snaps.length || ci < chunks.length) {
    if (ci >= chunks.length || (si < snaps.length && r.next() < 0.5)) steps.push({ kind: 'snap', rows: snaps[si++]! })
    else steps.push({ kind: 'changes', changes: chunks[ci++]! })
  }
  const runAfter = steps.map(() => r.next() < 0.2)
  return { steps, runAfter, withBefore }
}

// ---------- oracle ----------
export const sameRow = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
export function acctOracle(steps: Step[]) {
  const seen = new Set<string>()
  // The log as ingest appends it: per snapshot in (event time, key bytes) order, a (key, event time, row) once.
  const log: { key: string; ts: number; row: Acct }[] = []
  for (const st of steps) {
    if (st.kind !== 'snap') continue
    const rows = [...st.rows].sort(
      (a, b) => a.updated_at - b.updated_at || Buffer.compare(Buffer.from(a.account_id), Buffer.from(b.account_id)),
    )
    for (const row of rows) {
      const id = JSON.stringify(row)
      if (seen.has(id)) continue
      seen.add(id)
      log.push({ key: row.account_id, ts: row.updated_at, row })
    }
  }
  const rows = new Map<string, Row[]>()
  const version = new Map<string, number>()
  // The view in log order: a record older than the key's version is superseded.
  for (const rec of log) {
    const v = version.get(rec.key)
    if (v !== undefined && rec.ts < v) continue
    version.set(rec.key, rec.ts)
    const list = rows.get(rec.key) ?? []
    list.push({ asOf: Math.max(v ?? -Infinity, rec.ts), values: [rec.row.tier, rec.row.balance] })
    rows.set(rec.key, list)
  }
  return rows
}

const FALLBACK = new Set<unknown>([null, '', 0])
export function orderOracle(changes: Change[]) {
  const rows = new Map<string, Row[]>()
  const groups = new Map<string, Row[]>()
  const live = new Map<string, Order | null>()
  const version = new Map<string, number>()
  const clock = new Map<string, number>()
  const agg = new Map<string, { count: number; sum: number }>()
  const emit = (m: Map<string, Row[]>, k: string, row: Row) => {
    const l = m.get(k) ?? []
    l.push(row)
    m.set(k, l)
  }
  const open = (o: Order | null | undefined) => o != null && o.status === 'open'
  for (const ch of changes) {
    const k = (ch.after ?? ch.before)!.order_id
    const v = version.get(k)
    if (v !== undefined && ch.ts_ms < v) continue
    const cur = live.get(k) ?? null
    const keyOnly =
      ch.before !== null && ['user_id', 'amount', 'status'].every((c) => FALLBACK.has((ch.before as Record<string, unknown>)[c]))
    if (ch.op === 'd') {
      if (cur === null) continue // unknown_retraction
      if (!keyOnly && ch.before && !sameRow(ch.before, cur)) continue // before_mismatch
    } else if (ch.op === 'u') {
      // An update without a before image upserts, also on a key deleted before (as kfs does: the docs say "upsert").
      if (ch.before && !keyOnly && !sameRow(ch.before, cur)) continue // before_mismatch
    }
    version.set(k, ch.ts_ms)
    const asOf = Math.max(v ?? -Infinity, ch.ts_ms)
    emit(rows, k, { asOf, values: ch.after ? [ch.after.user_id, ch.after.amount, ch.after.status] : null })
    live.set(k, ch.after)
    // current-state view
    const touched = new Set<string>()
    const before = new Map<string, { count: number; sum: number }>()
    const g = (u: string) => {
      if (!before.has(u)) before.set(u, { ...(agg.get(u) ?? { count: 0, sum: 0 }) })
      touched.add(u)
      return agg.get(u) ?? (agg.set(u, { count: 0, sum: 0 }), agg.get(u)!)
    }
    // A group's clock moves only with a copy it applies (a row it holds retracted, or one the filter keeps added).
    if (open(cur)) {
      const a = g(cur!.user_id)
      a.count--
      a.sum -= cur!.amount
    }
    if (ch.after && open(ch.after)) {
      const a = g(ch.after.user_id)
      a.count++
      a.sum += ch.after.amount
    }
    for (const u of touched) {
      const c = Math.max(clock.get(u) ?? -Infinity, ch.ts_ms)
      clock.set(u, c)
      const a = agg.get(u)!
      if (!sameRow(before.get(u), a)) emit(groups, u, { asOf: c, values: [a.count, a.sum] })
    }
  }
  return { rows, groups }
}

export function pit(rows: Row[] | undefined, t: number): (string | number | null)[] | null {
  let hit: Row | undefined
  for (const r of rows ?? []) if (r.asOf <= t) hit = r
  return hit?.values ?? null
}
