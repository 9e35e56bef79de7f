/**
 * The rewrite step of compaction (compaction.ts): one partition's files, read in commit order,
 * streamed into new files of at most `maxRowsPerFile` rows each. At most one output file's rows
 * (plus the rest of the input batch being copied) are held at once: a day partition left to grow
 * for a week is tens of millions of rows, and `kfs run` compacts on the engine's own process.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import { createYielder } from '../../../core/event-loop.ts'
import { writeDataFiles, type WriteDataFilesOptions } from './data-file-writer.ts'
import { parquetColumnsOf } from './iceberg-schema.ts'
import type { IcebergTable } from './iceberg-table.ts'
import type { DataFile } from './manifests.ts'
import { currentSchema } from './table-metadata.ts'
import { readDataFileBatches } from './table-reader.ts'

/**
 * Rows of one compacted file: four of the writer's 65,536-row groups. At ~150 B a row held as
 * column values, ~40 MB at once; a day of a busy view is tens of such files instead of a file per
 * checkpoint per source partition (34,560 a day at four partitions and 10 s checkpoints).
 */
export const DEFAULT_COMPACTED_FILE_ROWS = 262_144

export interface RewriteOptions extends WriteDataFilesOptions {
  readonly maxRowsPerFile: number
  /** Ends the rewrite at its next step (the engine stopping): what was written is deleted by the caller. */
  readonly signal?: AbortSignal
  /** Each file as soon as it is written, so that a failure later can delete it. */
  readonly onWritten: (file: DataFile) => void
}

/** The number of files `rows` rows make at `maxRowsPerFile` a file: what a compacted partition holds. */
export function compactedFileCount(rows: number, maxRowsPerFile: number): number {
  return Math.max(1, Math.ceil(rows / maxRowsPerFile))
}

export function throwIfStopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true)
    throw new SinkWriteError('SINK_CLOSED', 'compaction stopped: the process is stopping; the table is as it was')
}

/** Rewrites `files` (one partition's, in commit order) into files of at most `maxRowsPerFile` rows; the new files in order. */
export async function rewritePartitionFiles(
  table: IcebergTable,
  files: readonly DataFile[],
  options: RewriteOptions,
): Promise<DataFile[]> {
  const names = parquetColumnsOf(currentSchema(table.metadata)).map((c) => c.name)
  const { maxRowsPerFile, signal, onWritten, ...writeOptions } = options
  // One chunk is one file: no split by size (the rows bound it), so a partition compacts to exactly
  // compactedFileCount files and is not found worth compacting again.
  const oneFile = { ...writeOptions, targetFileBytes: Number.MAX_SAFE_INTEGER }
  const yieldNowAndThen = createYielder(4)
  const out: DataFile[] = []
  let columns = names.map((): unknown[] => [])
  let held = 0
  const flush = async (): Promise<void> => {
    throwIfStopped(signal)
    const chunk = { rowCount: held, columns: Object.fromEntries(names.map((name, i) => [name, columns[i]!])) }
    columns = names.map((): unknown[] => [])
    held = 0
    for (const file of await writeDataFiles(table, chunk, oneFile)) {
      onWritten(file)
      out.push(file)
    }
  }
  for (const file of files) {
    throwIfStopped(signal)
    for await (const batch of readDataFileBatches(table, file, {
      longAs: 'bigint',
      batchSize: Math.min(maxRowsPerFile, 65_536),
    })) {
      // A column the file lacks (written before the schema gained it) reads as nulls.
      const sources = names.map((name) => batch.columns[name])
      for (let row = 0; row < batch.numRows; row++) {
        for (let c = 0; c < names.length; c++) columns[c]!.push(sources[c]?.[row] ?? null)
        held++
        if (held === maxRowsPerFile) await flush()
        else if (row % 4096 === 4095) await yieldNowAndThen()
      }
    }
  }
  if (held > 0) await flush()
  return out
}
