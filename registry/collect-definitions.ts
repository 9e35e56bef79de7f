/**
 * Finds the definitions a user module exports: top-level exports, and definitions nested in
 * exported arrays and plain objects (so `export const views = [a, b]` works). Entities and
 * sources reached through a view count even when not exported themselves.
 */
import { DefinitionError } from '../core/errors.ts'
import { isDefinition } from '../features/index.ts'
import type { Definition, EntityDef, FeatureServiceDef, FeatureViewDef, RequestFeatureDef, SourceDef } from '../features/types.ts'
import { canonicalJson } from './canonical-json.ts'
import { describeEntity, describeService, describeSource, requestFeatureLogic, viewLogic, viewMetadata } from './describe.ts'

export interface DefinitionSet {
  readonly entities: readonly EntityDef[]
  readonly sources: readonly SourceDef[]
  /** Sorted by name, then version. */
  readonly views: readonly FeatureViewDef[]
  readonly services: readonly FeatureServiceDef[]
  readonly requestFeatures: readonly RequestFeatureDef[]
}

function isPlainContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (Array.isArray(value)) return true
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value) as unknown
  // Module namespace objects have a null prototype; so do objects made with Object.create(null).
  return proto === Object.prototype || proto === null
}

function identity(def: Definition): string {
  return def.kind === 'featureView' ? `view ${def.name} v${def.version}` : `${def.kind === 'featureService' ? 'feature service' : def.kind === 'requestFeature' ? 'request feature' : def.kind} ${def.name}`
}

function fingerprint(def: Definition): string {
  switch (def.kind) {
    case 'entity':
      return canonicalJson(describeEntity(def))
    case 'source':
      return canonicalJson(describeSource(def))
    case 'featureView':
      return canonicalJson([viewLogic(def), viewMetadata(def)])
    case 'featureService':
      return canonicalJson(describeService(def))
    case 'requestFeature':
      return canonicalJson([requestFeatureLogic(def), def.description])
  }
}

export function collectDefinitions(exported: unknown): DefinitionSet {
  const found = new Map<string, Definition>()
  const visited = new Set<unknown>()
  const add = (def: Definition): void => {
    const id = identity(def)
    const prior = found.get(id)
    if (prior === undefined) {
      found.set(id, def)
    } else if (prior !== def && fingerprint(prior) !== fingerprint(def)) {
      throw new DefinitionError(`${id} is defined twice with different contents; give one a different name${def.kind === 'featureView' ? ' or version' : ''}`)
    }
    if (def.kind === 'featureView') {
      add(def.entity)
      add(def.source)
    }
  }
  const walk = (value: unknown): void => {
    if (visited.has(value)) return
    if (isDefinition(value)) {
      visited.add(value)
      add(value as Definition)
    } else if (isPlainContainer(value)) {
      visited.add(value)
      for (const v of Array.isArray(value) ? value : Object.values(value)) walk(v)
    }
  }
  walk(exported)
  const all = [...found.values()]
  const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  return {
    entities: all.filter((d): d is EntityDef => d.kind === 'entity').sort(byName),
    sources: all.filter((d): d is SourceDef => d.kind === 'source').sort(byName),
    views: all.filter((d): d is FeatureViewDef => d.kind === 'featureView').sort((a, b) => byName(a, b) || a.version - b.version),
    services: all.filter((d): d is FeatureServiceDef => d.kind === 'featureService').sort(byName),
    requestFeatures: all.filter((d): d is RequestFeatureDef => d.kind === 'requestFeature').sort(byName),
  }
}

export function definitionCount(set: DefinitionSet): number {
  return set.entities.length + set.sources.length + set.views.length + set.services.length + set.requestFeatures.length
}
