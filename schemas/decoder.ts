/**
 * Record value bytes → event, resolved to the source's reader schema.
 *
 * Strategy, per value:
 * 1. Refuse oversize values before touching them (`oversize`).
 * 2. Unframe (magic byte + schema id, `codec.ts`); a bad frame is `undecodable`.
 * 3. Look the writer schema up by id, once per id; an id the registry does not know is
 *    `unknown_schema`, one it says names no Avro schema (SchemaError SCHEMA_INCOMPATIBLE: a JSON
 *    Schema or Protobuf id, a text that is not JSON) `schema_mismatch`, cached like a known id. A known id is cached for good (an id never changes meaning); an unknown
 *    answer only for `unknownRecheckMs`, because it can change: a registry follower lagging its
 *    leader, or a registry being restored, answers 404 for an id that is registered a moment
 *    later (Confluent's deserializers cache only successful lookups). Unknown ids are kept apart
 *    from known ones and bounded on their own, so a flood of records with random ids neither
 *    evicts the real writer schemas nor grows memory; lookups run at most
 *    `maxConcurrentLookups` at a time, so such a flood cannot open thousands of requests at once.
 * 4. Build the writer type and the resolver writer → reader once per id; a writer schema the
 *    reader cannot resolve (a field type changed, a required field missing) is `schema_mismatch`,
 *    and every record with that id is refused the same way. So is a writer whose logical type
 *    changes a value's meaning with no exact conversion (a local timestamp read as UTC, a decimal
 *    of another scale); one of another unit (`timestamp-micros` read as `timestamp-millis`) is
 *    converted after decoding (logical-resolution.ts) — avsc resolves by underlying types alone.
 * 5. Decode strictly: the body must be consumed exactly (truncated bodies and trailing bytes are
 *    `undecodable`). Longs beyond ±2^53 are retried with the wide long (see `avro-type.ts`).
 * 6. Strings must be valid UTF-8 (the Avro spec's string), checked exactly but only when a
 *    decoded string holds U+FFFD (utf8-check.ts): otherwise `invalid_utf8`, with the field's
 *    path in `field` — so two different byte keys can never become one entity. The check reads
 *    the body along the writer's type beside the reader's: writer bytes promoted to a string
 *    count, and the path uses the reader's field names (an aliased rename).
 *
 * Bad data never throws. An unreachable registry is not bad data: it throws the registry's
 * retriable error, and the caller retries the batch.
 */
import type { Resolver, Type } from 'avsc'
import type { DeadLetterReason } from '../ports/dead-letters.ts'
import { unframe } from './codec.ts'
import { createFastType, createWideType } from './avro-type.ts'
import { holdsReplacementChar, invalidUtf8Path, recordFieldNames } from './utf8-check.ts'
import { readLogical } from './logical-resolution.ts'
import { LogicalOverflow } from './logical-types.ts'
import type { AvroSchema, SchemaRegistry } from '../ports/schema-registry.ts'
import { systemClock, type Clock } from '../core/clock.ts'
import { invalidKeyPartReason, LONE_SURROGATE_REASON } from '../core/entity-key.ts'
import { FeatureStoreError, SchemaError } from '../core/errors.ts'

export type DecodeFailureReason = Extract<DeadLetterReason, 'undecodable' | 'unknown_schema' | 'schema_mismatch' | 'oversize' | 'invalid_utf8'>

export type DecodeResult =
  | { readonly ok: true; readonly event: Record<string, unknown>; readonly schemaId: number }
  | {
      readonly ok: false
      readonly reason: DecodeFailureReason
      readonly detail: string
      readonly schemaId?: number
      /** `invalid_utf8`: path of the offending string (`user_id`, `tags[2]`); its top-level field decides `invalid_key`. */
      readonly field?: string
      /** `invalid_utf8` of a JSON string holding a lone surrogate (a `\ud800` escape), not of bytes: that string. */
      readonly text?: string
    }

/**
 * The join key among `joinKeys` whose invalid UTF-8 failed the decode, if any: such a record is
 * refused `invalid_key` (two byte keys must never collide into one entity), not `invalid_utf8`.
 * A changelog source's keys are columns of its images (`after.<key>`, `before.<key>`): the join
 * keys and, for every view, the primary key (`primaryKey`, given for a changelog source only).
 */
