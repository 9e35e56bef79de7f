/**
 * The outside audit's workload (test/unit/engine/audit-chaos.test.ts): one source, three views
 * (tumbling, sliding and lifetime features keyed by the topic's own key, and a re-keyed view), and
 * seeded phases of records between idle periods — a partition silent for the first phases, late
 * and far-future event times, duplicates, and every kind of poison record with the dead letters a
 * direct view must give it. Only the engine's own run is the oracle; nothing here models features.
 */
import { entity, featureView, source } from '../../features/index.ts'

export const SCHEMA = {
  type: 'record',
  name: 'Buy',
  fields: [
    { name: 'user_id', type: ['null', 'string'] },
    { name: 'item_id', type: 'string' },
    { name: 'amount', type: ['null', 'double'] },
    { name: 'ts', type: ['null', 'long'] },
  ],
} as const
/** Another record type: its id on the topic is `schema_mismatch`. */
export const OTHER_SCHEMA = { type: 'record', name: 'Other', fields: [{ name: 'label', type: 'string' }] } as const
/** A Buy whose amount is written as a string: the writer does not resolve against SCHEMA. */
export const WRONG_TYPES_SCHEMA = {
  type: 'record',
  name: 'Buy',
  fields: [
    { name: 'user_id', type: ['null', 'string'] },
    { name: 'item_id', type: 'string' },
    { name: 'amount', type: 'string' },
    { name: 'ts', type: ['null', 'long'] },
  ],
} as const
/** A Buy whose time is a double (NaN here): a double is never read as the long the source declares. */
export const DOUBLE_TIME_SCHEMA = {
  type: 'record',
  name: 'Buy',
  fields: [
    { name: 'user_id', type: ['null', 'string'] },
    { name: 'item_id', type: 'string' },
    { name: 'amount', type: ['null', 'double'] },
    { name: 'ts', type: 'double' },
  ],
} as const

export const PARTITIONS = 3
export const TOPIC = 'audit-buys'
export const IDLE_TIMEOUT_MS = 30_000
export const MAX_STRING_BYTES = 64

const user = entity({ name: 'buyer', joinKeys: ['user_id'] })
export const buys = source({
  name: 'audit_buys',
  topic: TOPIC,
  schema: SCHEMA as never,
  eventTimeField: 'ts',
  keyedBy: user,
  partitions: PARTITIONS,
  outOfOrderness: '2s',
  allowedLateness: '5s',
  idleTimeout: '30s',
  maxFutureSkew: '1h',
})
const common = { ttl: '3650d', freshnessSla: '1m', owner: 'audit@kfs' } as const
export const spend = featureView({
  ...common,
  name: 'audit_spend',
  version: 1,
  entity: user,
  source: buys,
  limits: { maxStringBytes: MAX_STRING_BYTES },
  aggregations: [
    { op: 'count', windows: ['1m'], hop: '1m' },
    { op: 'sum', field: 'amount', windows: ['5m'], hop: '1m' },
    { op: 'last', field: 'item_id' },
  ],
  description: 'tumbling count, sliding sum, last item',
})
export const lifetime = featureView({
  ...common,
  name: 'audit_lifetime',
  version: 1,
  entity: user,
  source: buys,
  aggregations: [{ op: 'count' }, { op: 'max', field: 'amount' }],
  description: 'lifetime count and max',
})
export const byItem = featureView({
  ...common,
  name: 'audit_items',
  version: 1,
  entity: entity({ name: 'audit_item', joinKeys: ['item_id'] }),
  source: buys,
  aggregations: [
    { op: 'count', windows: ['1m'], hop: '10s' },
    { op: 'sum', field: 'amount', windows: ['1m'], hop: '10s' },
  ],
  description: 're-keyed by item',
})
export const VIEWS = [spend, lifetime, byItem]
/** Views keyed as the topic is: their rows' positions (seq) are the source's offsets. */
export const DIRECT = [spend, lifetime]

export interface Buy {
  user_id: string | null
  item_id: string
  amount: number | null
  ts: number | bigint | null
}

/** How a poison record is written, and the dead letters the direct views give it (view undefined: the record's own). */
export interface PoisonKind {
  readonly name: string
  readonly bytes: (w: Writers, t: number, user: string) => Buffer | null
  /** `reason` or `reason@view` per dead letter the direct views' partition writes for it. */
  readonly letters: readonly string[]
  /** The record's log timestamp relative to its event time (future_event_time). */
  readonly stampOffsetMs?: number
}

export interface Writers {
  buy(b: Buy): Buffer
  other(): Buffer
  wrongTypes(b: Buy): Buffer
  doubleTime(b: Buy, ts: number): Buffer
}

const both = (reason: string) => [`${reason}@${spend.name}`, `${reason}@${lifetime.name}`]
const ok = (t: number, over: Partial<Buy> = {}, user = 'u1'): Buy => ({ user_id: user, item_id: 'i1', amount: 1, ts: t, ...over })

