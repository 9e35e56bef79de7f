/**
 * Semantics both online stores share (docs/design.md §5), kept in one place so Redis and the embedded
 * store cannot drift: which row of a batch survives coalescing, how a stored row's age maps to a
 * status, and the shape of a change notification.
 *
 * TTL boundary: a row is OUTSIDE_TTL when `as_of ≤ nowMs − ttlMs`, the same boundary the
 * point-in-time join uses (a feature is valid while `as_of > t − ttl`), so serving and training
 * sets agree on which rows are too old. An OUTSIDE_TTL read reports its `as_of` but null values,
 * exactly what a training set would hold for that moment.
 */
import { invalidEntityKeyReason } from '../core/entity-key.ts'
import type { FeatureValue, FeatureViewDef, StampedRow } from '../features/types.ts'
import type { OnlineRead, OnlineStatus } from './online-store.ts'

/** A row that landed in an online store, as pushed to subscribers. */
export interface OnlineChange {
  readonly view: string
  readonly version: number
  readonly entityKey: string
  readonly asOfMs: number
  /** Every feature of the view by name; null stays null. */
  readonly values: Readonly<Record<string, FeatureValue>>
  /** A tombstone landed: the key was deleted (docs/design.md §11) and now answers MISSING. */
  readonly deleted?: true
}

export type OnlineChangeListener = (change: OnlineChange) => void

/**
 * Why `entityKey` names no entity of `view`, as `entity key "<key>" is <reason>`, or undefined: a
 * store's last guard, core's one key rule (core/entity-key.ts invalidEntityKeyReason) on each part
 * of the encoded key. The engine and serving refuse such keys before they get here; a store never
 * holds one either — a lone surrogate, say, has no UTF-8 form, so Redis would hold `x\uD800`,
 * `x\uDBFF` and `x\uFFFD` in one hash and one entity would read (or overwrite) another's row.
 * Writes refuse with SINK_REJECTED (nothing of the batch written), reads with BAD_REQUEST.
 */
export function entityKeyRefusal(view: FeatureViewDef, entityKey: string): string | undefined {
  const reason = invalidEntityKeyReason(entityKey, view.entity.joinKeys.length)
  return reason === undefined
    ? undefined
    : `entity key ${JSON.stringify(entityKey.length > 80 ? `${entityKey.slice(0, 80)}…` : entityKey)} is ${reason}`
}

/**
 * Newest row per entity key (items carry their `row`, so callers can coalesce after encoding —
 * every row is validated, even one a newer row supersedes): max `as_of`, ties resolved to the later row in the input (the later
 * row of a tie is the fresher one, as in the Kafka offset order). Output keeps first-seen key order.
 */
export function coalesceRows<T extends { readonly row: Pick<StampedRow, 'entityKey' | 'asOfMs'> }>(items: readonly T[]): T[] {
  const byKey = new Map<string, T>()
  for (const item of items) {
    const prev = byKey.get(item.row.entityKey)
    if (prev === undefined || item.row.asOfMs >= prev.row.asOfMs) byKey.set(item.row.entityKey, item)
  }
  return [...byKey.values()]
}

/**
 * `coalesceRows` of the rows themselves (same rule, same order) without a wrapper object per row:
 * the live engine's online writer coalesces every emitted row.
 */
export function newestRowPerKey<R extends Pick<StampedRow, 'entityKey' | 'asOfMs'>>(rows: readonly R[]): R[] {
  const byKey = new Map<string, R>()
  for (const row of rows) {
    const prev = byKey.get(row.entityKey)
    if (prev === undefined || row.asOfMs >= prev.asOfMs) byKey.set(row.entityKey, row)
  }
  return [...byKey.values()]
}

export function statusOf(asOfMs: number | null, view: FeatureViewDef, nowMs: number): OnlineStatus {
  if (asOfMs === null) return 'MISSING'
  return asOfMs <= nowMs - view.ttlMs ? 'OUTSIDE_TTL' : 'PRESENT'
}

const missingCache = new Map<number, OnlineRead>()

export function missingRead(featureCount: number): OnlineRead {
  let read = missingCache.get(featureCount)
  if (!read) {
    read = Object.freeze({ status: 'MISSING', asOfMs: null, values: Object.freeze(new Array<null>(featureCount).fill(null)) })
    missingCache.set(featureCount, read)
  }
  return read
}
