/**
 * Archive compaction (ports/offline-compaction.ts `compactArchive`): every checkpoint commits one
 * small data file per source partition to `warehouse/archive/<topic>`, and a replay opens each one.
 * This merges runs of old ones, per partition, in the order the archive reader reads them
 * (archive-reader.ts `archiveFilesInReadOrder`), into files of about `rowsPerFile` rows — the same
 * rows in the same order, in one `replace` snapshot (replace-files.ts).
 *
 * What keeps every read the same:
 * - A merged file holds a run of consecutive files' rows, concatenated in read order; its offset
 *   bounds are the run's (the writer's own column metrics), so `archiveNextOffsets` and the file
 *   order by lowest offset hold.
 * - Runs never split files that share a lowest offset (marker-only files at the offset the next
 *   file starts at): the reader orders those by commit, and a merged file is newer than all.
 *   A run whose rows all sit at one offset and that ends the partition is left: the engine's next
 *   file may start at that offset.
 * - Runs are cut where the rows before a file reach a multiple of `rowsPerFile` (counted from the
 *   partition's start, which compaction never changes), so compacting again finds every merged
 *   file alone in its run: nothing to do, nothing committed.
 * - Only files committed before `committedBeforeMs` (by their snapshot's time; a file whose
 *   snapshot expiry removed by its newest log timestamp) and every file before them: recent
 *   checkpoints' files stay as they are, and the eligible files are one stretch from the start.
 * - Checkpoint markers and carried keys live in snapshot summaries, which compaction does not
 *   touch; snapshots taken before it still name the old files.
 *
 * Memory: one run's rows at a time (at most `rowsPerFile` and its last file's), read file by file;
 * a commit every `filesPerCommit` replaced files keeps a long first compaction's progress, and
 * `maxFiles` bounds one compaction (`kfs run`'s, automatic-compaction.ts): a backlog takes several.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import { archiveFilesInReadOrder, type BoundedArchiveFile } from './archive-reader.ts'
import { throwIfStopped } from './compaction-rewrite.ts'
import { writeDataFiles, type WriteDataFilesOptions } from './data-file-writer.ts'
import { keyOfTableUri, refreshTable, type CommitOptions, type IcebergTable } from './iceberg-table.ts'
import type { DataFile } from './manifests.ts'
import { commitReplace, prepareReplace, type PreparedReplace } from './replace-files.ts'
import { currentSchema, defaultSpec } from './table-metadata.ts'
import { decodeLongBound, liveEntriesOf, readDataFileBatches } from './table-reader.ts'

/** Rows a merged archive file holds at most (plus its last input file's): ~25–100 MB of typical events. */
export const DEFAULT_ARCHIVE_ROWS_PER_FILE = 262_144

/** Files replaced per commit, about: a first compaction of a week's archive keeps its progress as it goes. */
export const DEFAULT_FILES_PER_COMMIT = 10_000

/** The archive schema's `ingestion_time` column (table-schemas.ts RAW_ARCHIVE_SCHEMA). */
const INGESTION_TIME_FIELD_ID = 8

export interface ArchiveCompactionOptions extends CommitOptions, Pick<WriteDataFilesOptions, 'parquetWorker' | 'rowGroupRows'> {
  /** Only files committed before this time (ms since the epoch), and the files before them. */
  readonly committedBeforeMs: number
  readonly rowsPerFile?: number
  readonly filesPerCommit?: number
  /** Replace about this many files at most (whole runs, oldest first per partition; at least one run): `kfs run`'s compactions stay short. */
  readonly maxFiles?: number
  /** Ends the compaction at its next step, before its next commit (the engine stopping): its uncommitted files deleted. */
  readonly signal?: AbortSignal
}

export interface ArchiveCompactionResult {
  readonly removedFiles: number
  readonly addedFiles: number
  /** undefined: nothing to compact; `superseded`: another compaction replaced some of the files first. */
  readonly status: 'committed' | 'superseded' | undefined
  readonly table: IcebergTable
  readonly snapshotId?: bigint
}

/** One run of consecutive files of a partition to merge into one. */
export interface ArchiveRun {
  readonly partition: number
  readonly files: readonly BoundedArchiveFile[]
}

/** When a file was committed: its snapshot's time, else (snapshot expired) its newest log timestamp. */
function committedAtMs(file: BoundedArchiveFile, snapshotTimes: ReadonlyMap<bigint, number>): number | undefined {
  const id = file.e.snapshotId
  const at = id === null || id === undefined ? undefined : snapshotTimes.get(id)
  if (at !== undefined) return at
  const newest = decodeLongBound(file.e.dataFile.upperBounds?.get(INGESTION_TIME_FIELD_ID))
  // timestamptz bounds are µs.
  return newest === undefined ? undefined : Number(newest / 1000n)
}