/** Every kind of bad record the decoder and the views refuse (docs/semantics.md §1). */
export const POISON_KINDS: readonly PoisonKind[] = [
  { name: 'bad magic byte', bytes: () => Buffer.from([0x07, 0, 0, 0, 1, 2, 4]), letters: ['undecodable'] },
  { name: 'truncated body', bytes: (w, t, u) => w.buy(ok(t, {}, u)).subarray(0, 8), letters: ['undecodable'] },
  {
    name: 'trailing bytes',
    bytes: (w, t, u) => Buffer.concat([w.buy(ok(t, {}, u)), Buffer.from([1, 2, 3])]),
    letters: ['undecodable'],
  },
  { name: 'tombstone', bytes: () => null, letters: ['undecodable'] },
  {
    name: 'unknown schema id',
    bytes: (w, t, u) => Buffer.concat([Buffer.from([0, 0, 0, 0x7a, 0x11]), w.buy(ok(t, {}, u)).subarray(5)]),
    letters: ['unknown_schema'],
  },
  { name: 'another record type', bytes: (w) => w.other(), letters: ['schema_mismatch'] },
  { name: 'amount written as a string', bytes: (w, t, u) => w.wrongTypes(ok(t, {}, u)), letters: ['schema_mismatch'] },
  { name: 'NaN event time (a double)', bytes: (w, t, u) => w.doubleTime(ok(t, {}, u), Number.NaN), letters: ['schema_mismatch'] },
  {
    name: 'over the decoder limit',
    bytes: (w, t, u) => w.buy(ok(t, { item_id: 'x'.repeat(1_100_000) }, u)),
    letters: ['oversize'],
  },
  { name: 'missing event time', bytes: (w, _t, u) => w.buy(ok(0, { ts: null }, u)), letters: both('missing_event_time') },
  {
    name: 'event time beyond 2^53',
    bytes: (w, _t, u) => w.buy(ok(0, { ts: 2n ** 60n }, u)),
    letters: both('invalid_event_time'),
  },
  {
    name: 'far-future event time',
    bytes: (w, t, u) => w.buy(ok(t, {}, u)),
    letters: both('future_event_time'),
    stampOffsetMs: -7_200_000,
  },
  { name: 'null key', bytes: (w, t, u) => w.buy(ok(t, { user_id: null }, u)), letters: both('missing_key') },
  { name: 'empty key', bytes: (w, t, u) => w.buy(ok(t, { user_id: '' }, u)), letters: both('invalid_key') },
  { name: 'key over 512 bytes', bytes: (w, t, u) => w.buy(ok(t, { user_id: 'k'.repeat(600) }, u)), letters: both('invalid_key') },
  { name: 'control character in key', bytes: (w, t, u) => w.buy(ok(t, { user_id: 'a\u0001' }, u)), letters: both('invalid_key') },
  { name: 'NaN amount', bytes: (w, t, u) => w.buy(ok(t, { amount: Number.NaN }, u)), letters: both('out_of_range') },
  { name: 'infinite amount', bytes: (w, t, u) => w.buy(ok(t, { amount: Infinity }, u)), letters: both('out_of_range') },
  {
    name: 'amount over 2^960',
    bytes: (w, t, u) => w.buy(ok(t, { amount: 2 ** 1000 }, u)),
    letters: [`out_of_range@${spend.name}`],
  },
  {
    name: 'string over maxStringBytes',
    bytes: (w, t, u) => w.buy(ok(t, { item_id: 'y'.repeat(MAX_STRING_BYTES + 1) }, u)),
    letters: [`oversize@${spend.name}`],
  },
]

export interface PlannedRecord {
  readonly partition: number
  readonly value: Buffer | null
  readonly timestampMs: number
  readonly poison?: PoisonKind
}

export const T0 = Date.UTC(2026, 2, 1)

/**
 * Phase `phase`'s records. Partition 2 is silent until phase `silentUntil`; event times move ahead
 * in steps (some across window boundaries), go back within and beyond the lateness, repeat (the same
 * bytes again: a duplicate), sit a day in the past or before 1970, and a poison record of each kind
 * in turn is mixed in.
 */
export function planPhase(
  rand: () => number,
  phase: number,
  clocks: number[],
  w: Writers,
  silentUntil: number,
  poisonAt: { next: number },
): PlannedRecord[] {
  const out: PlannedRecord[] = []
  for (let p = 0; p < PARTITIONS; p++) {
    if (p === 2 && phase < silentUntil) continue
    const n = 8 + Math.floor(rand() * 20)
    let last: PlannedRecord | undefined
    for (let i = 0; i < n; i++) {
      const stamp = clocks[p]! + 1_000
      const r = rand()
      if (r < 0.1) {
        const kind = POISON_KINDS[poisonAt.next++ % POISON_KINDS.length]!
        out.push({
          partition: p,
          value: kind.bytes(w, clocks[p]!, `p${p}x`),
          timestampMs: stamp + (kind.stampOffsetMs ?? 0),
          poison: kind,
        })
        continue
      }
      if (r < 0.16 && last !== undefined) {
        out.push(last)
        continue
      }
      const step = rand()
      let t: number
      if (step < 0.5) t = clocks[p]! += Math.floor(rand() * 9_000)
      else if (step < 0.65) t = clocks[p]! = Math.ceil(clocks[p]! / 60_000) * 60_000 + [0, -1, 1][Math.floor(rand() * 3)]!
      else if (step < 0.8) t = clocks[p]! - Math.floor(rand() * 9_000)
      else if (step < 0.84) t = clocks[p]! - 86_400_000
      else if (step < 0.86) t = -5_000 - Math.floor(rand() * 1_000)
      else t = clocks[p]! += 20_000 + Math.floor(rand() * 90_000)
      const buy: Buy = {
        user_id: `p${p}u${Math.floor(rand() * 5)}`,
        item_id: `i${Math.floor(rand() ** 2 * 6)}`,
        amount: rand() < 0.1 ? null : Math.round(rand() * 400) / 4,
        ts: t,
      }
      last = { partition: p, value: w.buy(buy), timestampMs: clocks[p]! + 1_000 }
      out.push(last)
    }
  }
  return out
}
