/**
 * What the registry stores, as JSON objects under `registry/` in the ObjectStore:
 *
 *   registry/entities/<name>.json
 *   registry/sources/<name>.json
 *   registry/views/<name>/v<version>.json            StoredView (created once, metadata updated in place)
 *   registry/views/<name>/v<version>.backfill.json   BackfillStatus (written by replay; a separate
 *                                                    object so it never races metadata updates)
 *   registry/services/<name>.json
 *   registry/request-features/<name>.json
 */
import type { TopicPartitionOffset } from '../ports/event-log.ts'
import type { EntityRecord, RequestFeatureLogic, ServiceRecord, SourceRecord, ViewLogic, ViewMetadata } from './describe.ts'

export const REGISTRY_PREFIX = 'registry/'

export const registryKeys = {
  entity: (name: string) => `registry/entities/${name}.json`,
  source: (name: string) => `registry/sources/${name}.json`,
  view: (name: string, version: number) => `registry/views/${name}/v${version}.json`,
  backfill: (name: string, version: number) => `registry/views/${name}/v${version}.backfill.json`,
  service: (name: string) => `registry/services/${name}.json`,
  requestFeature: (name: string) => `registry/request-features/${name}.json`,
}

/** Parses `registry/views/<name>/v<version>.json`; undefined for any other key. */
export function parseViewKey(key: string): { name: string; version: number } | undefined {
  const m = /^registry\/views\/([a-z][a-z0-9_]*)\/v([1-9][0-9]*)\.json$/.exec(key)
  return m === null ? undefined : { name: m[1] as string, version: Number(m[2]) }
}

export interface StoredView {
  readonly name: string
  readonly version: number
  /** sha256 hex of the canonical JSON of `logic`. */
  readonly hash: string
  readonly publishedAtMs: number
  readonly metadataUpdatedAtMs: number
  readonly logic: ViewLogic
  readonly metadata: ViewMetadata
}

export type BackfillState = 'pending' | 'running' | 'complete'

export interface BackfillStatus {
  readonly state: BackfillState
  /** Archive offsets (next offset to read, per source partition) the offline table is complete through. */
  readonly completeThrough: readonly TopicPartitionOffset[]
  readonly updatedAtMs: number
  /** Free text for operators, e.g. the archive snapshot id the backfill read. */
  readonly detail?: string
}

export interface StoredRequestFeature {
  readonly name: string
  readonly hash: string
  readonly updatedAtMs: number
  readonly logic: RequestFeatureLogic
  readonly description: string
}

export interface StoredService extends ServiceRecord {
  readonly updatedAtMs: number
}

export interface StoredSource extends SourceRecord {
  readonly updatedAtMs: number
}

export interface StoredEntity extends EntityRecord {
  readonly updatedAtMs: number
}

/** Everything the registry holds, as read in one pass. */
export interface RegistrySnapshot {
  readonly entities: readonly StoredEntity[]
  readonly sources: readonly StoredSource[]
  /** Sorted by name, then version; each with its backfill status. */
  readonly views: readonly (StoredView & { readonly backfill: BackfillStatus | undefined })[]
  readonly services: readonly StoredService[]
  readonly requestFeatures: readonly StoredRequestFeature[]
}
