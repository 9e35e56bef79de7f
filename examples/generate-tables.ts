/**
 * The shop's batch tier, reproducibly: nightly snapshots of its `users` table and the Debezium
 * changelog of its `orders` table (docs/design.md §11). User ids match generate-events.ts (`u0`…),
 * so batch attributes, streaming windows and request features meet on the same users.
 *
 * - `usersSnapshot(night)`: every user's row as the nightly export holds it. Night 2 is night 1
 *   with some users upgraded, some credit limits changed and a few new sign-ups; the rest of the
 *   rows are byte-for-byte the same, so ingesting night 2 appends only what changed.
 * - `orderChanges()`: orders opening, changing amount, moving to another user now and then
 *   (a support fix), closing and being deleted — the changes a current-state view must retract.
 */
import { prng } from './generate-events.ts'

export interface UserRow {
  readonly user_id: string
  readonly status: string
  readonly credit_limit: number
  readonly country: string
  readonly updated_at: number
}

export interface OrderRow {
  readonly order_id: string
  readonly user_id: string
  readonly amount: number
  readonly status: string
}

/** A Debezium change envelope as a CDC tool publishes it (JSON, no schema wrapper). */
export interface OrderChange {
  readonly op: 'c' | 'u' | 'd'
  readonly before: OrderRow | null
  readonly after: OrderRow | null
  readonly ts_ms: number
  readonly source: { readonly ts_ms: number; readonly table: 'orders' }
}

const COUNTRIES = ['DE', 'FR', 'GB', 'NL', 'NO', 'US'] as const
const DAY = 86_400_000

export interface TableOptions {
  readonly users?: number
  readonly seed?: number
  /** Midnight (UTC) of the night the first snapshot was exported. */
  readonly firstNightMs: number
}

/** The users table as exported on `night` (1 or 2). */
export function usersSnapshot(night: 1 | 2, options: TableOptions): UserRow[] {
  const rand = prng(options.seed ?? 11)
  const count = options.users ?? 2_000
  const rows: UserRow[] = []
  for (let i = 0; i < count; i++) {
    rows.push({
      user_id: `u${i}`,
      status: rand() < 0.1 ? 'gold' : 'basic',
      credit_limit: Math.round(500 + rand() * 4_500),
      country: COUNTRIES[Math.floor(rand() * COUNTRIES.length)]!,
      // Signed up (or last edited) some time in the year before the first export.
      updated_at: options.firstNightMs - DAY - Math.floor(rand() * 365 * DAY),
    })
  }
  if (night === 1) return rows
  const change = prng((options.seed ?? 11) + 1)
  const nightMs = options.firstNightMs + DAY
  const next = rows.map((row) => {
    const r = change()
    if (r < 0.05) return { ...row, status: 'gold', updated_at: nightMs - Math.floor(change() * DAY) }
    if (r < 0.1) return { ...row, credit_limit: row.credit_limit + 1_000, updated_at: nightMs - Math.floor(change() * DAY) }
    return row
  })
  for (let i = count; i < count + Math.ceil(count / 50); i++) {
    next.push({ user_id: `u${i}`, status: 'basic', credit_limit: 500, country: 'DE', updated_at: nightMs - Math.floor(change() * DAY) })
  }
  return next
}

export interface OrderOptions {
  readonly count: number
  readonly users?: number
  readonly seed?: number
  readonly startMs: number
  /** Mean gap between consecutive changes (commit time). */
  readonly meanGapMs?: number
}

/** The orders changelog, in commit order. */
export function orderChanges(options: OrderOptions): OrderChange[] {
  const rand = prng(options.seed ?? 23)
  const users = options.users ?? 2_000
  const gap = options.meanGapMs ?? 1_000
  const open = new Map<string, OrderRow>()
  const out: OrderChange[] = []
  let t = options.startMs
  let next = 0
  const emit = (op: OrderChange['op'], before: OrderRow | null, after: OrderRow | null): void => {
    out.push({ op, before, after, ts_ms: t + 3, source: { ts_ms: t, table: 'orders' } })
  }
  while (out.length < options.count) {
    t += Math.max(1, Math.round(-Math.log(1 - rand()) * gap))
    const r = rand()
    const ids = [...open.keys()]
    const id = ids[Math.floor(rand() * ids.length)]
    const current = id === undefined ? undefined : open.get(id)
    if (current === undefined || r < 0.45) {
      const row: OrderRow = { order_id: `o${next++}`, user_id: `u${Math.floor(users * rand() ** 2.5)}`, amount: Math.round((5 + rand() * 195) * 100) / 100, status: 'open' }
      open.set(row.order_id, row)
      emit('c', null, row)
    } else if (r < 0.6) {
      const row = { ...current, amount: Math.round((current.amount + 10) * 100) / 100 }
      open.set(row.order_id, row)
      emit('u', current, row)
    } else if (r < 0.65) {
      const row = { ...current, user_id: `u${Math.floor(users * rand())}` }
      open.set(row.order_id, row)
      emit('u', current, row)
    } else if (r < 0.9) {
      const row = { ...current, status: 'shipped' }
      open.delete(row.order_id)
      emit('u', current, row)
    } else {
      open.delete(current.order_id)
      emit('d', current, null)
    }
  }
  return out
}
