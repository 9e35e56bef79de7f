/**
 * A staged data file as a checkpoint record holds it (StagedFiles.files): the DataFile as JSON,
 * maps as entry lists and bounds as base64, read back at the table commit or a restart's roll-forward.
 */
import type { StagedFiles } from '../../../ports/offline.ts'
import type { DataFile } from './manifests.ts'

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json }

export function serializeDataFile(f: DataFile): Json {
  const mapOf = (m: ReadonlyMap<number, number> | undefined) => (m ? [...m.entries()] : null)
  const bytesOf = (m: ReadonlyMap<number, Uint8Array> | undefined) =>
    m ? [...m.entries()].map(([k, v]) => [k, Buffer.from(v).toString('base64')]) : null
  return {
    filePath: f.filePath,
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

export function deserializeDataFile(json: unknown): DataFile {
  const j = json as Record<string, unknown>
  const mapOf = (v: unknown) => (v ? new Map(v as [number, number][]) : undefined)
  const bytesOf = (v: unknown) =>
    v ? new Map((v as [number, string][]).map(([k, b]) => [k, new Uint8Array(Buffer.from(b, 'base64'))])) : undefined
  const optional = <T>(name: string, value: T | undefined) => (value === undefined ? {} : { [name]: value })
  return {
    filePath: j.filePath as string,
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
 * The URIs of the data files `staged` names for the table at `path`. A file whose entry is not
 * readable as a staged data file is skipped: it was never a file of this table's staging.
 */
export function stagedFileUris(staged: readonly StagedFiles[], path: string): string[] {
  return staged
    .filter((s) => s.table === path)
    .flatMap((s) => s.files.map((f) => (f as { filePath?: unknown }).filePath))
    .filter((uri): uri is string => typeof uri === 'string')
}
