import { describeGivenValue } from './validate.ts'
import { DefinitionError } from '../core/errors.ts'
import type { FeatureRef } from './types.ts'

export interface ParsedFeatureRef {
  readonly view: string
  /** Pinned version (`view@2:feature`); undefined means the latest published version. */
  readonly version: number | undefined
  readonly feature: string
}

/**
 * The view part is a view name (lower case, features/validate.ts). The feature part takes every
 * name a view can give a feature: an aggregation's default name starts with its Avro field's name
 * (`amountUsd_sum_1h`, `_raw_count_1d`), and Avro names may hold capitals and start with `_`; a
 * lower-case-only feature part left such features unreachable by any service, request feature or
 * training set.
 */
const REF = /^([a-z][a-z0-9_]*)(?:@([1-9][0-9]*))?:([A-Za-z_][A-Za-z0-9_]*)$/

/** Parses `view:feature` or `view@version:feature`. */
export function parseFeatureRef(ref: string, where = 'feature reference'): ParsedFeatureRef {
  const m = typeof ref === 'string' ? REF.exec(ref) : null
  if (m === null) {
    throw new DefinitionError(`${where}: ${describeGivenValue(ref)} is not a feature reference; write 'view:feature' (e.g. 'user_clicks:count_1h') or 'view@2:feature' to pin a version`)
  }
  return { view: m[1] as string, version: m[2] === undefined ? undefined : Number(m[2]), feature: m[3] as string }
}

export function formatFeatureRef(ref: ParsedFeatureRef): FeatureRef {
  return `${ref.view}${ref.version === undefined ? '' : `@${ref.version}`}:${ref.feature}`
}

/**
 * Why a feature list (serving's batch `features`, a training set's) that asks for one feature
 * twice is refused: `earlier` and `ref` resolve to the same `what` (`feature x of v v2`,
 * `request feature r`). One output per feature, so the answer has the columns the list asked for.
 */
export function duplicateFeatureMessage(earlier: string, ref: string, what: string): string {
  return earlier === ref
    ? `${ref} is listed twice; list each feature once`
    : `${earlier} and ${ref} are both ${what}; list it once`
}
