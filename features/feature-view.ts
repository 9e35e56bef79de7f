import type { Duration } from '../core/duration.ts'
import { DefinitionError } from '../core/errors.ts'
import { expandAggregations, type AggregationOptions } from './aggregations.ts'
import { changeViewFeatures } from './change-view.ts'
import { FEATURE_TABLE_ROW_COLUMNS } from './entity.ts'
import { didYouMean, recordFields, type AvroField } from './avro-fields.ts'
import type { Constants, EntityDef, EventRecord, FeatureViewDef, SourceDef } from './types.ts'
import { checkConstants, hasConstants } from './constants.ts'
import { checkSelfContained } from './closure/self-contained.ts'
import { brand, checkDuration, checkName, checkTags, checkText, describeGivenValue } from './validate.ts'
import { resolveValueLimits, type ValueLimitsOptions } from './limits.ts'

/** Avro-like types a `map` may give the fields it adds or overrides. */
export type MappedFieldType = 'int' | 'long' | 'float' | 'double' | 'string' | 'boolean'

export interface FeatureViewOptions<C extends Constants = Constants> {
  readonly name: string
  /** Positive integer; publish logic or schema changes as a new version (the registry refuses edits). */
  readonly version: number
  readonly entity: EntityDef
  readonly source: SourceDef
  /**
   * Values filter and map read, given to them as their second argument: JSON data, part of the
   * view's hash, so changing one is a new version (docs/semantics.md §27).
   */
  readonly constants?: C
  /**
   * Pure predicate over the decoded event. Its source text is hashed, so it may read nothing from
   * outside it but its parameters and pure globals (a module constant is refused: use `constants`).
   */
  readonly filter?: (event: EventRecord, constants: C) => boolean
  /** Pure projection of the decoded event; self-contained like `filter`. */
  readonly map?: (event: EventRecord, constants: C) => EventRecord
  /** Types of the fields `map` adds or overrides (the rest keep their Avro types). */
  readonly mapFields?: Readonly<Record<string, MappedFieldType>>
  /** Windowed aggregations of an event source; over a table or changelog source, lifetime count/sum/avg of the rows currently in each group. */
  readonly aggregations?: readonly AggregationOptions[]
  /** Only over a table or changelog source: row columns served as the key's current values (docs/design.md §11). */
  readonly attributes?: readonly string[]
  /** Max age of an online row (OUTSIDE_TTL beyond it) and the point-in-time lookback. */
  readonly ttl: Duration
  readonly owner: string
  readonly description: string
  readonly tags?: Readonly<Record<string, string>>
  /** How stale the freshest row may be before the view is reported as behind. */
  readonly freshnessSla: Duration
  readonly online?: boolean
  readonly offline?: boolean
  /**
   * Size limits of values: `maxStringBytes` (default 4096) bounds each string fed to
   * first/last/last_n/approx_distinct (larger → dead letter `oversize`); `maxRowBytes` (default
   * 256 KiB) bounds the worst possible row and is checked here, against the features.
   */
  readonly limits?: ValueLimitsOptions
}

function mappedFields(view: string, base: readonly AvroField[], mapFields: FeatureViewOptions['mapFields']): AvroField[] {
  if (mapFields === undefined) return [...base]
  const out = new Map(base.map((f) => [f.name, f]))
  for (const [name, type] of Object.entries(mapFields)) {
    const kind = type === 'int' || type === 'long' ? 'long' : type === 'float' || type === 'double' ? 'double' : type === 'string' ? 'string' : type === 'boolean' ? 'boolean' : undefined
    if (kind === undefined) throw new DefinitionError(`view ${view}: mapFields.${name} has type ${describeGivenValue(type)}; use int, long, float, double, string or boolean`)
    out.set(name, { name, kind, isEpochMillis: kind === 'long' })
  }
  return [...out.values()]
}

/**
 * Refuses a join key whose field can never hold one of the entity's keys — a boolean, or a number
 * for an entity of text keys (the default `keyType`): every record would be
 * dead-lettered `invalid_key` at run time. `mapped`: with a map, the fields it declares in
 * mapFields; a key field it does not declare may be rewritten by it, and is not judged here.
 * Kinds this reading does not know (`other`: enums, unions of several types…) are left to the run.
 */
