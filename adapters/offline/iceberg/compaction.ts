/**
 * Compaction: rewrites the many small files of old partitions into few, in one `replace` snapshot.
 * Readers are unaffected: the rows stay the same, old snapshots still reference the old files.
 *
 * Strategy:
 * 1. Pick partitions whose day is before `olderThanDay` (or that `partitionFilter` accepts) and that
 *    hold at least `minFiles` live files.
 * 2. Read their rows in commit order (data sequence number, then manifest order) — for the raw
 *    archive that is offset order, which the rewritten files keep — streamed into files of at most
 *    `maxRowsPerFile` rows (compaction-rewrite.ts): never a whole partition in memory. A partition
 *    already in as few files as its rows make is left alone.
 * 3. Commit: a new manifest adds the new files; every manifest holding a replaced file is rewritten
 *    with that entry DELETED and the others EXISTING (explicit sequence numbers); untouched
 *    manifests are carried over. On a lost race the change is rebuilt on the fresh base; if a
 *    replaced file is no longer live there (another compaction won), the commit stops.
 * All or nothing: the table changes only when the new metadata version is created, so a write that
 * fails before it leaves the table as it was; the files written so far are deleted (best effort)
 * when it fails before the commit starts, else left as orphans no snapshot names (harmless;
 * `kfs compact --remove-orphans` deletes them: orphan-files.ts). A metadata write whose answer was lost
 * is found landed by the commit's next attempt (its snapshot id is in the reloaded table), never
 * committed twice.
 */
import { randomUUID } from 'node:crypto'
import { CommitError } from '../../../core/errors.ts'
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'
import { distinctPartitions, totalsSummary } from './append-files.ts'
import { type WriteDataFilesOptions } from './data-file-writer.ts'
import { compactedFileCount, DEFAULT_COMPACTED_FILE_ROWS, rewritePartitionFiles, throwIfStopped } from './compaction-rewrite.ts'
import { commitSnapshot, keyOfTableUri, newSnapshotId, refreshTable, type CommitOptions, type CommitResult, type IcebergTable } from './iceberg-table.ts'
import { decodeManifestSteps, encodeManifest, encodeManifestSteps, partitionSummaries, type DataFile, type ManifestEntry, type ManifestFile } from './manifests.ts'
import { liveEntriesOf } from './table-reader.ts'
import { currentSchema, currentSnapshot, defaultSpec, specById } from './table-metadata.ts'
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
}

export interface CompactionResult extends Partial<CommitResult> {
  readonly removedFiles: number
  readonly addedFiles: number
}

