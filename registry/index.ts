/**
 * The feature registry: loads definition modules, validates cross-references, hashes view logic,
 * and keeps published versions, metadata, backfill status and lineage in an ObjectStore.
 * Depends on core/, features/ and the ObjectStore port only.
 */
export { createRegistry, type Registry } from './registry.ts'
export { APPLY_LOCK_KEY, objectStoreApplyLock, type ApplyLock, type ApplyLockOptions, type LockOwner } from './apply-lock.ts'
export { definitionModuleProblem, loadDefinitions, resolveDefinitionModule } from './load-definitions.ts'
export { collectDefinitions, definitionCount, type DefinitionSet } from './collect-definitions.ts'
export { validateDefinitions, NO_KNOWN_DEFINITIONS, type KnownDefinitions } from './validate-definitions.ts'
export { viewHash, requestFeatureHash, shortHash } from './hash.ts'
export { featureOpText, sourceKindText, viewLogic, viewMetadata, type ChangesLogic, type ViewLogic, type ViewMetadata, type FeatureLogic } from './describe.ts'
export { planRegistry, isPlanEmpty, type RegistryPlan, type ViewPlan, type ItemPlan } from './plan.ts'
export { buildLineage, focusLineage, viewNodeId, type Lineage, type LineageNode, type LineageEdge } from './lineage.ts'
export { DefinitionChangedError } from './errors.ts'
export type { StoredView, BackfillState, BackfillStatus, RegistrySnapshot, StoredService, StoredRequestFeature, StoredSource, StoredEntity } from './records.ts'