/** The runs to merge of one partition's files in read order (see the module comment for why each rule). */
export function partitionRuns(
  partition: number,
  files: readonly BoundedArchiveFile[],
  isOld: (file: BoundedArchiveFile) => boolean,
  rowsPerFile: number,
): ArchiveRun[] {
  let eligible = 0
  for (let i = files.length - 1; i >= 0; i--)
    if (isOld(files[i]!)) {
      eligible = i + 1
      break
    }
  // Files sharing a lowest offset go together or not at all.
  while (eligible > 0 && eligible < files.length && files[eligible]!.lo === files[eligible - 1]!.lo) eligible--
  const runs: ArchiveRun[] = []
  let rowsBefore = 0
  let run: BoundedArchiveFile[] = []
  let bucket = -1
  const close = (next: BoundedArchiveFile | undefined): void => {
    const atOneOffset = run.every((f) => f.hi === run[0]!.lo)
    if (run.length >= 2 && !(next === undefined && atOneOffset)) runs.push({ partition, files: run })
    run = []
  }
  for (let i = 0; i < eligible; i++) {
    const file = files[i]!
    const b = Math.floor(rowsBefore / rowsPerFile)
    const tied = i > 0 && file.lo === files[i - 1]!.lo
    if (run.length > 0 && b !== bucket && !tied) close(file)
    if (run.length === 0) bucket = b
    run.push(file)
    rowsBefore += file.e.dataFile.recordCount
  }
  if (run.length > 0) close(files[eligible])
  return runs
}

/** Every run to merge in the archive table as it is now. */
export async function planArchiveCompaction(
  table: IcebergTable,
  topic: string,
  committedBeforeMs: number,
  rowsPerFile: number,
): Promise<ArchiveRun[]> {
  const specId = defaultSpec(table.metadata)['spec-id']
  const entries = await liveEntriesOf(table)
  const snapshotTimes = new Map(table.metadata.snapshots.map((s) => [s['snapshot-id'], s['timestamp-ms']]))
  const partitions = [...new Set(entries.map((e) => e.dataFile.partition[0]))]
    .filter((p): p is number => typeof p === 'number')
    .sort((a, b) => a - b)
  const isOld = (f: BoundedArchiveFile): boolean => {
    const at = committedAtMs(f, snapshotTimes)
    return at !== undefined && at < committedBeforeMs
  }
  return partitions.flatMap((p) => {
    const files = archiveFilesInReadOrder(entries, topic, p)
    // A file of another partition spec is not one kfs wrote: leave the partition as it is.
    if (files.some((f) => f.e.specId !== specId)) return []
    return partitionRuns(p, files, isOld, rowsPerFile)
  })
}

/** The run's rows as the archive's columns, file by file in read order; DATA_CORRUPT on offsets that go back. */
async function runColumns(
  table: IcebergTable,
  topic: string,
  run: ArchiveRun,
): Promise<{ rowCount: number; columns: Record<string, unknown[]> }> {
  const names = currentSchema(table.metadata).fields.map((f) => f.name)
  const columns: Record<string, unknown[]> = Object.fromEntries(names.map((n) => [n, []]))
  let rowCount = 0
  let last = -1n
  for (const { e } of run.files) {
    for await (const batch of readDataFileBatches(table, e.dataFile, { longAs: 'bigint' })) {
      const offsets = batch.columns.offset ?? []
      for (let i = 0; i < batch.numRows; i++) {
        const offset = offsets[i]
        if (typeof offset !== 'bigint' || offset < last)
          throw new SinkWriteError(
            'DATA_CORRUPT',
            `data file ${e.dataFile.filePath} of the archive of ${topic} goes back to offset ${String(offset)} (after ${last}): not compacted; replay reports the damage`,
            {
              context: { file: e.dataFile.filePath, topic },
            },
          )
        last = offset
      }
      for (const n of names) {
        const values = batch.columns[n]
        const into = columns[n]!
        for (let i = 0; i < batch.numRows; i++) into.push(values === undefined ? null : values[i])
      }
      rowCount += batch.numRows
    }
  }
  return { rowCount, columns }
}