function checkJoinKeyKinds(entity: EntityDef, fields: readonly AvroField[], mapped: FeatureViewOptions['mapFields'] | undefined, where: string, fieldsWhere: string): void {
  for (const key of entity.joinKeys) {
    if (mapped !== undefined && !Object.hasOwn(mapped, key)) continue
    const kind = fields.find((f) => f.name === key)?.kind
    // An int entity keys integral doubles too (a JSON-born record's numbers); text keys are strings only.
    const holds = kind === 'string' || kind === 'other' || (entity.keyType === 'int' && (kind === 'long' || kind === 'double'))
    if (kind !== undefined && !holds) {
      const wants = entity.keyType === 'int' ? 'an int, long or string field' : "a string field (or keyType: 'int' on the entity for integer keys)"
      throw new DefinitionError(`${where} join key '${key}' is a ${kind} in ${fieldsWhere}: its keys are ${entity.keyType === 'int' ? 'integers' : 'text'}, so every record would be dead-lettered invalid_key; use ${wants}`)
    }
  }
}

/**
 * Declares a versioned set of windowed aggregations of one entity over one source. Aggregations
 * are expanded into features named `<field>_<op>_<window>` (see aggregations.ts). Over a table or
 * changelog source the view lists either `attributes` (columns of the key's current row) or
 * lifetime count/sum/avg `aggregations` over current state (change-view.ts, docs/design.md §11).
 *
 * @example
 * export const userPurchases = featureView({
 *   name: 'user_purchases', version: 1, entity: user, source: purchases,
 *   aggregations: [{ op: 'sum', field: 'amount', windows: ['1h', '1d', '7d'] }],
 *   ttl: '7d', freshnessSla: '1m', owner: 'risk@example.com', description: 'Spend per user',
 *   tags: { team: 'risk' },
 * })
 */
