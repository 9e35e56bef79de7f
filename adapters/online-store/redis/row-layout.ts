/**
 * Names and row encoding shared by the Redis store's writer, reader and change feed.
 *
 * Key: `<prefix>:<view>:<version>:{<entityKey>}` — the entity key is the cluster hash tag, so every
 * key of one entity sits in one slot and each script touches exactly one key. The entity key comes
 * last and view names cannot contain `:` or braces, which keeps the mapping injective.
 * Change channel: `<prefix>:rows:<view>:<version>`.
 */
import { SinkWriteError, SourceError } from '../../../core/errors.ts'
import type { FeatureValue, FeatureValueType, FeatureViewDef, FeatureRow } from '../../../features/types.ts'
import { entityKeyRefusal, missingRead, statusOf } from '../../../ports/online-semantics.ts'
import { StoredRowUnreadable, type OnlineRead } from '../../../ports/online-store.ts'
import { StoredTextRead } from './stored-text-read.ts'
import { AS_OF_FIELD, checkValue, decodeValue, encodeCheckedValue } from './value-codec.ts'

export interface ViewLayout {
  readonly view: FeatureViewDef
  readonly keyPrefix: string
  readonly channel: string
  readonly ttlArg: string
  readonly types: ReadonlyMap<string, FeatureValueType>
  /** The view's rows may be tombstones (an attribute view, docs/design.md §11): reads fetch DELETED_FIELD. */
  readonly tombstones: boolean
}

/**
 * Marks a tombstone: the hash keeps `@as_of` (so the conditional write still refuses older rows:
 * a deleted key cannot be resurrected by a stale change) and `@deleted`, and no feature.
 */
export const DELETED_FIELD = '@deleted'

const layouts = new WeakMap<FeatureViewDef, Map<string, ViewLayout>>()

export function viewLayout(view: FeatureViewDef, prefix: string): ViewLayout {
  let byPrefix = layouts.get(view)
  if (!byPrefix) layouts.set(view, (byPrefix = new Map()))
  let layout = byPrefix.get(prefix)
  if (layout) return layout
  if (!/^[A-Za-z0-9_.-]+$/.test(view.name)) {
    throw new SinkWriteError('SINK_REJECTED', `view name ${JSON.stringify(view.name)} is not usable in a Redis key`, { context: { view: view.name } })
  }
  if (!(view.ttlMs > 0)) {
    throw new SinkWriteError('SINK_REJECTED', `view ${view.name} has no positive ttlMs`, { context: { view: view.name } })
  }
  layout = {
    view,
    keyPrefix: `${prefix}:${view.name}:${view.version}:{`,
    channel: `${prefix}:rows:${view.name}:${view.version}`,
    // Infinity means "never expires"; PEXPIRE wants an integer.
    ttlArg: Number.isFinite(view.ttlMs) ? String(Math.ceil(view.ttlMs)) : '0',
    types: new Map(view.features.map((f) => [f.name, f.type])),
    tombstones: view.changeMode === 'attributes',
  }
  byPrefix.set(prefix, layout)
  return layout
}

export function rowKey(layout: ViewLayout, entityKey: string): string {
  return `${layout.keyPrefix}${entityKey}}`
}

/** Throws BAD_REQUEST unless `entityKey` can name an entity of the view (ports/online-semantics.ts entityKeyRefusal). */
export function checkLookupKey(layout: ViewLayout, entityKey: string): void {
  const badKey = entityKeyRefusal(layout.view, entityKey)
  if (badKey !== undefined) throw new SourceError('BAD_REQUEST', `${layout.view.name}: ${badKey}`, { context: { view: layout.view.name } })
}

