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

/**
 * What the registry holds that definitions being applied must stay consistent with, though they
 * need not contain it: services and request features (their feature refs without a version follow
 * the latest version of the view, so a new version that drops or renames a feature breaks them),
 * and sources (one topic, one source).
 */
export interface PublishedDefinitions {
  readonly sources: readonly { readonly name: string; readonly topic: string }[]
  readonly services: readonly { readonly name: string; readonly features: readonly string[] }[]
  readonly requestFeatures: readonly { readonly name: string; readonly features: readonly string[] }[]
}

export function validateDefinitions(
  set: DefinitionSet,
  known: KnownDefinitions = NO_KNOWN_DEFINITIONS,
  published?: PublishedDefinitions,
): void {
  const problems: string[] = []
  const defined = set.views.map((d) => ({ name: d.name, version: d.version, features: d.features.map((f) => f.name) }))
  let views = featuresByView([...known.views, ...defined])
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
    // A change source is keyed by its row's primary key: the columns of the row, not of the envelope (docs/design.md §11).
    const record = s.changes?.rowSchema ?? s.schema
    const fields = record.fields.map((f) => (f as { name: string }).name)
    const missing = keyEntity?.joinKeys.filter((k) => !fields.includes(k)) ?? []
    if (missing.length > 0) {
      problems.push(`source ${s.name}: keyedBy entity ${s.keyedBy} has join key(s) ${missing.join(', ')} missing from Avro record ${record.name}. Fields: ${fields.join(', ')}`)
    } else if (s.changes !== undefined && keyEntity !== undefined && keyEntity.joinKeys.join('\u0000') !== s.changes.primaryKey.join('\u0000')) {
      problems.push(`source ${s.name}: keyedBy entity ${s.keyedBy} has join keys ${keyEntity.joinKeys.join(', ')}, but the source's primary key is ${s.changes.primaryKey.join(', ')}; two entities named ${s.keyedBy}?`)
    }
  }
  // One topic has one schema and one meaning: a second source on it would decode or key its records differently.
  const byTopic = new Map<string, string>()
  for (const s of set.sources) {
    const other = byTopic.get(s.topic)
    if (other === undefined) byTopic.set(s.topic, s.name)
    else problems.push(`sources ${other} and ${s.name} both read topic ${s.topic}; declare one source per topic and use it in every view`)
  }
  for (const p of published?.sources ?? []) {
    const other = byTopic.get(p.topic)
    if (other !== undefined && other !== p.name && !set.sources.some((s) => s.name === p.name))
      problems.push(
        `source ${other} reads topic ${p.topic}, which published source ${p.name} reads; use source ${p.name} (import it from its module) or another topic`,
      )
  }
  for (const r of set.requestFeatures) for (const ref of r.features) checkRef(ref, `request feature ${r.name}`)
  const requestNames = new Set([...known.requestFeatures, ...set.requestFeatures.map((r) => r.name)])
  for (const s of set.services) {
    for (const ref of s.features) checkRef(ref, `feature service ${s.name}`)
    for (const r of s.requestFeatures) {
      if (!requestNames.has(r)) problems.push(`feature service ${s.name}: request feature '${r}' is not defined. Request features: ${[...requestNames].sort().join(', ') || '(none)'}`)
    }
  }
  const before = problems.length
  // A published version keeps its features whatever the definitions say (a changed one is refused as such).
  views = featuresByView([...defined, ...known.views])
  // What these definitions redefine is checked above, as they define it.
  const redefined = (list: readonly { name: string }[], name: string): boolean => list.some((d) => d.name === name)
  for (const r of published?.requestFeatures ?? [])
    if (!redefined(set.requestFeatures, r.name))
      for (const ref of r.features) checkRef(ref, `published request feature ${r.name}`)
  for (const s of published?.services ?? [])
    if (!redefined(set.services, s.name)) for (const ref of s.features) checkRef(ref, `published feature service ${s.name}`)
  if (problems.length > before) {
    problems[problems.length - 1] +=
      '\n    (a reference without @version reads the latest version of its view: keep the feature in the new version, or pin the version it reads, e.g. view@1:feature, in the service or request feature and apply it too)'
  }
  if (problems.length === 1) throw new DefinitionError(problems[0] as string)
  if (problems.length > 1) throw new DefinitionError(`${problems.length} problems in the definitions:\n  - ${problems.join('\n  - ')}`)
}

/** view name → version → feature names; a later entry for the same version wins. */
function featuresByView(list: readonly KnownDefinitions['views'][number][]): Map<string, Map<number, readonly string[]>> {
  const views = new Map<string, Map<number, readonly string[]>>()
  for (const v of list) {
    const versions = views.get(v.name) ?? new Map<number, readonly string[]>()
    versions.set(v.version, v.features)
    views.set(v.name, versions)
  }
  return views
}