export function featureView<C extends Constants = Constants>(options: FeatureViewOptions<C>): FeatureViewDef {
  const name = checkName(options?.name, 'view')
  const where = `view ${name}`
  if (!Number.isSafeInteger(options.version) || options.version < 1) {
    throw new DefinitionError(`${where}: version must be a positive integer (1, 2, …), got ${describeGivenValue(options.version)}`)
  }
  const { entity, source } = options
  if (entity?.kind !== 'entity') throw new DefinitionError(`${where}: entity must come from entity({...})`)
  if (source?.kind !== 'source') throw new DefinitionError(`${where}: source must come from source({...})`)
  if (options.filter !== undefined && typeof options.filter !== 'function') {
    throw new DefinitionError(`${where}: filter must be a function (event) => boolean, got ${typeof options.filter}`)
  }
  if (options.map !== undefined && typeof options.map !== 'function') {
    throw new DefinitionError(`${where}: map must be a function (event) => event, got ${typeof options.map}`)
  }
  // Their text is all the view's hash holds of them: refuse one that reads a value from elsewhere.
  for (const what of ['filter', 'map'] as const) {
    const fn = options[what]
    if (fn !== undefined) checkSelfContained(fn, { where, what, signature: '(event, constants) => … constants.<name> …' })
  }
  const constants = checkConstants(options.constants, where)
  if (hasConstants(constants) && options.filter === undefined && options.map === undefined) {
    throw new DefinitionError(`${where}: constants are what filter and map read, but there is neither; remove constants or add a filter or map`)
  }
  if (options.mapFields !== undefined && options.map === undefined) {
    throw new DefinitionError(`${where}: mapFields describes what map adds, but there is no map; remove mapFields or add map`)
  }
  // Over a change source, filter, map and the features see ROW images, not the envelope (docs/design.md §11).
  const changes = source.changes
  const record = changes === undefined ? source.schema : changes.rowSchema
  const fields = mappedFields(name, recordFields(record, `${where}: source ${source.name}`), options.mapFields)
  const fieldNames = fields.map((f) => f.name)
  const fieldsWhere = `${changes === undefined ? '' : `${changes.kind} `}source ${source.name} (${changes === undefined ? '' : 'row '}Avro record ${record.name}${options.mapFields ? ' + mapFields' : ''})`
  if (changes === undefined && options.attributes !== undefined) {
    throw new DefinitionError(`${where}: attributes are columns of a table's current row, but source ${source.name} is an event source; use aggregations, or declare the source with tableSource/changelogSource`)
  }
  // Before the join keys: an attribute view keyed by the wrong entity is better explained than a missing column.
  const change = changes === undefined ? undefined : changeViewFeatures({ view: name, entity, source, attributes: options.attributes, aggregations: options.aggregations, fields, fieldsWhere })
  for (const key of entity.joinKeys) {
    if (!fieldNames.includes(key)) {
      throw new DefinitionError(
        `${where}: entity ${entity.name} join key '${key}' — no such field in ${fieldsWhere}.${didYouMean(key, fieldNames)} Fields: ${fieldNames.join(', ')}`,
      )
    }
  }
  checkJoinKeyKinds(entity, fields, options.map !== undefined ? options.mapFields ?? {} : undefined, `${where}: entity ${entity.name}`, fieldsWhere)
  const features = change?.features ?? expandAggregations(name, options.aggregations as readonly AggregationOptions[], fields, fieldsWhere)
  // entity_key and seq are columns of the offline table only; an online-only view may use them.
  for (const bad of options.offline === false ? ['as_of', 'created_at'] : FEATURE_TABLE_ROW_COLUMNS) {
    if (features.some((f) => f.name === bad)) throw new DefinitionError(`${where}: feature name '${bad}' is reserved (row column); rename it with name: '…'`)
  }
  // The join keys are columns of the offline table too; engines that ignore case must tell them apart.
  for (const key of entity.joinKeys) {
    const clash = features.find((f) => f.name.toLowerCase() === key.toLowerCase())
    if (clash !== undefined) throw new DefinitionError(`${where}: feature name '${clash.name}' is reserved (join key ${key} of entity ${entity.name}, a row column); rename it with name: '…'`)
  }
  // An attribute view's offline table marks tombstones in a column of this name (docs/design.md §11).
  if (options.attributes !== undefined && features.some((f) => f.name === 'deleted')) {
    throw new DefinitionError(`${where}: attribute 'deleted' is reserved (the tombstone column of attribute views); rename the column with map and mapFields`)
  }
  const deletedKey = options.attributes === undefined ? undefined : entity.joinKeys.find((k) => k.toLowerCase() === 'deleted')
  if (deletedKey !== undefined) {
    throw new DefinitionError(`${where}: join key '${deletedKey}' of entity ${entity.name} is reserved in attribute views (their offline table's tombstone column is deleted); rename the key column with map and mapFields`)
  }
  for (const flag of ['online', 'offline'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') throw new DefinitionError(`${where}: ${flag} must be true or false`)
  }
  return brand({
    kind: 'featureView',
    name,
    version: options.version,
    entity,
    source,
    // The functions get exactly `constants` (checked copy) as C: the same members the caller declared.
    filter: options.filter as FeatureViewDef['filter'],
    map: options.map as FeatureViewDef['map'],
    // Absent when there are none, so the description and hash of a view without them stay as they were.
    ...(hasConstants(constants) ? { constants } : {}),
    features: Object.freeze(features),
    ttlMs: checkDuration(options.ttl, where, 'ttl', { positive: true }),
    owner: checkText(options.owner, where, 'owner', { required: true }),
    description: checkText(options.description, where, 'description', { required: true }),
    tags: checkTags(options.tags, where),
    freshnessSlaMs: checkDuration(options.freshnessSla, where, 'freshnessSla', { positive: true }),
    online: options.online ?? true,
    offline: options.offline ?? true,
    limits: resolveValueLimits(options.limits, features, entity.joinKeys.length, where),
    // Absent (not undefined) on event views, so their description and hash stay as they were.
    ...(change === undefined ? {} : { changeMode: change.changeMode }),
  } satisfies FeatureViewDef)
}
