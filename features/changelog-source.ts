import { describeGivenValue } from './validate.ts'
import { DefinitionError } from '../core/errors.ts'
import { changeSource, type ChangeSourceOptions } from './change-source.ts'
import type { ChangeSourceSpec, SourceDef } from './types.ts'

export interface ChangelogSourceOptions extends ChangeSourceOptions {
  /** How the CDC tool writes the envelope: registry-framed Avro (default) or Debezium JSON. */
  readonly format?: ChangeSourceSpec['format']
  /**
   * The connector's `unavailable.value.placeholder`: the value it writes for a column it did not
   * log (an unchanged TOASTed column). Default Debezium's, `__debezium_unavailable_value`.
   */
  readonly unavailableValue?: string
}

/**
 * Declares a topic of row changes of a keyed table, published by a CDC tool in Debezium's
 * envelope (docs/design.md §11): upserts and deletes, the commit time `ts_ms` as event time.
 *
 * @example
 * export const accounts = changelogSource({
 *   name: 'accounts', topic: 'pg.public.accounts', schema: accountRow, keyedBy: account, format: 'json',
 * })
 */
export function changelogSource(options: ChangelogSourceOptions): SourceDef {
  return changeSource('changelog', options, (_row, where) => {
    const format: unknown = options.format ?? 'avro'
    if (format !== 'avro' && format !== 'json') {
      throw new DefinitionError(`${where}: format ${describeGivenValue(format)} is not supported; use 'avro' (registry-framed Avro of the change envelope) or 'json' (Debezium JSON)`)
    }
    const placeholder: unknown = options.unavailableValue
    if (placeholder === undefined) return { format }
    if (typeof placeholder !== 'string' || placeholder.length === 0) {
      throw new DefinitionError(
        `${where}: unavailableValue must be a non-empty string (the connector's unavailable.value.placeholder), got ${describeGivenValue(placeholder)}`,
      )
    }
    return { format, unavailableValue: placeholder }
  })
}
