/**
 * Cross-reference checks that no single builder can make: services and request features name
 * features that exist, sources are keyed by known entities. All problems are reported at once.
 */
import { DefinitionError } from '../core/errors.ts'
import { parseFeatureRef } from '../features/feature-ref.ts'
import type { DefinitionSet } from './collect-definitions.ts'

/** What the registry already holds, so definitions may reference views published earlier. */
export interface KnownDefinitions {
  readonly views: readonly { readonly name: string; readonly version: number; readonly features: readonly string[] }[]
  readonly requestFeatures: readonly string[]
  readonly entities: readonly string[]
}

export const NO_KNOWN_DEFINITIONS: KnownDefinitions = { views: [], requestFeatures: [], entities: [] }

export function validateDefinitions(set: DefinitionSet, known: KnownDefinitions = NO_KNOWN_DEFINITIONS): void {
  const problems: string[] = []
  const views = new Map<string, Map<number, readonly string[]>>()
  for (const v of [...known.views, ...set.views.map((d) => ({ name: d.name, version: d.version, features: d.features.map((f) => f.name) }))]) {
    const versions = views.get(v.name) ?? new Map<number, readonly string[]>()
    versions.set(v.version, v.features)
    views.set(v.name, versions)
  }
  const checkRef = (ref: string, where: string): void => {
    let parsed
    try {
      parsed = parseFeatureRef(ref, where)
    } catch (err: unknown) {
      problems.push((err as Error).message)
      return
    }
    const versions = views.get(parsed.view)
    if (versions === undefined) {
      problems.push(`${where}: '${ref}' — no view named ${parsed.view}. Views: ${[...views.keys()].sort().join(', ') || '(none)'}`)
      return
    }
    const version = parsed.version ?? Math.max(...versions.keys())
    const features = versions.get(version)
    if (features === undefined) {
      problems.push(`${where}: '${ref}' — view ${parsed.view} has no version ${version}. Versions: ${[...versions.keys()].sort((a, b) => a - b).join(', ')}`)
    } else if (!features.includes(parsed.feature)) {
      problems.push(`${where}: '${ref}' — view ${parsed.view} v${version} has no feature ${parsed.feature}. Features: ${features.join(', ')}`)
    }
  }
  const entityNames = new Set([...known.entities, ...set.entities.map((e) => e.name)])
  for (const s of set.sources) {
    if (s.keyedBy === undefined) continue
    if (!entityNames.has(s.keyedBy)) {
      problems.push(`source ${s.name}: keyedBy '${s.keyedBy}' — no entity with that name. Entities: ${[...entityNames].sort().join(', ') || '(none)'}`)
      continue
    }
    const keyEntity = set.entities.find((e) => e.name === s.keyedBy)
    // A change source's key is its row's primary key: the join keys are row columns (docs/design.md §11).
    const keyed = s.changes?.rowSchema ?? s.schema
    const fields = keyed.fields.map((f) => (f as { name: string }).name)
    const missing = keyEntity?.joinKeys.filter((k) => !fields.includes(k)) ?? []
    if (missing.length > 0) {
      problems.push(`source ${s.name}: keyedBy entity ${s.keyedBy} has join key(s) ${missing.join(', ')} missing from Avro record ${keyed.name}. Fields: ${fields.join(', ')}`)
    }
  }
  for (const r of set.requestFeatures) for (const ref of r.features) checkRef(ref, `request feature ${r.name}`)
  const requestNames = new Set([...known.requestFeatures, ...set.requestFeatures.map((r) => r.name)])
  for (const s of set.services) {
    for (const ref of s.features) checkRef(ref, `feature service ${s.name}`)
    for (const r of s.requestFeatures) {
      if (!requestNames.has(r)) problems.push(`feature service ${s.name}: request feature '${r}' is not defined. Request features: ${[...requestNames].sort().join(', ') || '(none)'}`)
    }
  }
  if (problems.length === 1) throw new DefinitionError(problems[0] as string)
  if (problems.length > 1) throw new DefinitionError(`${problems.length} problems in the definitions:\n  - ${problems.join('\n  - ')}`)
}
