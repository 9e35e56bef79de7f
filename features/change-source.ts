/**
 * What table and changelog sources share (docs/design.md §11). Their topic carries row changes in
 * the change envelope (change-envelope.ts), keyed by the row's primary key: the join keys of the
 * entity the source is keyed by. The SourceDef's `schema` is the envelope and its event time the
 * envelope's `ts_ms`, so the registry, decoder, archive and replay treat it like any source; what
 * makes it a change source is `changes`.
 */
import { DefinitionError } from '../core/errors.ts'
import { recordFields, type AvroField } from './avro-fields.ts'
import { CHANGE_TIME_FIELD, changeEnvelopeSchema } from './change-envelope.ts'
import { checkKeyedBy, checkTopic, sourceSettings, type SourceSettingsOptions } from './source.ts'
import type { AvroRecordSchema, ChangeSourceSpec, EntityDef, SourceDef } from './types.ts'
import { brand, checkName } from './validate.ts'

export interface ChangeSourceOptions extends SourceSettingsOptions {
  readonly name: string
  readonly topic: string
  /** The Avro record of one ROW of the table: each change's `before` and `after` image has it. */
  readonly schema: AvroRecordSchema
  /** The entity whose join keys are the row's primary-key columns (the topic's message key). */
  readonly keyedBy: EntityDef
}

/** What each kind adds to the spec, decided from the row's checked fields. */
export type ChangeSpecExtras = Pick<ChangeSourceSpec, 'rowTimeField' | 'location' | 'format' | 'unavailableValue'>

export function changeSource(kind: ChangeSourceSpec['kind'], options: ChangeSourceOptions, extras: (row: readonly AvroField[], where: string) => ChangeSpecExtras): SourceDef {
  const name = checkName(options?.name, `${kind} source`)
  const where = `${kind} source ${name}`
  const topic = checkTopic(options.topic, where)
  const row = recordFields(options.schema, where)
  const keyedBy = options.keyedBy as unknown
  // The primary key must be known column by column to key, compare and retract rows: a name alone does not say it.
  if (typeof keyedBy !== 'object' || keyedBy === null || (keyedBy as EntityDef).kind !== 'entity') {
    throw new DefinitionError(`${where}: keyedBy must be the entity (from entity({...})) whose join keys are the row's primary-key columns`)
  }
  const entity = keyedBy as EntityDef
  checkKeyedBy(entity, row, options.schema, where)
  const rowSchema = structuredClone(options.schema)
  const changes: ChangeSourceSpec = Object.freeze({ kind, rowSchema, primaryKey: Object.freeze([...entity.joinKeys]), ...extras(row, where) })
  return brand({
    kind: 'source',
    name,
    topic,
    schema: changeEnvelopeSchema(rowSchema),
    eventTimeField: CHANGE_TIME_FIELD,
    keyedBy: entity.name,
    ...sourceSettings(options, where),
    changes,
  } satisfies SourceDef)
}