/** Merges `run` into one new data file (not yet named by any snapshot). */
async function mergeRun(
  table: IcebergTable,
  topic: string,
  run: ArchiveRun,
  options: ArchiveCompactionOptions,
): Promise<DataFile> {
  const rows = await runColumns(table, topic, run)
  const expected = run.files.reduce((n, f) => n + f.e.dataFile.recordCount, 0)
  const { parquetWorker, rowGroupRows } = options
  // One file per run, whatever its size: a cut inside the run could split files sharing an offset.
  const written = await writeDataFiles(table, rows, {
    targetFileBytes: Number.MAX_SAFE_INTEGER,
    ...(parquetWorker === undefined ? {} : { parquetWorker }),
    ...(rowGroupRows === undefined ? {} : { rowGroupRows }),
  })
  const [file] = written
  if (written.length !== 1 || file === undefined || file.recordCount !== expected || rows.rowCount !== expected)
    throw new SinkWriteError(
      'DATA_CORRUPT',
      `archive of ${topic}, partition ${run.partition}: ${expected} rows listed, ${rows.rowCount} read, ${written.length} files written: not compacted`,
    )
  return file
}

/**
 * Compacts the archive table's old files (see the module comment), committing every
 * `filesPerCommit` replaced files or so: a long first compaction keeps what it did when it fails
 * later (a rerun plans afresh and finishes). A commit that races the engine's appends is rebuilt
 * on the fresh table; one that finds some of its files already replaced by another compaction
 * stops (`superseded`, the counts those committed before it), deleting its new files no snapshot names.
 */
export async function compactArchiveTable(
  table: IcebergTable,
  topic: string,
  options: ArchiveCompactionOptions,
): Promise<ArchiveCompactionResult> {
  let base = await refreshTable(table)
  const planned = await planArchiveCompaction(
    base,
    topic,
    options.committedBeforeMs,
    options.rowsPerFile ?? DEFAULT_ARCHIVE_ROWS_PER_FILE,
  )
  // Bounded: a run of each partition in turn, so that every partition's backlog goes down.
  const runs = options.maxFiles === undefined ? planned : batches(inTurns(planned), options.maxFiles)[0]!
  if (runs.length === 0) return { removedFiles: 0, addedFiles: 0, status: undefined, table: base }
  const counts = { removedFiles: 0, addedFiles: 0 }
  let snapshotId: bigint | undefined
  const { signal } = options
  for (const batch of batches(runs, options.filesPerCommit ?? DEFAULT_FILES_PER_COMMIT)) {
    const added: DataFile[] = []
    // No metadata names them before the commit starts, nor after it finds the files replaced elsewhere.
    const deleteAdded = async (): Promise<void> => {
      for (const f of added) await base.store.delete(keyOfTableUri(base, f.filePath)).catch(() => undefined)
    }
    let prepared: PreparedReplace | undefined
    try {
      for (const run of batch) {
        throwIfStopped(signal)
        added.push(await mergeRun(base, topic, run, options))
      }
      prepared = await prepareReplace(base, added)
      throwIfStopped(signal)
    } catch (err: unknown) {
      if (prepared !== undefined) await base.store.delete(prepared.manifestKey).catch(() => undefined)
      await deleteAdded()
      throw err
    }
    const removed = batch.flatMap((r) => r.files.map((f) => f.e.dataFile))
    // Nothing to carry: the archive's summary facts (checkpoint markers) are read over all snapshots.
    const result = await commitReplace(base, prepared, removed, () => ({}), options)
    if (result.status === 'superseded') {
      await deleteAdded()
      return { ...counts, status: 'superseded', table: result.table }
    }
    base = result.table
    snapshotId = result.snapshotId
    counts.removedFiles += removed.length
    counts.addedFiles += added.length
  }
  return { ...counts, status: 'committed', table: base, ...(snapshotId === undefined ? {} : { snapshotId }) }
}

/** The first run of each partition, then the second of each, and so on (each partition's in their order). */
function inTurns(runs: readonly ArchiveRun[]): ArchiveRun[] {
  const byPartition = new Map<number, ArchiveRun[]>()
  for (const run of runs) {
    const own = byPartition.get(run.partition)
    if (own === undefined) byPartition.set(run.partition, [run])
    else own.push(run)
  }
  const out: ArchiveRun[] = []
  for (let i = 0; out.length < runs.length; i++) for (const own of byPartition.values()) if (i < own.length) out.push(own[i]!)
  return out
}

/** `runs` in consecutive batches of at least one run and about `files` files. */
function batches(runs: readonly ArchiveRun[], files: number): ArchiveRun[][] {
  const out: ArchiveRun[][] = [[]]
  let n = 0
  for (const run of runs) {
    if (n >= files) {
      out.push([])
      n = 0
    }
    out.at(-1)!.push(run)
    n += run.files.length
  }
  return out
}
