/** Row-value equality for the "same as_of and values → not emitted" rule (NaN equals NaN). */
import type { FeatureValue } from '../../features/types.ts'

export function featureValueEqual(a: FeatureValue, b: FeatureValue): boolean {
  if (a === b) return true
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b)
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!featureValueEqual(a[i] as FeatureValue, b[i] as FeatureValue)) return false
    return true
  }
  return false
}

export function rowValuesEqual(a: readonly FeatureValue[], b: readonly FeatureValue[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!featureValueEqual(a[i] as FeatureValue, b[i] as FeatureValue)) return false
  return true
}
