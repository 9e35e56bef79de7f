/**
 * An outside model of the online store (docs/design.md §5, ports/online-semantics.ts), written
 * apart from both adapters: per (view, version, entity) the row with the greatest `as_of` wins, a
 * tie goes to the row written later, a tombstone reads MISSING, and a row is OUTSIDE_TTL once
 * `as_of ≤ now − ttl`. Random workloads (fast-check arbitraries) cover odd entity keys, out-of-order
 * and tied `as_of`, tombstones and several views and versions that share entity keys.
 */
import fc from 'fast-check'
import type { FeatureValue, FeatureViewDef, StampedRow } from '../../../features/types.ts'
import type { OnlineRead } from '../../../ports/online-store.ts'
import { feature, view } from '../../contracts/online-store.ts'

const HOUR = 3_600_000

/** Views whose keys overlap: one name at two versions, another name, and an attribute view with tombstones. */
export const ORACLE_VIEWS: readonly FeatureViewDef[] = [
  view('stats', [feature('count', 'long'), feature('sum', 'double'), feature('city', 'string')], { ttlMs: HOUR }),
  view('stats', [feature('count', 'long'), feature('sum', 'double'), feature('city', 'string')], { ttlMs: HOUR, version: 2 }),
  view('other', [feature('count', 'long'), feature('sum', 'double'), feature('city', 'string')], { ttlMs: 2 * HOUR }),
  {
    ...view('profile', [feature('count', 'long'), feature('sum', 'double'), feature('city', 'string')], { ttlMs: HOUR }),
    changeMode: 'attributes',
  },
]

/** Entity keys with every byte kfs lets through: hash-tag braces, colons, the separator's escape, long and non-ASCII ones. */
export const ODD_KEYS: readonly string[] = [
  'u1',
  '{',
  '}',
  '{}',
  '}{',
  'a{b}c',
  '{u1}',
  'u1}',
  'x:y',
  ':',
  'stats:1:{u1}',
  'a\\b',
  'é',
  'e\u0301',
  '🔑',
  '日本',
  '\ufffd',
  'x\ufffd',
  'k'.repeat(512),
  'é'.repeat(256),
]

/**
 * Keys that name no entity (core/entity-key.ts's rule), refused by the store as its last guard: a
 * lone surrogate, which has no UTF-8 form (never merged with `x\ufffd`), an empty key, a control
 * character (the composite-key separator).
 */
export const UNSTORABLE_KEYS: readonly string[] = ['x\ud800', 'x\udbff', '\udc00', '', 'a\u001fb']

export const unstorable = (w: OracleWrite): boolean => w.rows.some((r) => UNSTORABLE_KEYS.includes(r.entityKey))

export interface OracleWrite {
  readonly view: number
  readonly rows: readonly StampedRow[]
}

export interface StoredRow {
  readonly asOfMs: number
  readonly values: readonly FeatureValue[]
  readonly deleted: boolean
}

const slotKey = (viewIndex: number, entityKey: string): string => `${viewIndex}\u0000${entityKey}`

/** The rows the model holds after `writes`, applied in order (a write with an unstorable key is refused whole). */
export function modelApply(writes: readonly OracleWrite[], into = new Map<string, StoredRow>()): Map<string, StoredRow> {
  for (const w of writes) {
    if (unstorable(w)) continue
    for (const r of w.rows) {
      const k = slotKey(w.view, r.entityKey)
      const prev = into.get(k)
      if (prev === undefined || r.asOfMs >= prev.asOfMs)
        into.set(k, { asOfMs: r.asOfMs, values: r.values, deleted: r.deleted === true })
    }
  }
  return into
}

export function modelRead(
  model: ReadonlyMap<string, StoredRow>,
  viewIndex: number,
  entityKey: string,
  nowMs: number,
): { status: string; asOfMs: number | null; values: FeatureValue[] } {
  const stored = model.get(slotKey(viewIndex, entityKey))
  const width = ORACLE_VIEWS[viewIndex]!.features.length
  if (stored === undefined || stored.deleted)
    return { status: 'MISSING', asOfMs: null, values: new Array<null>(width).fill(null) }
  if (stored.asOfMs <= nowMs - ORACLE_VIEWS[viewIndex]!.ttlMs)
    return { status: 'OUTSIDE_TTL', asOfMs: stored.asOfMs, values: new Array<null>(width).fill(null) }
  return { status: 'PRESENT', asOfMs: stored.asOfMs, values: [...stored.values] }
}

export function plain(read: OnlineRead): { status: string; asOfMs: number | null; values: FeatureValue[] } {
  return { status: read.status, asOfMs: read.asOfMs, values: [...read.values] }
}

/** A small as_of range, so ties and out-of-order rows are common. */
const asOf = (base: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 12 }).map((d) => base + d * 250)

const values: fc.Arbitrary<FeatureValue[]> = fc.tuple(
  fc.option(fc.integer({ min: -3, max: 3 }), { nil: null }),
  fc.option(fc.constantFrom(0.1, -0, 1e300, 2.5), { nil: null }),
  fc.option(fc.constantFrom('a', '', '{x}', 'é:ü'), { nil: null }),
)

/** One write call: rows of one view (the engine writes a view at a time), keys drawn from `keys`. */
export function oracleWrites(
  base: number,
  keys: readonly string[] = [...ODD_KEYS, ...UNSTORABLE_KEYS],
): fc.Arbitrary<OracleWrite[]> {
  const write = fc.integer({ min: 0, max: ORACLE_VIEWS.length - 1 }).chain((v) =>
    fc
      .array(
        fc
          .record({ key: fc.constantFrom(...keys), asOfMs: asOf(base), values, tomb: fc.boolean() })
          .map(({ key, asOfMs, values: vs, tomb }): StampedRow => {
            const deleted = tomb && ORACLE_VIEWS[v]!.changeMode === 'attributes'
            return {
              entityKey: key,
              asOfMs,
              createdAtMs: asOfMs,
              values: deleted ? [null, null, null] : vs,
              ...(deleted ? { deleted: true } : {}),
            }
          }),
        { minLength: 1, maxLength: 12 },
      )
      .map((rows) => ({ view: v, rows })),
  )
  return fc.array(write, { minLength: 1, maxLength: 10 })
}
