/**
 * Orphan-file clean-up (Iceberg's remove_orphan_files, Spark's RemoveOrphanFiles): deletes the
 * objects under a table's location that its metadata no longer names — data files and manifests a
 * writer uploaded for a commit that failed or lost its race, files snapshot expiry could not
 * delete, a crashed compaction's output. They cost storage only; nothing reads them.
 *
 * What is named (referenced-files.ts): the current metadata file, every file of its metadata log,
 * the version hint, every snapshot's manifest list, every manifest those list, every file those
 * manifests name (entries of any status); plus every metadata version from the hinted one up (as
 * expiry keeps them) and `keep` (files a published checkpoint record names, which recovery commits
 * at the engine's next start: docs/semantics.md §11).
 *
 * Safety:
 * - Age: a file a commit in flight has just written is named by no metadata yet. Only objects
 *   last written more than `minAgeMs` before the run started go (default 3 days, as Iceberg's).
 * - A commit landing while this runs: the metadata is read again after the listing, and what
 *   either version names stays.
 * - A table whose metadata, a manifest list or a manifest cannot be found or read is refused before
 *   anything is deleted: the files it names would look like orphans. So is one naming a file under
 *   no location the table was recorded at (table-locations.ts): in a moved or copied data folder
 *   the names are mapped to this folder's files, never dropped.
 * - Nothing outside `<table path>/` is ever deleted (the listing asks for that prefix; each key is
 *   checked again before its delete).
 * `dryRun` reports the same orphans and deletes nothing.
 */
import { systemClock, type Clock } from '../../../core/clock.ts'
import type { ListedObject, ObjectStore } from '../../../ports/object-store.ts'
import { DEFAULT_ORPHAN_MIN_AGE_MS } from '../../../ports/offline-compaction.ts'
import { damagedTableError, loadTableOrNone } from './damaged-table.ts'
import { keyOfTableUri, metadataKey, readVersionHint } from './iceberg-table.ts'
import { referencedKeys } from './referenced-files.ts'

/** Deletes running at once: a table's first clean-up may remove many thousands of files. */
const DELETE_CONCURRENCY = 16

export interface OrphanRemovalOptions {
  readonly minAgeMs?: number
  readonly dryRun?: boolean
  readonly clock?: Pick<Clock, 'nowMs'>
  /** Further URIs to keep (a published checkpoint record's staged data files). */
  readonly keep?: ReadonlySet<string>
}

export interface OrphanRemovalResult {
  /** Orphans old enough to delete (in a dry run: that would be deleted), in key order. */
  readonly orphans: readonly ListedObject[]
  readonly deletedFiles: number
  readonly deletedBytes: number
  /** Objects no metadata names, kept because they are younger than the minimum age. */
  readonly keptTooYoung: number
  /** Deletes that failed: still orphans; the next run tries again. */
  readonly failedDeletes: number
  readonly dryRun: boolean
}

const NOTHING: OrphanRemovalResult = {
  orphans: [],
  deletedFiles: 0,
  deletedBytes: 0,
  keptTooYoung: 0,
  failedDeletes: 0,
  dryRun: false,
}

/** Removes the orphan files of the table at `path`; no table there is nothing to remove. */
export async function removeOrphanFiles(
  store: ObjectStore,
  path: string,
  options: OrphanRemovalOptions = {},
): Promise<OrphanRemovalResult> {
  const dryRun = options.dryRun ?? false
  const cutoffMs = (options.clock ?? systemClock).nowMs() - (options.minAgeMs ?? DEFAULT_ORPHAN_MIN_AGE_MS)
  const prefix = `${path}/`
  const before = await loadTableOrNone(store, path)
  if (before === undefined) return { ...NOTHING, dryRun }
  const named = new Set<string>()
  const expanded = new Set<string>()
  await referencedKeys(before, named, expanded)
  const listed = await store.listWithTimes(prefix)
  // Read again after the listing: a commit that landed meanwhile names files the listing holds.
  const after = await loadTableOrNone(store, path)
  if (after === undefined) throw damagedTableError(path)
  await referencedKeys(after, named, expanded)
  // The versions from the hinted one up stay, as snapshot expiry keeps them: a writer holding one
  // of them probes the next, and finds it missing only where the hint, ahead, says to reload
  // (iceberg-table.ts refreshTable). With the hint lagging (its writes are best effort), deleting
  // them let such a writer create a deleted version number again — and readers following the hint
  // it then wrote saw that version as the newest, every commit after it gone.
  const hinted = await readVersionHint(store, path)
  for (let v = hinted ?? after.version; v < after.version; v++) named.add(metadataKey(path, v))
  for (const uri of options.keep ?? []) named.add(keyOfTableUri(after, uri))

  const unnamed = listed.filter((o) => o.key.startsWith(prefix) && !named.has(o.key))
  const orphans = unnamed.filter((o) => o.lastModifiedMs < cutoffMs)
  const keptTooYoung = unnamed.length - orphans.length
  if (dryRun) return { orphans, deletedFiles: 0, deletedBytes: 0, keptTooYoung, failedDeletes: 0, dryRun }
  const { deletedFiles, deletedBytes, failedDeletes } = await deleteAll(store, prefix, orphans)
  return { orphans, deletedFiles, deletedBytes, keptTooYoung, failedDeletes, dryRun }
}

async function deleteAll(store: ObjectStore, prefix: string, orphans: readonly ListedObject[]) {
  let deletedFiles = 0
  let deletedBytes = 0
  let failedDeletes = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < orphans.length) {
      const { key, size } = orphans[next++]!
      if (!key.startsWith(prefix)) throw new Error(`orphan clean-up: ${key} lies outside ${prefix}`) // never: the listing was filtered
      try {
        await store.delete(key)
        deletedFiles++
        deletedBytes += size
      } catch {
        failedDeletes++ // still an orphan, harmless: the next run deletes it
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, orphans.length) }, worker))
  return { deletedFiles, deletedBytes, failedDeletes }
}
