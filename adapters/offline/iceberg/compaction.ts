/**
 * Compaction: rewrites the many small files of old partitions into few, in one `replace` snapshot.
 * Readers are unaffected: the rows stay the same, old snapshots still reference the old files.
 *
 * Strategy:
 * 1. Pick partitions whose day is before `olderThanDay` (or that `partitionFilter` accepts) and that
 *    hold at least `minFiles` live files (compaction-plan.ts: reading only the manifests that may
 *    hold such files and that an earlier attempt did not read).
 * 2. Read their rows in commit order (data sequence number, then manifest order) — for the raw
 *    archive that is offset order, which the rewritten files keep — streamed into files of at most
 *    `maxRowsPerFile` rows (compaction-rewrite.ts): never a whole partition in memory. A partition
 *    already in as few files as its rows make is left alone.
 * 3. Commit one `replace` snapshot (replace-files.ts, as archive compaction does): on a lost race
 *    the change is rebuilt on the fresh base (the manifests the losing attempt rewrote deleted); if
 *    a replaced file is no longer live there (another compaction won), it commits nothing, deletes
 *    its new files and reports `superseded`.
 * All or nothing: the table changes only when the new metadata version is created, so a write that
 * fails before it leaves the table as it was; the files written so far are deleted (best effort)
 * when it fails before the commit starts, and when the commit gives up and the table read back
 * has no snapshot of it (replace-files.ts); only when that read fails too are they left, orphans
 * no snapshot names (harmless; `kfs compact --remove-orphans` deletes them: orphan-files.ts). A
 * metadata write whose answer was lost is found landed by the commit's next attempt, or by that
 * read (its snapshot id is in the reloaded table), never committed twice.
 */
import { type WriteDataFilesOptions } from './data-file-writer.ts'
import { DEFAULT_COMPACTED_FILE_ROWS, rewritePartitionFiles, throwIfStopped } from './compaction-rewrite.ts'
import { keyOfTableUri, refreshTable, type CommitOptions, type IcebergTable } from './iceberg-table.ts'
import type { DataFile } from './manifests.ts'
import { commitReplace, prepareReplace, type PreparedReplace, type ReplaceResult } from './replace-files.ts'
import { planCompaction, type ManifestCountsMemory } from './compaction-plan.ts'
import { carriedWriterFacts } from './writer-facts.ts'

export interface CompactionOptions extends CommitOptions, WriteDataFilesOptions {
  /** Compact day partitions strictly before this day (days since epoch). */
  readonly olderThanDay?: number
  readonly partitionFilter?: (partition: readonly (number | null)[]) => boolean
  readonly minFiles?: number
  /** Rows of one rewritten file, and so the most rows held at once (DEFAULT_COMPACTED_FILE_ROWS). */
  readonly maxRowsPerFile?: number
  /** Rewrite at most this many partitions, oldest first (all by default): a run of the engine's stays short. */
  readonly maxPartitions?: number
  /** Ends the compaction at its next step, before its commit: the table is as it was. */
  readonly signal?: AbortSignal
  /** What earlier compactions of this table found in its manifests (compaction-plan.ts): `kfs run`'s, kept per table. */
  readonly memory?: ManifestCountsMemory
}

export interface CompactionResult extends Partial<ReplaceResult> {
  /** Files this compaction replaced and wrote (0 when `superseded`: another compaction replaced some of them first). */
  readonly removedFiles: number
  readonly addedFiles: number
  /** Manifests the plan decoded (compaction-plan.ts: the others skipped by their summaries or remembered). */
  readonly manifestsRead: number
}

export async function compactPartitions(table: IcebergTable, options: CompactionOptions = {}): Promise<CompactionResult> {
  const base = await refreshTable(table)
  const maxRowsPerFile = options.maxRowsPerFile ?? DEFAULT_COMPACTED_FILE_ROWS
  const plan = await planCompaction(base, {
    maxRowsPerFile,
    ...(options.olderThanDay === undefined ? {} : { olderThanDay: options.olderThanDay }),
    ...(options.partitionFilter === undefined ? {} : { partitionFilter: options.partitionFilter }),
    ...(options.minFiles === undefined ? {} : { minFiles: options.minFiles }),
    ...(options.maxPartitions === undefined ? {} : { maxPartitions: options.maxPartitions }),
    ...(options.memory === undefined ? {} : { memory: options.memory }),
  })
  const { manifestsRead } = plan
  const removed: DataFile[] = []
  const added: DataFile[] = []
  const { signal } = options
  const writeOptions = {
    ...(options.rowGroupRows === undefined ? {} : { rowGroupRows: options.rowGroupRows }),
    ...(options.parquetWorker === undefined ? {} : { parquetWorker: options.parquetWorker }),
  }
  const written: string[] = []
  let prepared: PreparedReplace | undefined
  try {
    for (const files of plan.partitions) {
      added.push(...(await rewritePartitionFiles(base, files, { ...writeOptions, maxRowsPerFile, ...(signal === undefined ? {} : { signal }), onWritten: (f) => written.push(keyOfTableUri(base, f.filePath)) })))
      removed.push(...files)
    }
    if (removed.length === 0) return { removedFiles: 0, addedFiles: 0, manifestsRead }
    prepared = await prepareReplace(base, added)
    throwIfStopped(signal)
  } catch (err: unknown) {
    // No metadata names them yet: deleting them leaves nothing behind (a delete that fails leaves an orphan).
    for (const key of [...written, ...(prepared === undefined ? [] : [prepared.manifestKey])]) await base.store.delete(key).catch(() => undefined)
    throw err
  }
  // The same rows in other files: what the writer vouched for still holds.
  const result = await commitReplace(base, prepared, removed, carriedWriterFacts, options)
  if (result.status === 'superseded') {
    // Another compaction replaced some of these files first: nothing names the new ones.
    for (const key of written) await base.store.delete(key).catch(() => undefined)
    return { table: result.table, snapshotId: undefined, status: 'superseded', removedFiles: 0, addedFiles: 0, manifestsRead }
  }
  return { ...result, removedFiles: removed.length, addedFiles: added.length, manifestsRead }
}