/** Throws SINK_REJECTED unless the row fits the view (what `packRow` checks, without encoding). */
export function checkRow(layout: ViewLayout, row: FeatureRow): void {
  const { view } = layout
  const badKey = entityKeyRefusal(view, row.entityKey)
  if (badKey !== undefined) throw new SinkWriteError('SINK_REJECTED', `row of ${view.name}: ${badKey}`, { context: { view: view.name } })
  if (row.values.length !== view.features.length) {
    throw new SinkWriteError('SINK_REJECTED', `row of ${view.name} has ${row.values.length} values for ${view.features.length} features`, {
      context: { view: view.name },
    })
  }
  if (!Number.isSafeInteger(row.asOfMs)) {
    throw new SinkWriteError('SINK_REJECTED', `row of ${view.name} has a non-integer as_of`, { context: { view: view.name } })
  }
  if (row.deleted === true && (!layout.tombstones || row.values.some((v) => v !== null))) {
    throw new SinkWriteError('SINK_REJECTED', `tombstone of ${view.name} ${layout.tombstones ? 'holds values' : 'in a view that has no deletes'}`, { context: { view: view.name } })
  }
  for (let i = 0; i < view.features.length; i++) {
    const value = row.values[i] ?? null
    if (value !== null) checkValue(value, view.features[i]!.type, view.name, view.features[i]!.name)
  }
}

/**
 * One row (checked by `checkRow`) as the write script takes and publishes it: a JSON array of
 * strings `[key, as_of, f1, v1, …]`, null features left out. Strings are made well-formed first:
 * the script's JSON decoder rejects lone surrogates, and Redis would have stored U+FFFD anyway.
 */
export function packRow(layout: ViewLayout, key: string, row: FeatureRow): string {
  const { view } = layout
  const parts = [key.isWellFormed() ? key : key.toWellFormed(), String(row.asOfMs)]
  if (row.deleted === true) parts.push(DELETED_FIELD, '1')
  for (let i = 0; i < view.features.length; i++) {
    const f = view.features[i]!
    const value = row.values[i] ?? null
    if (value === null) continue
    const text = encodeCheckedValue(value, f.type)
    parts.push(f.name, text.isWellFormed() ? text : text.toWellFormed())
  }
  return JSON.stringify(parts)
}

/** Decodes a row published by the write script (see `packRow`). */
export function decodePacked(layout: ViewLayout, packed: string): { key: string; asOfMs: number; values: Record<string, FeatureValue>; deleted?: true } {
  const parts = JSON.parse(packed) as string[]
  const values: Record<string, FeatureValue> = {}
  for (const f of layout.view.features) values[f.name] = null
  let deleted = false
  for (let i = 2; i + 1 < parts.length; i += 2) {
    if (parts[i] === DELETED_FIELD) deleted = true
    const type = layout.types.get(parts[i]!)
    if (type) values[parts[i]!] = decodeValue(parts[i + 1], type)
  }
  return { key: parts[0]!, asOfMs: Number(parts[1]), values, ...(deleted ? { deleted: true as const } : {}) }
}

export { AS_OF_FIELD }

/** The write script stores `@as_of` as the row's integer, written by String(). */
const AS_OF_TEXT = /^-?(?:0|[1-9][0-9]*)$/

/**
 * A read reply (as_of, the deletion mark where the view has one, then the features) as an OnlineRead.
 * An `@as_of` that is not the integer kfs writes is a row that is not kfs's: StoredRowUnreadable,
 * not a row served PRESENT with an unknown age.
 */
export function decodeRead(layout: ViewLayout, features: readonly string[], types: readonly FeatureValueType[], reply: readonly (string | null)[], nowMs: number): OnlineRead {
  const asOfText = reply[0]
  if (asOfText === null || asOfText === undefined) return missingRead(types.length)
  // A tombstone: the key's row was deleted (docs/design.md §11), so it answers MISSING.
  if (layout.tombstones && reply[1] !== null && reply[1] !== undefined) return missingRead(types.length)
  const first = layout.tombstones ? 2 : 1
  const asOfMs = Number(asOfText)
  if (!AS_OF_TEXT.test(asOfText) || !Number.isSafeInteger(asOfMs)) {
    const view = layout.view.name
    throw new StoredRowUnreadable('corrupt', `view ${view}: a stored row's ${AS_OF_FIELD} is not an integer`, { view })
  }
  const status = statusOf(asOfMs, layout.view, nowMs)
  if (status !== 'PRESENT') return { status, asOfMs, values: new Array<null>(types.length).fill(null) }
  return new StoredTextRead(asOfMs, reply, first, types, { view: layout.view.name, features })
}
