/**
 * Compares definitions with what the registry holds (pure). `apply` writes what this plan says
 * and refuses when any published view version would change; `diff` prints it.
 */
import type { DefinitionSet } from './collect-definitions.ts'
import { describeEntity, describeService, describeSource, requestFeatureLogic, viewLogic, viewMetadata, type ViewLogic, type ViewMetadata } from './describe.ts'
import { diffValues, diffViewLogic } from './diff-values.ts'
import { hashLogic } from './hash.ts'
import type { RegistrySnapshot } from './records.ts'

export type ViewChange = 'added' | 'unchanged' | 'metadata-changed' | 'changed'

export interface ViewPlan {
  readonly name: string
  readonly version: number
  readonly change: ViewChange
  readonly hash: string
  /** The published hash, when this version was published before. */
  readonly storedHash: string | undefined
  /** What changed in the logic (only for `changed`). */
  readonly logicChanges: readonly string[]
  readonly metadataChanges: readonly string[]
  /** For `changed`: the version to publish the new logic as. */
  readonly nextVersion: number | undefined
  readonly logic: ViewLogic
  readonly metadata: ViewMetadata
}

export type ItemChange = 'added' | 'unchanged' | 'changed'

export interface ItemPlan {
  readonly name: string
  readonly change: ItemChange
  readonly changes: readonly string[]
}

export interface RegistryPlan {
  readonly views: readonly ViewPlan[]
  /** Published view versions the definitions no longer contain (kept: published versions are never deleted). */
  readonly notInDefinitions: readonly { readonly name: string; readonly version: number }[]
  readonly entities: readonly ItemPlan[]
  readonly sources: readonly ItemPlan[]
  readonly services: readonly ItemPlan[]
  readonly requestFeatures: readonly ItemPlan[]
}

function planItems<T extends { name: string }>(defs: readonly T[], stored: readonly { name: string }[], describe: (d: T) => object, strip: readonly string[]): ItemPlan[] {
  const byName = new Map(stored.map((s) => [s.name, s as Record<string, unknown>]))
  return defs.map((d) => {
    const before = byName.get(d.name)
    const after = describe(d) as Record<string, unknown>
    if (before === undefined) return { name: d.name, change: 'added', changes: [] }
    const trimmed = Object.fromEntries(Object.entries(before).filter(([k]) => !strip.includes(k)))
    const changes = diffValues(trimmed, after)
    return { name: d.name, change: changes.length === 0 ? 'unchanged' : 'changed', changes }
  })
}

export function planRegistry(set: DefinitionSet, snapshot: RegistrySnapshot): RegistryPlan {
  const stored = new Map(snapshot.views.map((v) => [`${v.name}@${v.version}`, v]))
  const maxVersion = new Map<string, number>()
  for (const v of [...snapshot.views, ...set.views]) maxVersion.set(v.name, Math.max(maxVersion.get(v.name) ?? 0, v.version))
  const views = set.views.map((def): ViewPlan => {
    const logic = viewLogic(def)
    const metadata = viewMetadata(def)
    const hash = hashLogic(logic)
    const prior = stored.get(`${def.name}@${def.version}`)
    if (prior === undefined) {
      return { name: def.name, version: def.version, change: 'added', hash, storedHash: undefined, logicChanges: [], metadataChanges: [], nextVersion: undefined, logic, metadata }
    }
    const metadataChanges = diffValues(prior.metadata, metadata)
    // The engine writes no offline rows while offline is false, and backfills once per version:
    // turned on in place, the table would start now and training sets read nulls before.
    const offlineTurnedOn = !prior.metadata.offline && metadata.offline
    if (prior.hash !== hash || offlineTurnedOn) {
      return {
        name: def.name,
        version: def.version,
        change: 'changed',
        hash,
        storedHash: prior.hash,
        logicChanges: [
          ...diffViewLogic(prior.logic, logic),
          ...(offlineTurnedOn
            ? ['offline: false → true (its offline table has no rows from before: a new version is backfilled from the archive)']
            : []),
        ],
        metadataChanges,
        nextVersion: (maxVersion.get(def.name) ?? def.version) + 1,
        logic,
        metadata,
      }
    }
    return {
      name: def.name,
      version: def.version,
      change: metadataChanges.length === 0 ? 'unchanged' : 'metadata-changed',
      hash,
      storedHash: prior.hash,
      logicChanges: [],
      metadataChanges,
      nextVersion: undefined,
      logic,
      metadata,
    }
  })
  const defined = new Set(set.views.map((v) => `${v.name}@${v.version}`))
  const updatedAt = ['updatedAtMs']
  return {
    views,
    notInDefinitions: snapshot.views.filter((v) => !defined.has(`${v.name}@${v.version}`)).map((v) => ({ name: v.name, version: v.version })),
    entities: planItems(set.entities, snapshot.entities, describeEntity, updatedAt),
    sources: planItems(set.sources, snapshot.sources, describeSource, updatedAt),
    services: planItems(set.services, snapshot.services, describeService, updatedAt),
    requestFeatures: planItems(
      set.requestFeatures,
      snapshot.requestFeatures.map((r) => ({ ...r.logic, description: r.description })),
      (r) => ({ ...requestFeatureLogic(r), description: r.description }),
      [],
    ),
  }
}

/** True when applying the plan would write nothing. */
export function isPlanEmpty(plan: RegistryPlan): boolean {
  return (
    plan.views.every((v) => v.change === 'unchanged') &&
    [plan.entities, plan.sources, plan.services, plan.requestFeatures].every((items) => items.every((i) => i.change === 'unchanged'))
  )
}