export function invalidUtf8JoinKey(result: Extract<DecodeResult, { ok: false }>, joinKeys: readonly string[], primaryKey?: readonly string[]): string | undefined {
  if (result.reason !== 'invalid_utf8' || result.field === undefined) return undefined
  if (primaryKey !== undefined) {
    const image = /^(?:after|before)\.([^.[{]+)$/.exec(result.field)
    return image !== null && (joinKeys.includes(image[1]!) || primaryKey.includes(image[1]!)) ? image[1] : undefined
  }
  const top = result.field.split(/[.[{]/, 1)[0]!
  return joinKeys.includes(top) ? top : undefined
}

/**
 * The `invalid_key` detail of a join key the decode refused: for a JSON string holding a lone
 * surrogate, core's reason for that string (what a mapped event, serving and every other door say
 * of it — a control character in it is told first, as everywhere); else bytes that are not UTF-8.
 */
export function invalidUtf8KeyDetail(result: Extract<DecodeResult, { ok: false }>, joinKey: string): string {
  const reason = result.text === undefined ? 'not valid UTF-8' : (invalidKeyPartReason(result.text) ?? LONE_SURROGATE_REASON)
  return `join key ${joinKey} is ${reason}`
}

export interface Decoder {
  decode(value: Uint8Array | null): Promise<DecodeResult>
  /** Looks up every unseen schema id of the batch first, then decodes without further awaits. */
  decodeBatch(values: readonly (Uint8Array | null)[]): Promise<DecodeResult[]>
}

export interface DecoderOptions {
  readonly registry: SchemaRegistry
  readonly readerSchema: AvroSchema
  /** Values larger than this are refused as `oversize`. Default 1 MiB (Kafka's default message size). */
  readonly maxValueBytes?: number
  /** Bound on remembered known schema ids (and ids whose writer schema does not resolve). Default 10 000. */
  readonly maxCachedIds?: number
  /** Bound on remembered unknown schema ids. Default 1 000. */
  readonly maxUnknownIds?: number
  /** How long an id the registry answered "not registered" for is refused without asking again. Default 5 s. */
  readonly unknownRecheckMs?: number
  /** Registry lookups in flight at once. Default 8. */
  readonly maxConcurrentLookups?: number
  /** Processing time, for the re-check of unknown ids. */
  readonly clock?: Pick<Clock, 'nowMs'>
}

type Reading =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'mismatch'; readonly detail: string }
  | {
      readonly kind: 'ok'
      readonly fast: Codec
      wide: Codec | undefined
      readonly writerSchema: AvroSchema
      readonly writerType: Type
      /** Converts the decoded event where the writer's logical type has another unit (logical-resolution.ts); usually undefined. */
      readonly convert: ((value: unknown) => unknown) | undefined
    }

interface Codec {
  readonly type: Type
  readonly resolver: Resolver | undefined
}

/** The default record limit: Kafka's default message size (kfs ingest keeps its change records under it, ingest/row-size.ts). */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
export const DEFAULT_UNKNOWN_RECHECK_MS = 5_000

export function createDecoder(options: DecoderOptions): Decoder {
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  const maxCachedIds = options.maxCachedIds ?? 10_000
  const readerFast = createFastType(options.readerSchema)
  const readerFields = recordFieldNames(readerFast)
  let readerWide: Type | undefined
  const maxUnknownIds = options.maxUnknownIds ?? 1_000
  const unknownRecheckMs = options.unknownRecheckMs ?? DEFAULT_UNKNOWN_RECHECK_MS
  const clock = options.clock ?? systemClock
  const lookups = lookupLimiter(options.maxConcurrentLookups ?? 8)
  const readings = new Map<number, Reading>()
  /** Unknown ids, with the time the registry said so; in insertion order, the oldest first. */
  const unknownSince = new Map<number, number>()
  const pending = new Map<number, Promise<Reading>>()
  const UNKNOWN: Reading = { kind: 'unknown' }

  /** The id's reading if it is still to be believed; an unknown answer older than the re-check interval is not. */
  function cached(schemaId: number): Reading | undefined {
    const known = readings.get(schemaId)
    if (known !== undefined) return known
    const since = unknownSince.get(schemaId)
    if (since === undefined) return undefined
    if (clock.nowMs() - since < unknownRecheckMs) return UNKNOWN
    unknownSince.delete(schemaId)
    return undefined
  }

  function remember(schemaId: number, reading: Reading): void {
    if (reading.kind === 'unknown') {
      // Re-inserted at the end: the oldest answer is the first evicted.
      unknownSince.delete(schemaId)
      if (unknownSince.size >= maxUnknownIds) unknownSince.delete(unknownSince.keys().next().value as number)
      unknownSince.set(schemaId, clock.nowMs())
      return
    }
    unknownSince.delete(schemaId)
    if (readings.size >= maxCachedIds) readings.delete(readings.keys().next().value as number)
    readings.set(schemaId, reading)
  }

  function codecFor(reader: Type, writer: Type): Codec {
    // Identical wire layout: skip the resolver, decoding is then avsc's fast path.
    return { type: reader, resolver: reader.equals(writer) ? undefined : reader.createResolver(writer) }
  }

  function buildReading(writerSchema: AvroSchema | undefined): Reading {
    if (writerSchema === undefined) return UNKNOWN
    try {
      const writerType = createFastType(writerSchema)
      const fast = codecFor(readerFast, writerType)
      const logical = readLogical(writerSchema, options.readerSchema, readerFast)
      if (!logical.ok) return { kind: 'mismatch', detail: `writer schema cannot be read as the source schema: ${logical.refusal}` }
      return { kind: 'ok', fast, wide: undefined, writerSchema, writerType, convert: logical.convert }
    } catch (err: unknown) {
      return { kind: 'mismatch', detail: `writer schema cannot be read as the source schema: ${messageOf(err)}` }
    }
  }

  /**
   * The registry's answer that the id names no Avro schema (ports/schema-registry.ts) is refused
   * like a writer that does not resolve, in its own words (a read wrapper may have named the read
   * around it: engine/retried-reads.ts); any other error is thrown for the caller to retry.
   */
  function notAvro(err: unknown): Reading {
    for (let e: unknown = err; e instanceof Error; e = e.cause) {
      if (e instanceof SchemaError && e.code === 'SCHEMA_INCOMPATIBLE') return { kind: 'mismatch', detail: e.message }
      if (!(e instanceof FeatureStoreError) || e.code !== 'SCHEMA_INCOMPATIBLE') break
    }
    throw err
  }

  async function load(schemaId: number): Promise<Reading> {
    const hit = cached(schemaId)
    if (hit) return hit
    let inflight = pending.get(schemaId)
    if (!inflight) {
      inflight = lookups(() => options.registry.getById(schemaId)).then(buildReading, notAvro)
      pending.set(schemaId, inflight)
    }
    try {
      const reading = await inflight
      remember(schemaId, reading)
      return reading
    } finally {
      pending.delete(schemaId)
    }
  }

  function decodeWith(codec: Codec, body: Buffer): { value: unknown } | { error: string } {
    try {
      const { value, offset } = codec.type.decode(body, 0, codec.resolver)
      if (offset < 0) return { error: 'Avro body is truncated' }
      if (offset !== body.length) return { error: `${body.length - offset} trailing bytes after the Avro body` }
      return { value }
    } catch (err: unknown) {
      return { error: messageOf(err) }
    }
  }

  function decodeKnown(schemaId: number, reading: Reading, body: Buffer): DecodeResult {
    if (reading.kind === 'unknown') return { ok: false, reason: 'unknown_schema', detail: `schema id ${schemaId} is not registered`, schemaId }
    if (reading.kind === 'mismatch') return { ok: false, reason: 'schema_mismatch', detail: reading.detail, schemaId }
    let result = decodeWith(reading.fast, body)
    if ('error' in result) {
      // Possibly a long beyond ±2^53, which only the wide flavour can hold.
      readerWide ??= createWideType(options.readerSchema)
      reading.wide ??= codecFor(readerWide, createWideType(reading.writerSchema))
      const wide = decodeWith(reading.wide, body)
      if ('value' in wide) result = wide
    }
    if ('error' in result) return { ok: false, reason: 'undecodable', detail: result.error, schemaId }
    if (result.value === null || typeof result.value !== 'object') {
      return { ok: false, reason: 'schema_mismatch', detail: 'the source schema does not decode to a record', schemaId }
    }
    const event = result.value as Record<string, unknown>
    if (holdsReplacementChar(event, readerFields)) {
      const field = invalidUtf8Path(reading.writerType, body, readerFast)
      if (field !== undefined) return { ok: false, reason: 'invalid_utf8', detail: `field ${field} is not valid UTF-8`, schemaId, field }
    }
    if (reading.convert !== undefined) {
      try {
        reading.convert(event)
      } catch (err: unknown) {
        if (!(err instanceof LogicalOverflow)) throw err
        return { ok: false, reason: 'schema_mismatch', detail: err.message, schemaId }
      }
    }
    return { ok: true, event, schemaId }
  }

  type Framed = { readonly failure: DecodeResult } | { readonly schemaId: number; readonly body: Buffer }

  function preCheck(value: Uint8Array | null): Framed {
    if (value === null) return { failure: { ok: false, reason: 'undecodable', detail: 'the record has no value (tombstone)' } }
    if (value.length > maxValueBytes) {
      return { failure: { ok: false, reason: 'oversize', detail: `${value.length} bytes exceeds the ${maxValueBytes}-byte limit` } }
    }
    const framed = unframe(value)
    if (!framed.ok) return { failure: { ok: false, reason: 'undecodable', detail: framed.detail } }
    return framed
  }

  return {
    async decode(value) {
      const framed = preCheck(value)
      if ('failure' in framed) return framed.failure
      return decodeKnown(framed.schemaId, await load(framed.schemaId), framed.body)
    },
    async decodeBatch(values) {
      const framed = values.map(preCheck)
      const unseen = new Set<number>()
      const loaded = new Map<number, Reading>()
      for (const f of framed) {
        if (!('schemaId' in f) || loaded.has(f.schemaId)) continue
        const hit = cached(f.schemaId)
        if (hit) loaded.set(f.schemaId, hit)
        else unseen.add(f.schemaId)
      }
      // The batch's own answers, not the caches': a flood of ids larger than a cache evicts some before the batch is decoded.
      await Promise.all([...unseen].map(async (id) => loaded.set(id, await load(id))))
      return framed.map((f) => {
        if ('failure' in f) return f.failure
        return decodeKnown(f.schemaId, loaded.get(f.schemaId) as Reading, f.body)
      })
    },
  }
}

/** Runs at most `max` lookups at once; the others wait their turn, in order. */
function lookupLimiter(max: number): <T>(lookup: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: (() => void)[] = []
  return async (lookup) => {
    // A finishing lookup hands its slot straight to the next waiter, so no newcomer slips in between.
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve))
    else running++
    try {
      return await lookup()
    } finally {
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
