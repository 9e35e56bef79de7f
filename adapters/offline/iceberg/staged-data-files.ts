/**
 * A staged data file as a checkpoint record holds it (StagedFiles.files): the DataFile as JSON,
 * maps as entry lists and bounds as base64, read back at the table commit or a restart's roll-forward.
 * Its `key` is its place in the object store, relative to the store's root: a record read in a
 * moved or copied data folder names the file there, where `filePath` (absolute, as Iceberg
 * writes it) names the old folder's. Records written before `key` have only `filePath`, which the
 * commit maps through the table's recorded locations (table-locations.ts).
 */
import { SinkWriteError } from '../../../core/errors.ts'
import type { StagedFiles } from '../../../ports/offline.ts'
import type { DataFile } from './manifests.ts'

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json }

export function serializeDataFile(f: DataFile, key: string): Json {
  const mapOf = (m: ReadonlyMap<number, number> | undefined) => (m ? [...m.entries()] : null)
  const bytesOf = (m: ReadonlyMap<number, Uint8Array> | undefined) =>
    m ? [...m.entries()].map(([k, v]) => [k, Buffer.from(v).toString('base64')]) : null
  return {
    filePath: f.filePath,
    key,
    fileFormat: f.fileFormat,
    partition: [...f.partition],
    recordCount: f.recordCount,
    fileSizeInBytes: f.fileSizeInBytes,
    columnSizes: mapOf(f.columnSizes),
    valueCounts: mapOf(f.valueCounts),
    nullValueCounts: mapOf(f.nullValueCounts),
    nanValueCounts: mapOf(f.nanValueCounts),
    lowerBounds: bytesOf(f.lowerBounds),
    upperBounds: bytesOf(f.upperBounds),
  } as Json
}

/** The file `json` stages for the table at `table`; `uriOf`: the current store's URI of a key. */
export function deserializeDataFile(json: unknown, table: string, uriOf: (key: string) => string): DataFile {
  const j = json as Record<string, unknown>
  const mapOf = (v: unknown) => (v ? new Map(v as [number, number][]) : undefined)
  const bytesOf = (v: unknown) =>
    v ? new Map((v as [number, string][]).map(([k, b]) => [k, new Uint8Array(Buffer.from(b, 'base64'))])) : undefined
  const optional = <T>(name: string, value: T | undefined) => (value === undefined ? {} : { [name]: value })
  return {
    filePath: stagedFileUri(j, table, uriOf) as string,
    fileFormat: 'PARQUET',
    partition: j.partition as (number | null)[],
    recordCount: j.recordCount as number,
    fileSizeInBytes: j.fileSizeInBytes as number,
    ...optional('columnSizes', mapOf(j.columnSizes)),
    ...optional('valueCounts', mapOf(j.valueCounts)),
    ...optional('nullValueCounts', mapOf(j.nullValueCounts)),
    ...optional('nanValueCounts', mapOf(j.nanValueCounts)),
    ...optional('lowerBounds', bytesOf(j.lowerBounds)),
    ...optional('upperBounds', bytesOf(j.upperBounds)),
  } as DataFile
}

/**
 * The URIs of the data files `staged` names for the table at `path`, in the current store where
 * the record has their keys. A file whose entry is not readable as a staged data file is skipped:
 * it was never a file of this table's staging.
 */
export function stagedFileUris(staged: readonly StagedFiles[], path: string, uriOf: (key: string) => string): string[] {
  return staged
    .filter((s) => s.table === path)
    .flatMap((s) => s.files.map((f) => stagedFileUri(f as Record<string, unknown>, path, uriOf)))
    .filter((uri): uri is string => typeof uri === 'string')
}

/** A key that lies outside the table it is staged for is damage, never followed: it would name another table's file. */
function stagedFileUri(j: Record<string, unknown>, table: string, uriOf: (key: string) => string): unknown {
  if (j.key === undefined) return j.filePath
  if (typeof j.key !== 'string' || !j.key.startsWith(`${table}/`)) {
    throw new SinkWriteError(
      'DATA_CORRUPT',
      `a checkpoint record stages ${JSON.stringify(j.key)} for table ${table}, which is no file of that table: the record is damaged`,
      {
        context: { table, key: String(j.key) },
      },
    )
  }
  return uriOf(j.key)
}
