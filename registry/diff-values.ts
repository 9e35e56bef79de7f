/**
 * Human-readable differences between two stored descriptions: one line per changed leaf,
 * `path: old → new`. Features are matched by name, so inserting one does not shift the rest.
 */
import { windowLabel } from '../features/aggregations.ts'
import { canonicalJson } from './canonical-json.ts'
import type { FeatureLogic, ViewLogic } from './describe.ts'
import { isJsonObject } from '../core/json-object.ts'

function show(value: unknown): string {
  if (value === undefined) return '(absent)'
  const text = typeof value === 'string' ? JSON.stringify(value) : canonicalJson(value)
  return text.length > 80 ? `${text.slice(0, 77)}…` : text
}

export function diffValues(before: unknown, after: unknown, path = ''): string[] {
  if (isJsonObject(before) && isJsonObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((k) => diffValues(before[k], after[k], path === '' ? k : `${path}.${k}`))
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((v, i) => diffValues(v, after[i], `${path}[${i}]`))
  }
  if (before !== undefined && after !== undefined && canonicalJson(before) === canonicalJson(after)) return []
  return [`${path || '(value)'}: ${show(before)} → ${show(after)}`]
}

export function diffViewLogic(before: ViewLogic, after: ViewLogic): string[] {
  const { features: beforeFeatures, ...beforeRest } = before
  const { features: afterFeatures, ...afterRest } = after
  const lines = diffValues(beforeRest, afterRest)
  const old = new Map(beforeFeatures.map((f) => [f.name, f]))
  const neu = new Map(afterFeatures.map((f) => [f.name, f]))
  const describeFeature = (f: FeatureLogic): string =>
    `${f.op}${f.field === null ? '' : `(${f.field})`} ${f.windowMs === null ? 'lifetime' : `window ${windowLabel(f.windowMs)} hop ${windowLabel(f.hopMs)}`} → ${f.type}`
  for (const [name, f] of old) {
    const g = neu.get(name)
    if (g === undefined) lines.push(`feature ${name} removed (${describeFeature(f)})`)
    else lines.push(...diffValues(f, g, `feature ${name}`))
  }
  for (const [name, g] of neu) if (!old.has(name)) lines.push(`feature ${name} added (${describeFeature(g)})`)
  const beforeOrder = beforeFeatures.map((f) => f.name).filter((n) => neu.has(n))
  const afterOrder = afterFeatures.map((f) => f.name).filter((n) => old.has(n))
  // Row values follow feature order, so reordering alone changes the stored rows' layout.
  if (lines.length === 0 && beforeOrder.join() !== afterOrder.join()) lines.push(`feature order: ${beforeOrder.join(', ')} → ${afterOrder.join(', ')}`)
  return lines
}
