import { DefinitionError } from '../core/errors.ts'
import type { Duration } from '../core/duration.ts'
import { isTopicName } from '../core/topic-name.ts'
import { didYouMean, recordFields, type AvroField } from './avro-fields.ts'
import type { AvroRecordSchema, EntityDef, SourceDef } from './types.ts'
import { brand, checkDuration, checkName, checkText, describeGivenValue } from './validate.ts'

export interface SourceOptions {
  readonly name: string
  readonly topic: string
  /** The Avro record schema of the topic's values (the registry subject `<topic>-value`). */
  readonly schema: AvroRecordSchema
  /** Field holding the event time: epoch milliseconds (`long`, optionally `timestamp-millis`). */
  readonly eventTimeField: string
  /** Entity the topic's message keys identify; views of other entities re-key first (docs/design.md §2). */
  readonly keyedBy?: EntityDef | string
  readonly partitions?: number
  readonly outOfOrderness?: Duration
  readonly allowedLateness?: Duration
  readonly idleTimeout?: Duration
  /**
   * A record whose event time is more than this after its Kafka timestamp (the ingestion time) is
   * dead-lettered `future_event_time` and does not move the watermark (default 1h).
   */
  readonly maxFutureSkew?: Duration
  readonly description?: string
}

export const SOURCE_DEFAULTS = { partitions: 3, outOfOrderness: '5s', allowedLateness: '1m', idleTimeout: '30s', maxFutureSkew: '1h' } as const

/**
 * Declares a Kafka topic of Avro events and how event time behaves on it.
 *
 * @example
 * export const clicks = source({
 *   name: 'clicks', topic: 'clicks', schema: clickSchema, eventTimeField: 'ts', keyedBy: user,
 *   outOfOrderness: '5s', allowedLateness: '1m', idleTimeout: '30s',
 * })
 */
export function source(options: SourceOptions): SourceDef {
  const name = checkName(options?.name, 'source')
  const where = `source ${name}`
  const topic = checkTopic(options.topic, where)
  const fields = recordFields(options.schema, where)
  const eventTimeField = checkEventTimeField(fields, options.eventTimeField, options.schema, where)
  return brand({
    kind: 'source',
    name,
    topic,
    schema: structuredClone(options.schema),
    eventTimeField,
    keyedBy: checkKeyedBy(options.keyedBy, fields, options.schema, where),
    ...sourceSettings(options, where),
  } satisfies SourceDef)
}

/** What every source shares besides its records: partitions, watermark and lateness bounds, description. */
export type SourceSettingsOptions = Pick<SourceOptions, 'partitions' | 'outOfOrderness' | 'allowedLateness' | 'idleTimeout' | 'maxFutureSkew' | 'description'>

export function checkTopic(topic: unknown, where: string): string {
  if (typeof topic !== 'string' || !isTopicName(topic) || topic.startsWith('__')) {
    throw new DefinitionError(`${where}: topic ${describeGivenValue(topic)} is not a valid Kafka topic name (letters, digits, '.', '_', '-'; not starting with '__')`)
  }
  return topic
}

/** The keying entity's name, once its join keys are found among the record's fields. */
export function checkKeyedBy(keyedBy: EntityDef | string | undefined, fields: readonly AvroField[], schema: AvroRecordSchema, where: string): string | undefined {
  const names = fields.map((f) => f.name)
  if (keyedBy === undefined) return undefined
  if (typeof keyedBy === 'string') return checkName(keyedBy, `${where}: keyedBy`)
  if (keyedBy?.kind !== 'entity') throw new DefinitionError(`${where}: keyedBy must be an entity (from entity({...})) or an entity name`)
  const missing = keyedBy.joinKeys.filter((k) => !names.includes(k))
  if (missing.length > 0) {
    throw new DefinitionError(`${where}: keyedBy entity ${keyedBy.name} has join key(s) ${missing.join(', ')} missing from Avro record ${schema.name}. Fields: ${names.join(', ')}`)
  }
  return keyedBy.name
}

/** The field `eventTimeField` names, holding epoch milliseconds. */
export function checkEventTimeField(fields: readonly AvroField[], field: unknown, schema: AvroRecordSchema, where: string): string {
  const names = fields.map((f) => f.name)
  const timeField = fields.find((f) => f.name === field)
  if (timeField === undefined) {
    throw new DefinitionError(`${where}: eventTimeField ${describeGivenValue(field)} — no such field in Avro record ${schema.name}.${(typeof field === 'string' ? didYouMean(field, names) : '')} Fields: ${names.join(', ')}`)
  }
  if (!timeField.isEpochMillis) {
    throw new DefinitionError(`${where}: eventTimeField '${timeField.name}' must be a long of epoch milliseconds (optionally with logicalType 'timestamp-millis')`)
  }
  return timeField.name
}

export function sourceSettings(options: SourceSettingsOptions, where: string): Pick<SourceDef, 'partitions' | 'outOfOrdernessMs' | 'allowedLatenessMs' | 'idleTimeoutMs' | 'maxFutureSkewMs' | 'description'> {
  const partitions = options.partitions ?? SOURCE_DEFAULTS.partitions
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) {
    throw new DefinitionError(`${where}: partitions must be a whole number from 1 to 10000, got ${describeGivenValue(partitions)}`)
  }
  return {
    partitions,
    outOfOrdernessMs: checkDuration(options.outOfOrderness ?? SOURCE_DEFAULTS.outOfOrderness, where, 'outOfOrderness'),
    allowedLatenessMs: checkDuration(options.allowedLateness ?? SOURCE_DEFAULTS.allowedLateness, where, 'allowedLateness'),
    idleTimeoutMs: checkDuration(options.idleTimeout ?? SOURCE_DEFAULTS.idleTimeout, where, 'idleTimeout', { positive: true }),
    maxFutureSkewMs: checkDuration(options.maxFutureSkew ?? SOURCE_DEFAULTS.maxFutureSkew, where, 'maxFutureSkew'),
    description: checkText(options.description, where, 'description'),
  }
}
