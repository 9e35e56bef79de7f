/**
 * The deletes after a snapshot-expiry commit landed (snapshot-expiry.ts): the files no kept
 * snapshot references any more, and the metadata files older than the metadata log.
 *
 * kfs tables have a linear history, and only a `replace` (compaction) and an append that merged
 * manifests (summary `manifests-replaced`, manifest-merge.ts) drop anything: other appends carry
 * every manifest of their parent forward, and a dropped manifest is never listed again. So, per
 * expired snapshot:
 * - its manifest list (each snapshot writes its own) goes;
 * - for each such snapshot R whose parent P expires now: the manifests P listed and R does not
 *   were listed by the snapshots from the one that wrote them (their sequence number) up to P —
 *   they go when none of those is kept; likewise the data files a replace R marked deleted, live
 *   from their data sequence number up to P.
 * That reads two manifest lists (and a replace's rewritten manifests) per compaction or merge —
 * never every kept snapshot's list. One whose parent expired in an earlier run was dealt with
 * then: what an older kept snapshot (a training set's pin) still named then stays, an orphan, if
 * that snapshot is ever expired (its pin dropped by hand) — harmless, never a deleted file
 * something names.
 *
 * Metadata files: versions older than both the oldest one the new metadata's log names and the
 * version hint go (Iceberg's write.metadata.delete-after-commit), so every logged version and the
 * hinted one stay readable. A writer holding an older version in memory finds its successor gone
 * and the hint ahead, and reloads (iceberg-table.ts refreshTable).
 */
import type { ObjectStore } from '../../../ports/object-store.ts'
import { keyOfTableUri, manifestsOf, metadataKey, readVersionHint, type IcebergTable } from './iceberg-table.ts'
import { decodeManifest } from './manifests.ts'
import { specById, type Snapshot } from './table-metadata.ts'

/** Deletes running at once: the first expiry of a long-running table removes many thousands of files. */
const DELETE_CONCURRENCY = 16

/** `maxMetadataFiles`: the oldest this many old metadata files go (the rest in a later run). */
export async function deleteExpiredFiles(
  before: IcebergTable,
  kept: ReadonlySet<bigint>,
  after: IcebergTable,
  maxMetadataFiles = Infinity,
): Promise<{ deleted: number; failed: number }> {
  const { store } = before
  const doomed = new Set<string>()
  for (const s of before.metadata.snapshots)
    if (!kept.has(s['snapshot-id'])) doomed.add(keyOfTableUri(before, s['manifest-list']))
  for (const key of await droppedFiles(before, kept)) doomed.add(key)
  for (const key of await oldMetadataFiles(after, maxMetadataFiles)) doomed.add(key)
  return deleteAll(store, [...doomed])
}

async function droppedFiles(before: IcebergTable, kept: ReadonlySet<bigint>): Promise<string[]> {
  const { store, metadata } = before
  const byId = new Map(metadata.snapshots.map((s) => [s['snapshot-id'], s]))
  const keptSequences = metadata.snapshots.filter((s) => kept.has(s['snapshot-id'])).map((s) => s['sequence-number'])
  const keptWithin = (from: bigint, to: number): boolean => keptSequences.some((q) => q >= Number(from) && q <= to)
  const out: string[] = []
  for (const dropping of metadata.snapshots) {
    const merged = Number(dropping.summary['manifests-replaced'] ?? '0') > 0
    if (dropping.summary.operation !== 'replace' && !merged) continue
    const parentId = dropping['parent-snapshot-id']
    const parent: Snapshot | undefined = parentId === undefined ? undefined : byId.get(parentId)
    if (parent === undefined || kept.has(parent['snapshot-id'])) continue
    const upTo = parent['sequence-number']
    const listed = await manifestsOf(before, dropping)
    const stillListed = new Set(listed.map((m) => m.manifestPath))
    for (const m of await manifestsOf(before, parent)) {
      if (!stillListed.has(m.manifestPath) && !keptWithin(m.sequenceNumber, upTo)) out.push(keyOfTableUri(before, m.manifestPath))
    }
    for (const m of listed) {
      if (dropping.summary.operation !== 'replace' || m.addedSnapshotId !== dropping['snapshot-id'] || m.deletedFilesCount === 0)
        continue
      const bytes = await store.get(keyOfTableUri(before, m.manifestPath))
      // A manifest the replace wrote that is gone: its removed files are not known here; left as orphans.
      if (bytes === undefined) continue
      for (const e of decodeManifest(bytes, specById(metadata, m.partitionSpecId), m.manifestPath)) {
        if (
          e.status === 2 &&
          e.snapshotId === dropping['snapshot-id'] &&
          !keptWithin(e.fileSequenceNumber ?? e.sequenceNumber ?? m.sequenceNumber, upTo)
        )
          out.push(keyOfTableUri(before, e.dataFile.filePath))
      }
    }
  }
  return out
}

const VERSION = /\/metadata\/v(\d+)\.metadata\.json$/

async function oldMetadataFiles(after: IcebergTable, max: number): Promise<string[]> {
  const { store, path } = after
  let oldest = after.version
  for (const e of after.metadata['metadata-log']) {
    const m = VERSION.exec(e['metadata-file'])
    if (m !== null) oldest = Math.min(oldest, Number(m[1]))
  }
  const hinted = await readVersionHint(store, path)
  if (hinted !== undefined) oldest = Math.min(oldest, hinted)
  const old: { key: string; version: number }[] = []
  for (const key of await store.list(`${path}/metadata/v`)) {
    const m = VERSION.exec(key)
    if (m !== null && Number(m[1]) < oldest && key === metadataKey(path, Number(m[1]))) old.push({ key, version: Number(m[1]) })
  }
  // Oldest first: listed in key order, v10 comes before v9.
  return old
    .sort((a, b) => a.version - b.version)
    .slice(0, max)
    .map((v) => v.key)
}

async function deleteAll(store: ObjectStore, keys: readonly string[]): Promise<{ deleted: number; failed: number }> {
  let deleted = 0
  let failed = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++]!
      try {
        await store.delete(key)
        deleted++
      } catch {
        failed++ // an orphan now: no kept snapshot names it, `kfs compact --remove-orphans` removes it (orphan-files.ts)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker))
  return { deleted, failed }
}