export async function compactPartitions(table: IcebergTable, options: CompactionOptions = {}): Promise<CompactionResult> {
  const base = await refreshTable(table)
  const spec = defaultSpec(base.metadata)
  const dayIndex = spec.fields.findIndex((f) => f.transform === 'day')
  const accept = (p: readonly (number | null)[]): boolean => {
    if (options.partitionFilter !== undefined && !options.partitionFilter(p)) return false
    if (options.olderThanDay !== undefined) {
      const day = dayIndex < 0 ? null : p[dayIndex]
      if (day === null || day === undefined || day >= options.olderThanDay) return false
    }
    return true
  }
  const entries = (await liveEntriesOf(base)).filter((e) => e.specId === spec['spec-id'] && accept(e.dataFile.partition))
  // Pushed, not copied: a day partition left to `kfs compact` holds a file per checkpoint per
  // source partition (34,560 a day at 4 partitions), and copying its group per file took 21 s.
  const groups = new Map<string, typeof entries>()
  for (const e of entries) {
    const k = JSON.stringify(e.dataFile.partition)
    const group = groups.get(k)
    if (group === undefined) groups.set(k, [e])
    else group.push(e)
  }
  const maxRowsPerFile = options.maxRowsPerFile ?? DEFAULT_COMPACTED_FILE_ROWS
  const worthIt = [...groups.values()].filter((g) => g.length >= (options.minFiles ?? 2) && g.length > compactedFileCount(g.reduce((n, e) => n + e.dataFile.recordCount, 0), maxRowsPerFile))
  // Oldest first: a run bounded by maxPartitions works through a backlog from its start.
  const chosen = worthIt.sort((a, b) => comparePartitions(a[0]!.dataFile.partition, b[0]!.dataFile.partition)).slice(0, options.maxPartitions ?? Infinity)
  const removed: DataFile[] = []
  const added: DataFile[] = []
  const { signal } = options
  const writeOptions = {
    ...(options.rowGroupRows === undefined ? {} : { rowGroupRows: options.rowGroupRows }),
    ...(options.parquetWorker === undefined ? {} : { parquetWorker: options.parquetWorker }),
  }
  const written: string[] = []
  const snapshotId = newSnapshotId(base.metadata.snapshots)
  const schema = currentSchema(base.metadata)
  const addedKey = `${base.path}/metadata/${randomUUID()}-m0.avro`
  let addedBytes: Uint8Array
  try {
    for (const group of chosen) {
      // Commit order: by data sequence number. Files of one sequence number are one commit's, listed
      // in one manifest in the order they were written (a merged manifest keeps it), kept as listed.
      const ordered = group.map((e, i) => ({ e, i })).sort((a, b) => (a.e.dataSequenceNumber === b.e.dataSequenceNumber ? a.i - b.i : a.e.dataSequenceNumber < b.e.dataSequenceNumber ? -1 : 1))
      const files = ordered.map((x) => x.e.dataFile)
      added.push(...(await rewritePartitionFiles(base, files, { ...writeOptions, maxRowsPerFile, ...(signal === undefined ? {} : { signal }), onWritten: (f) => written.push(keyOfTableUri(base.store, f.filePath)) })))
      removed.push(...files)
    }
    if (removed.length === 0) return { removedFiles: 0, addedFiles: 0 }
    addedBytes = encodeManifest(schema, spec, added.map((dataFile) => ({ status: 1, snapshotId, sequenceNumber: null, fileSequenceNumber: null, dataFile })))
    written.push(addedKey)
    await base.store.put(addedKey, addedBytes)
    throwIfStopped(signal)
  } catch (err: unknown) {
    // No metadata names them yet: deleting them leaves nothing behind (a delete that fails leaves an orphan).
    for (const key of written) await base.store.delete(key).catch(() => undefined)
    throw err
  }
  const removedPaths = new Set(removed.map((f) => f.filePath))
  const sum = (files: readonly DataFile[], f: (d: DataFile) => number): number => files.reduce((a, d) => a + f(d), 0)

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
      let found = 0
      const yieldNowAndThen = createYielder(4)
      for (const m of baseManifests) {
        const mSpec = specById(fresh.metadata, m.partitionSpecId)
        const bytes = await fresh.store.get(keyOfTableUri(fresh.store, m.manifestPath))
        if (bytes === undefined) throw new CommitError('COMMIT_FAILED', `manifest ${m.manifestPath} is missing`)
        // Decoded with pauses: the engine's thread runs this beside its checkpoints (merged manifests hold tens of thousands of entries).
        const old = await runStepsYielding(decodeManifestSteps(bytes, mSpec, m.manifestPath), yieldNowAndThen)
        if (!old.some((e) => e.status !== 2 && removedPaths.has(e.dataFile.filePath))) {
          manifests.push(m)
          continue
        }
        const rewritten: ManifestEntry[] = []
        for (const e of old) {
          if (e.status === 2) continue // deletes are recorded once, in the snapshot that made them
          const dataSeq = e.sequenceNumber ?? m.sequenceNumber
          const fileSeq = e.fileSequenceNumber ?? m.sequenceNumber
          const isRemoved = removedPaths.has(e.dataFile.filePath)
          if (isRemoved) found++
          rewritten.push({
            status: isRemoved ? 2 : 0,
            snapshotId: isRemoved ? snapshotId : (e.snapshotId ?? m.addedSnapshotId),
            sequenceNumber: dataSeq,
            fileSequenceNumber: fileSeq,
            dataFile: e.dataFile,
          })
        }
        const key = `${fresh.path}/metadata/${randomUUID()}-m1.avro`
        const out = await runStepsYielding(encodeManifestSteps(schema, mSpec, rewritten), yieldNowAndThen)
        await fresh.store.put(key, out)
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
          existingRowsCount: BigInt(sum(live.map((e) => e.dataFile), (d) => d.recordCount)),
          deletedRowsCount: BigInt(sum(gone.map((e) => e.dataFile), (d) => d.recordCount)),
          partitions: partitionSummaries(mSpec, rewritten.map((e) => e.dataFile)),
        })
      }
      if (found !== removed.length) {
        throw new CommitError('SINK_REJECTED', 'files to replace are no longer live (a concurrent compaction?)')
      }
      const parent = currentSnapshot(fresh.metadata)?.summary ?? {}
      const n = (k: string): number => Number(parent[k] ?? '0')
      return {
        operation: 'replace',
        manifests,
        summary: {
          // The same rows in other files: what the writer vouched for still holds.
          ...carriedWriterFacts(parent),
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
  // The snapshot id is this run's own: found already committed, it is this run's commit whose answer
  // was lost (the metadata landed, a retry reloaded it), so it reports as a commit — not as someone else's.
  const status = result.status === 'already-committed' ? 'committed' : result.status
  return { ...result, status, removedFiles: removed.length, addedFiles: added.length }
}

/** Partition tuples in order of their values (a day partition: by day), nulls first. */
function comparePartitions(a: readonly (number | null)[], b: readonly (number | null)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? null
    const y = b[i] ?? null
    if (x === y) continue
    if (x === null) return -1
    if (y === null) return 1
    return x - y
  }
  return 0
}
