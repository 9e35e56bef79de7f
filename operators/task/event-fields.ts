/**
 * Reading the decoded (and mapped) event: event time, entity key parts, aggregated values.
 * Bad data comes back as a reason string (the caller dead-letters it), never as an exception.
 */
import { CANONICAL_INT_KEY, encodeEntityKey, invalidKeyPartReason } from '../../core/entity-key.ts'
import { InvariantViolation } from '../../core/errors.ts'
import { isoTextOrMs, TIME_RANGE_TEXT, withinTimeRange } from '../../core/iso-time.ts'
import type { EntityDef, EventRecord, FeatureDef } from '../../features/types.ts'
import { checkInput, describeInputProblem, INPUT_OK, utf8Length, type InputProblem } from '../aggregators/input-check.ts'
import { kernelsOf } from '../aggregators/catalog.ts'

/**
 * Why a present event-time value is not a usable time, or undefined when it is (or is absent:
 * that is `missing_event_time`, judged by the task). A long beyond ±2^53 (a bigint from the
 * decoder), a fraction, a non-number, or a time outside years 1–9999 (core's time range, which
 * training labels keep too) is `invalid_event_time`.
 */
export function invalidEventTimeDetail(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null || eventTimeOf(value) !== undefined) return undefined
  const ms = wholeMsOf(value)
  if (ms !== undefined) return outOfTimeRangeDetail(field, ms)
  if (typeof value === 'bigint') return `${field} = ${value} is beyond ±2^53 ms, not an epoch-millisecond time`
  if (typeof value === 'number') return `${field} = ${value} is not a whole number of epoch milliseconds within ±2^53`
  return `${field} is a ${value instanceof Date ? 'Date that names no time' : typeof value}, not epoch milliseconds`
}

/** The detail of a whole-ms event time outside years 1–9999, the same at every door. */
export function outOfTimeRangeDetail(field: string, ms: number): string {
  return `${field} = ${ms} (${isoTextOrMs(ms)}) is outside ${TIME_RANGE_TEXT}, the times kfs takes (as training labels)`
}

/** A safe integer of ms from a number, bigint or Date, whatever its year; undefined otherwise. */
function wholeMsOf(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : value instanceof Date ? value.getTime() : undefined
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined
}

/** Epoch ms from a decoded field — a safe integer, a safe bigint, or a Date (Avro timestamp-millis) — within years 1–9999. */
export function eventTimeOf(value: unknown): number | undefined {
  const ms = wholeMsOf(value)
  return ms !== undefined && withinTimeRange(ms) ? ms : undefined
}

export type KeyResult = { readonly ok: true; readonly key: string } | { readonly ok: false; readonly reason: 'missing_key' | 'invalid_key'; readonly detail: string }

function keyPart(entity: EntityDef, field: string, value: unknown): string | { reason: 'missing_key' | 'invalid_key'; detail: string } {
  if (value === undefined || value === null) return { reason: 'missing_key', detail: `join key ${field} is missing` }
  let part: string
  if (entity.keyType === 'int') {
    if (typeof value === 'number' && Number.isSafeInteger(value)) part = String(value)
    else if (typeof value === 'bigint') part = value.toString()
    else if (typeof value === 'string' && CANONICAL_INT_KEY.test(value)) part = value
    else return { reason: 'invalid_key', detail: `join key ${field} is not an integer` }
  } else {
    if (typeof value !== 'string') return { reason: 'invalid_key', detail: `join key ${field} is not a string` }
    part = value
  }
  // core's one rule, for every event: a map's strings, a changelog image's, a re-keyed record's.
  const bad = invalidKeyPartReason(part)
  if (bad !== undefined) return { reason: 'invalid_key', detail: `join key ${field} is ${bad}${bad.startsWith('longer') ? ` (${utf8Length(part)} bytes)` : ''}` }
  return part
}

export function entityKeyOf(entity: EntityDef, event: EventRecord): KeyResult {
  const joinKeys = entity.joinKeys
  if (joinKeys.length === 1) {
    const field = joinKeys[0] as string
    const part = keyPart(entity, field, event[field])
    return typeof part === 'string' ? { ok: true, key: part } : { ok: false, ...part }
  }
  const parts: string[] = []
  for (const field of joinKeys) {
    const part = keyPart(entity, field, event[field])
    if (typeof part !== 'string') return { ok: false, ...part }
    parts.push(part)
  }
  return { ok: true, key: encodeEntityKey(parts) }
}

/** Normalises an aggregated field: null/undefined → null ("no data"); bigint → number when safe. */
export function fieldValueOf(event: EventRecord, field: string): unknown {
  const v = event[field]
  if (v === undefined || v === null) return null
  if (typeof v === 'bigint') {
    const n = Number(v)
    return Number.isSafeInteger(n) ? n : v
  }
  return v
}

/**
 * The problem a dead letter reports when some value of the record is refused: the first refused
 * value in the view's feature order (failure path only — the hot loop goes by tile columns).
 */
export function firstInputProblem(features: readonly FeatureDef[], event: EventRecord, maxStringBytes: number): InputProblem {
  for (const f of features) {
    const a = f.aggregation
    if (a.field === undefined) continue
    const v = fieldValueOf(event, a.field)
    if (v === null) continue
    for (const kernel of kernelsOf(a)) {
      const code = checkInput(kernel.input, v, maxStringBytes)
      if (code !== INPUT_OK) return describeInputProblem(code, kernel.input, a.op, a.field, v, maxStringBytes)
    }
  }
  throw new InvariantViolation('firstInputProblem: every value is acceptable')
}
