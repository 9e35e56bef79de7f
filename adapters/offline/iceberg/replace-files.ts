/**
 * A `replace` snapshot: some live data files swapped for others holding the same rows, committed
 * on the fresh table under optimistic concurrency. Archive compaction (archive-compaction.ts)
 * commits through it; it is the commit half of feature-table compaction (compaction.ts), kept
 * apart so the two can be merged without touching that file's planning.
 *
 * The new files are written by the caller; their manifest is written once and reused by every
 * attempt (its entries inherit the commit's sequence number). Every manifest of the fresh base
 * that holds a replaced file is rewritten with that entry DELETED and the others EXISTING, with
 * their sequence numbers kept explicit; the rest are carried over as they are — so files a
 * concurrent append committed in between stay. When a replaced file is no longer live on the
 * fresh base (another compaction replaced it first), the commit stops with SINK_REJECTED: the
 * same rows are never rewritten twice, nor a row doubled.
 */
import { randomUUID } from 'node:crypto'
import { CommitError } from '../../../core/errors.ts'
import { distinctPartitions, totalsSummary } from './append-files.ts'
import {
  commitSnapshot,
  keyOfTableUri,
  newSnapshotId,
  type CommitOptions,
  type CommitResult,
  type IcebergTable,
} from './iceberg-table.ts'
import {
  decodeManifest,
  encodeManifest,
  partitionSummaries,
  type DataFile,
  type ManifestEntry,
  type ManifestFile,
} from './manifests.ts'
import { currentSchema, currentSnapshot, defaultSpec, specById } from './table-metadata.ts'

/** Thrown when a file to replace is no longer live: another compaction replaced it first. */
export const REPLACED_ELSEWHERE = 'files to replace are no longer live (a concurrent compaction?)'

const sum = (files: readonly DataFile[], f: (d: DataFile) => number): number => files.reduce((a, d) => a + f(d), 0)

/**
 * Commits `added` in place of `removed` (same rows) on `base`, `carried` adding summary keys the
 * new snapshot keeps from its parent (what the writer vouched for still holds).
 */
export async function replaceFiles(
  base: IcebergTable,
  removed: readonly DataFile[],
  added: readonly DataFile[],
  carried: (parent: Readonly<Record<string, string>>) => Record<string, string>,
  options: CommitOptions = {},
): Promise<CommitResult> {
  const snapshotId = newSnapshotId(base.metadata.snapshots)
  const schema = currentSchema(base.metadata)
  const spec = defaultSpec(base.metadata)
  const removedPaths = new Set(removed.map((f) => f.filePath))
  const addedKey = `${base.path}/metadata/${randomUUID()}-m0.avro`
  const addedBytes = encodeManifest(
    schema,
    spec,
    added.map((dataFile) => ({ status: 1, snapshotId, sequenceNumber: null, fileSequenceNumber: null, dataFile })),
  )
  await base.store.put(addedKey, addedBytes)

  const result = await commitSnapshot(
    base,
    snapshotId,
    async (fresh, baseManifests, seq) => {
      const manifests: ManifestFile[] = [
        {
          manifestPath: fresh.store.uriOf(addedKey),
          manifestLength: BigInt(addedBytes.length),
          partitionSpecId: spec['spec-id'],
          content: 0,
          sequenceNumber: BigInt(seq),
          minSequenceNumber: BigInt(seq),
          addedSnapshotId: snapshotId,
          addedFilesCount: added.length,
          existingFilesCount: 0,
          deletedFilesCount: 0,
          addedRowsCount: BigInt(sum(added, (d) => d.recordCount)),
          existingRowsCount: 0n,
          deletedRowsCount: 0n,
          partitions: partitionSummaries(spec, added),
        },
      ]
      const written: string[] = []
      let found = 0
      for (const m of baseManifests) {
        const mSpec = specById(fresh.metadata, m.partitionSpecId)
        const bytes = await fresh.store.get(keyOfTableUri(fresh.store, m.manifestPath))
        if (bytes === undefined) throw new CommitError('COMMIT_FAILED', `manifest ${m.manifestPath} is missing`)
        const old = decodeManifest(bytes, mSpec, m.manifestPath)
        if (!old.some((e) => e.status !== 2 && removedPaths.has(e.dataFile.filePath))) {
          manifests.push(m)
          continue
        }
        const rewritten: ManifestEntry[] = []
        for (const e of old) {
          if (e.status === 2) continue // deletes are recorded once, in the snapshot that made them
          const isRemoved = removedPaths.has(e.dataFile.filePath)
          if (isRemoved) found++
          rewritten.push({
            status: isRemoved ? 2 : 0,
            snapshotId: isRemoved ? snapshotId : (e.snapshotId ?? m.addedSnapshotId),
            sequenceNumber: e.sequenceNumber ?? m.sequenceNumber,
            fileSequenceNumber: e.fileSequenceNumber ?? m.sequenceNumber,
            dataFile: e.dataFile,
          })
        }
        const key = `${fresh.path}/metadata/${randomUUID()}-m1.avro`
        const out = encodeManifest(schema, mSpec, rewritten)
        await fresh.store.put(key, out)
        written.push(key)
        const live = rewritten.filter((e) => e.status === 0)
        const gone = rewritten.filter((e) => e.status === 2)
        manifests.push({
          manifestPath: fresh.store.uriOf(key),
          manifestLength: BigInt(out.length),
          partitionSpecId: m.partitionSpecId,
          content: 0,
          sequenceNumber: BigInt(seq),
          minSequenceNumber: live.reduce((a, e) => (e.sequenceNumber! < a ? e.sequenceNumber! : a), BigInt(seq)),
          addedSnapshotId: snapshotId,
          addedFilesCount: 0,
          existingFilesCount: live.length,
          deletedFilesCount: gone.length,
          addedRowsCount: 0n,
          existingRowsCount: BigInt(
            sum(
              live.map((e) => e.dataFile),
              (d) => d.recordCount,
            ),
          ),
          deletedRowsCount: BigInt(
            sum(
              gone.map((e) => e.dataFile),
              (d) => d.recordCount,
            ),
          ),
          partitions: partitionSummaries(
            mSpec,
            rewritten.map((e) => e.dataFile),
          ),
        })
      }
      if (found !== removed.length) throw new CommitError('SINK_REJECTED', REPLACED_ELSEWHERE)
      const parent = currentSnapshot(fresh.metadata)?.summary ?? {}
      const n = (k: string): number => Number(parent[k] ?? '0')
      return {
        operation: 'replace',
        manifests,
        written,
        summary: {
          ...carried(parent),
          'added-data-files': String(added.length),
          'deleted-data-files': String(removed.length),
          'added-records': String(sum(added, (d) => d.recordCount)),
          'deleted-records': String(sum(removed, (d) => d.recordCount)),
          'added-files-size': String(sum(added, (d) => d.fileSizeInBytes)),
          'removed-files-size': String(sum(removed, (d) => d.fileSizeInBytes)),
          'changed-partition-count': String(distinctPartitions([...added, ...removed])),
          ...totalsSummary({
            files: n('total-data-files') + added.length - removed.length,
            records: n('total-records') + sum(added, (d) => d.recordCount) - sum(removed, (d) => d.recordCount),
            bytes: n('total-files-size') + sum(added, (d) => d.fileSizeInBytes) - sum(removed, (d) => d.fileSizeInBytes),
          }),
        },
      }
    },
    options,
  )
  // Found already committed, the snapshot is this run's own whose answer was lost: a commit.
  return result.status === 'already-committed' ? { ...result, status: 'committed' } : result
}
