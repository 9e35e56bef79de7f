/**
 * The features of a view over a table or changelog source (docs/design.md §11), in one of two modes:
 * - `attributes`: columns of the key's current row, keyed by the source's primary-key entity; each
 *   feature has op `attribute` (not an aggregation: the row's value, replaced by every change);
 * - `current_state`: lifetime count/sum/avg over the rows currently in each group. A change retracts
 *   the old row's contribution, so only invertible ops are allowed, and there are no windows: a
 *   group's value covers the rows in it now, not the rows of a time range.
 * Fields are the columns of the (mapped) ROW record, since filter and map see row images.
 */
import { describeGivenValue } from './validate.ts'
import { DefinitionError } from '../core/errors.ts'
import { aggregationContract } from '../operators/aggregators/catalog.ts'
import { expandAggregations, type AggregationOptions } from './aggregations.ts'
import { didYouMean, type AvroField } from './avro-fields.ts'
import type { ChangeViewMode, EntityDef, FeatureDef, SourceDef } from './types.ts'

/** The op of an attribute feature: the column's value in the key's current row. */
export const ATTRIBUTE_OP = 'attribute'

/** Aggregations a change can retract from: its old row's contribution is subtracted exactly. */
export const INVERTIBLE_OPS: readonly string[] = ['count', 'sum', 'avg']

export interface ChangeViewInput {
  readonly view: string
  readonly entity: EntityDef
  readonly source: SourceDef
  readonly attributes: readonly string[] | undefined
  readonly aggregations: readonly AggregationOptions[] | undefined
  /** The (mapped) row's fields, and how to name them in messages. */
  readonly fields: readonly AvroField[]
  readonly fieldsWhere: string
}

export function changeViewFeatures(input: ChangeViewInput): { features: FeatureDef[]; changeMode: ChangeViewMode } {
  const { view, source, attributes, aggregations } = input
  const where = `view ${view}`
  const what = `${source.changes?.kind ?? 'event'} source ${source.name}`
  if (attributes !== undefined && aggregations !== undefined) {
    throw new DefinitionError(`${where}: give either attributes (columns of the key's current row) or aggregations (count, sum, avg over current state) over ${what}, not both`)
  }
  if (attributes !== undefined) return { features: attributeFeatures(input, where, what), changeMode: 'attributes' }
  if (aggregations === undefined) {
    throw new DefinitionError(`${where}: a view over ${what} needs attributes: ['column', …] (columns of the key's current row) or aggregations (count, sum, avg over current state)`)
  }
  return { features: currentStateFeatures(input, aggregations, where, what), changeMode: 'current_state' }
}

function attributeFeatures(input: ChangeViewInput, where: string, what: string): FeatureDef[] {
  const { entity, source, attributes, fields, fieldsWhere } = input
  const primaryKey = source.changes?.primaryKey ?? []
  if (entity.name !== source.keyedBy || entity.joinKeys.join('\u0000') !== primaryKey.join('\u0000')) {
    throw new DefinitionError(
      `${where}: an attribute view over ${what} is keyed by its primary-key entity ${source.keyedBy} (${primaryKey.join(', ')}), not entity ${entity.name} (${entity.joinKeys.join(', ')}). To group rows by ${entity.name}, use aggregations (count, sum, avg over current state) instead of attributes`,
    )
  }
  if (!Array.isArray(attributes) || attributes.length === 0) {
    throw new DefinitionError(`${where}: attributes must list at least one column of the row, e.g. attributes: ['status']`)
  }
  const names = fields.map((f) => f.name)
  const seen = new Set<string>()
  return attributes.map((column: unknown) => {
    const field = fields.find((f) => f.name === column)
    if (field === undefined) {
      throw new DefinitionError(`${where}: attribute ${describeGivenValue(column)} — no such column in ${fieldsWhere}.${(typeof column === 'string' ? didYouMean(column, names) : '')} Fields: ${names.join(', ')}`)
    }
    const name = field.name
    if (seen.has(name)) throw new DefinitionError(`${where}: attribute '${name}' is listed twice`)
    seen.add(name)
    if (primaryKey.includes(name)) throw new DefinitionError(`${where}: attribute '${name}' is a primary-key column; every row carries the key already, list only other columns`)
    if (field.kind === 'boolean') {
      throw new DefinitionError(`${where}: attribute '${name}' is a boolean; features are long, double or string, so map it to a long (map: (r) => ({ ...r, ${name}: r.${name} ? 1 : 0 }), mapFields: { ${name}: 'long' })`)
    }
    if (field.kind === 'other') throw new DefinitionError(`${where}: attribute '${name}' is not a scalar column; attributes are int, long, float, double, string or enum columns`)
    const aggregation = Object.freeze({ name, op: ATTRIBUTE_OP, field: name, windowMs: null, hopMs: 0, n: undefined, quantile: undefined })
    return Object.freeze({ name, type: field.kind, aggregation })
  })
}

function currentStateFeatures(input: ChangeViewInput, aggregations: readonly AggregationOptions[], where: string, what: string): FeatureDef[] {
  for (const spec of Array.isArray(aggregations) ? aggregations : []) {
    const op: unknown = spec?.op
    // An unknown op is left to expandAggregations, which lists the catalog.
    if (typeof op !== 'string' || aggregationContract(op) === undefined) continue
    if (!INVERTIBLE_OPS.includes(op)) {
      throw new DefinitionError(`${where}: ${op} over ${what} is not invertible: a change retracts the old row's contribution, and only count, sum and avg can (docs/design.md §11)`)
    }
    const windows = spec.windows
    const lifetime = windows === undefined || windows === null || (Array.isArray(windows) && windows.length === 1 && windows[0] === 'lifetime')
    if (!lifetime || spec.hop !== undefined) {
      throw new DefinitionError(
        `${where}: aggregation ${op}${spec.field === undefined ? '' : ` on field '${spec.field}'`} — current-state aggregations over ${what} have no windows: a group's value covers the rows in it now. Remove windows${spec.hop === undefined ? '' : ' and hop'} (or write windows: ['lifetime'])`,
      )
    }
  }
  return expandAggregations(input.view, aggregations, input.fields, input.fieldsWhere)
}
