/**
 * Reading the decoded (and mapped) event: event time, entity key parts, aggregated values.
 * Bad data comes back as a reason string (the caller dead-letters it), never as an exception.
 */
import { encodeEntityKey, invalidKeyPartReason } from '../../core/entity-key.ts'
import type { EntityDef, EventRecord } from '../define/types.ts'

/** Epoch ms from a decoded field: a safe integer, a safe bigint, or a Date (Avro timestamp-millis). */
export function eventTimeOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined
  if (typeof value === 'bigint') {
    const n = Number(value)
    return Number.isSafeInteger(n) ? n : undefined
  }
  if (value instanceof Date) {
    const n = value.getTime()
    return Number.isSafeInteger(n) ? n : undefined
  }
  return undefined
}

export type KeyResult = { readonly ok: true; readonly key: string } | { readonly ok: false; readonly reason: 'missing_key' | 'invalid_key'; readonly detail: string }

function keyPart(entity: EntityDef, field: string, value: unknown): string | { reason: 'missing_key' | 'invalid_key'; detail: string } {
  if (value === undefined || value === null) return { reason: 'missing_key', detail: `join key ${field} is missing` }
  let part: string
  if (entity.keyType === 'int') {
    if (typeof value === 'number' && Number.isSafeInteger(value)) part = String(value)
    else if (typeof value === 'bigint') part = value.toString()
    else if (typeof value === 'string' && /^-?(0|[1-9]\d*)$/.test(value)) part = value
    else return { reason: 'invalid_key', detail: `join key ${field} is not an integer` }
  } else {
    if (typeof value !== 'string') return { reason: 'invalid_key', detail: `join key ${field} is not a string` }
    part = value
  }
  const bad = invalidKeyPartReason(part)
  return bad === undefined ? part : { reason: 'invalid_key', detail: `join key ${field} is ${bad}` }
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
