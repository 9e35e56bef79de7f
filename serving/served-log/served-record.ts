/**
 * One served (view, entity) lookup as the served-feature log records it, and its Avro event form
 * (schemas/avro/served-features.avsc). Pure: no I/O beyond reading the schema file at load.
 *
 * Values travel as a JSON array (`values_json`): an Avro union cannot hold `long[]`, `double[]` and
 * `string[]` at once, and JSON round-trips every finite JS number exactly (shortest round-trip
 * form; -0 written `-0.0` by core/feature-json.ts, as the response writes it), so decode(encode(v))
 * is v bit for bit — skew-report depends on that.
 */
import { featureMessageJson } from '../../core/feature-json.ts'
import type { FeatureValue } from '../../features/types.ts'
import type { OnlineStatus } from '../../ports/online-store.ts'
import { readAvroSchema } from '../../schemas/avro/read-schema.ts'

export const SERVED_FEATURES_SCHEMA = readAvroSchema(new URL('../../schemas/avro/served-features.avsc', import.meta.url))

export interface ServedRecord {
  readonly requestId: string
  readonly servedAtMs: number
  readonly viewName: string
  readonly viewVersion: number
  readonly entityKey: string
  readonly status: OnlineStatus
  readonly asOfMs: number | null
  readonly features: readonly string[]
  readonly values: readonly FeatureValue[]
}

/** The Avro event (field names of served-features.avsc). */
export interface ServedEvent {
  readonly request_id: string
  readonly served_at: number
  readonly view: string
  readonly entity_key: string
  readonly status: string
  readonly as_of: number | null
  readonly features: readonly string[]
  readonly values_json: string
}

export function viewRef(name: string, version: number): string {
  return `${name}@${version}`
}

export function toServedEvent(record: ServedRecord): ServedEvent {
  return {
    request_id: record.requestId,
    served_at: record.servedAtMs,
    view: viewRef(record.viewName, record.viewVersion),
    entity_key: record.entityKey,
    status: record.status,
    as_of: record.asOfMs,
    features: record.features,
    // As the response wrote them: a double -0 stays -0 (core/feature-json.ts), so skew-report compares what was served.
    values_json: featureMessageJson(record.values),
  }
}

const STATUSES: ReadonlySet<string> = new Set(['PRESENT', 'MISSING', 'OUTSIDE_TTL'])

/** Reads a decoded event back; undefined when it is not a well-formed served record (reported, not thrown). */
export function fromServedEvent(event: Readonly<Record<string, unknown>>): ServedRecord | undefined {
  const { request_id: requestId, served_at: servedAt, view, entity_key: entityKey, status, as_of: asOf, features, values_json: valuesJson } = event
  if (typeof requestId !== 'string' || typeof view !== 'string' || typeof entityKey !== 'string' || typeof valuesJson !== 'string') return undefined
  if (typeof servedAt !== 'number' || !Number.isSafeInteger(servedAt)) return undefined
  if (typeof status !== 'string' || !STATUSES.has(status)) return undefined
  if (asOf !== null && !(typeof asOf === 'number' && Number.isSafeInteger(asOf))) return undefined
  if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) return undefined
  const at = view.lastIndexOf('@')
  const version = Number(view.slice(at + 1))
  if (at <= 0 || !Number.isSafeInteger(version) || version < 1) return undefined
  let values: unknown
  try {
    values = JSON.parse(valuesJson)
  } catch {
    return undefined
  }
  if (!Array.isArray(values) || values.length !== features.length || !values.every(isFeatureValue)) return undefined
  return {
    requestId,
    servedAtMs: servedAt,
    viewName: view.slice(0, at),
    viewVersion: version,
    entityKey,
    status: status as OnlineStatus,
    asOfMs: asOf,
    features: features as string[],
    values: values as FeatureValue[],
  }
}

function isFeatureValue(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'number') return true
  return Array.isArray(v) && (v.every((x) => typeof x === 'number') || v.every((x) => typeof x === 'string'))
}
