/**
 * `append` commits: add data files in one new snapshot whose summary carries the caller's extra
 * properties (the engine stores checkpoint offsets there, e.g. `kfs.offsets`).
 */
import { randomUUID } from 'node:crypto'
import { SinkWriteError } from '../../../core/errors.ts'
import { commitSnapshot, keyOfTableUri, newSnapshotId, type CommitOptions, type CommitResult, type IcebergTable } from './iceberg-table.ts'
import { mergeCarriedManifests } from './manifest-merge.ts'
import { encodeManifest, partitionSummaries, type DataFile, type ManifestFile } from './manifests.ts'
import { currentSchema, currentSnapshot, defaultSpec, type TableMetadata } from './table-metadata.ts'

const STANDARD_KEYS = new Set([
  'operation',
  'added-data-files',
  'deleted-data-files',
  'added-records',
  'deleted-records',
  'added-files-size',
  'removed-files-size',
  'changed-partition-count',
  'total-data-files',
  'total-records',
  'total-files-size',
  'total-delete-files',
  'total-position-deletes',
  'total-equality-deletes',
  'manifests-created',
  'manifests-kept',
  'manifests-replaced',
])

export interface AppendOptions extends CommitOptions {
  /** Skip the commit when the fresh base already shows it (e.g. its `kfs.offsets` reach ours). */
  readonly skipIf?: (base: TableMetadata) => boolean
}

export interface Totals {
  readonly files: number
  readonly records: number
  readonly bytes: number
}

function parentTotals(meta: TableMetadata): Totals {
  const summary = currentSnapshot(meta)?.summary ?? {}
  const n = (k: string): number => Number(summary[k] ?? '0')
  return { files: n('total-data-files'), records: n('total-records'), bytes: n('total-files-size') }
}

export function totalsSummary(t: Totals): Record<string, string> {
  return {
    'total-data-files': String(t.files),
    'total-records': String(t.records),
    'total-files-size': String(t.bytes),
    'total-delete-files': '0',
    'total-position-deletes': '0',
    'total-equality-deletes': '0',
  }
}

export function checkExtras(extras: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(extras)) {
    if (STANDARD_KEYS.has(k)) throw new SinkWriteError('SINK_REJECTED', `summary key ${k} is reserved by Iceberg`)
    if (typeof v !== 'string') throw new SinkWriteError('SINK_REJECTED', `summary value of ${k} must be a string`)
  }
}

export function distinctPartitions(files: readonly DataFile[]): number {
  return new Set(files.map((f) => JSON.stringify(f.partition))).size
}

/**
 * One caller's share of an append that may land together with others' in one snapshot (the sink's
 * group commit, offline-sink.ts): its files, its summary properties on the base the snapshot lands
 * on, and whether that base already holds it — then it is left out, and the others still land.
 */
export interface AppendPart {
  readonly dataFiles: readonly DataFile[]
  readonly extras: (base: TableMetadata) => Readonly<Record<string, string>>
  readonly held?: (base: TableMetadata) => boolean
}

export interface AppendPartsOptions<P extends AppendPart> extends CommitOptions {
  /** Summary properties of the snapshot as a whole, given the base and the parts landing in it. */
  readonly sharedExtras?: (base: TableMetadata, landing: readonly P[]) => Readonly<Record<string, string>>
}

/**
 * `summaryExtras`: the caller's summary properties, or a function of the base the commit lands on
 * (for properties carried forward from the snapshot before, writer-facts.ts); it runs again on
 * every retry.
 */
export async function appendFiles(
  table: IcebergTable,
  dataFiles: readonly DataFile[],
  summaryExtras: Readonly<Record<string, string>> | ((base: TableMetadata) => Readonly<Record<string, string>>) = {},
  options: AppendOptions = {},
): Promise<CommitResult> {
  const extras = typeof summaryExtras === 'function' ? summaryExtras : () => summaryExtras
  checkExtras(extras(table.metadata))
  const { skipIf, ...commit } = options
  return appendParts(table, [{ dataFiles, extras, ...(skipIf === undefined ? {} : { held: skipIf }) }], commit)
}

/**
 * Appends the parts' files in one snapshot. Each attempt leaves out the parts its fresh base holds
 * already (`held`) and skips the commit when that is all of them; the snapshot's summary is every
 * landing part's extras and the shared ones. Parts must not share summary keys (the caller groups
 * them so): one part's value would hide another's.
 */
export async function appendParts<P extends AppendPart>(table: IcebergTable, parts: readonly P[], options: AppendPartsOptions<P> = {}): Promise<CommitResult> {
  const { sharedExtras, ...commit } = options
  // Each file as this store names it: one a checkpoint record staged in a data folder since moved
  // or copied is recorded under the old one (table-locations.ts); a manifest naming that would
  // send readers of a copy to the original's files.
  const filesOf = new Map(parts.map((part) => [part, part.dataFiles.map((f) => ({ ...f, filePath: table.store.uriOf(keyOfTableUri(table, f.filePath)) }))]))
  const snapshotId = newSnapshotId(table.metadata.snapshots)
  const spec = defaultSpec(table.metadata)
  const schema = currentSchema(table.metadata)
  // A manifest per set of landing parts, written once and reused by every attempt with that set
  // (its entries inherit sequence numbers): a retry leaves a part out only when another writer
  // committed it meanwhile.
  const manifests = new Map<string, Omit<ManifestFile, 'sequenceNumber' | 'minSequenceNumber'>>()
  const manifestOf = async (dataFiles: readonly DataFile[], landing: string, added: Totals) => {
    const known = manifests.get(landing)
    if (known !== undefined) return known
    const key = `${table.path}/metadata/${randomUUID()}-m0.avro`
    const bytes = encodeManifest(
      schema,
      spec,
      dataFiles.map((dataFile) => ({ status: 1, snapshotId, sequenceNumber: null, fileSequenceNumber: null, dataFile })),
    )
    await table.store.put(key, bytes)
    const manifest = {
      manifestPath: table.store.uriOf(key),
      manifestLength: BigInt(bytes.length),
      partitionSpecId: spec['spec-id'],
      content: 0,
      addedSnapshotId: snapshotId,
      addedFilesCount: dataFiles.length,
      existingFilesCount: 0,
      deletedFilesCount: 0,
      addedRowsCount: BigInt(added.records),
      existingRowsCount: 0n,
      deletedRowsCount: 0n,
      partitions: partitionSummaries(spec, dataFiles),
    }
    manifests.set(landing, manifest)
    return manifest
  }
  const landingOn = (base: TableMetadata): P[] => parts.filter((part) => part.held?.(base) !== true)
  return commitSnapshot(
    table,
    snapshotId,
    async (base, baseManifests, seq) => {
      const landing = landingOn(base.metadata)
      const dataFiles = landing.flatMap((part) => filesOf.get(part)!)
      const added = { files: dataFiles.length, records: 0, bytes: 0 }
      for (const f of dataFiles) {
        added.records += f.recordCount
        added.bytes += f.fileSizeInBytes
      }
      const parent = parentTotals(base.metadata)
      const extras: Record<string, string> = {}
      for (const part of landing) Object.assign(extras, part.extras(base.metadata))
      Object.assign(extras, sharedExtras?.(base.metadata, landing))
      checkExtras(extras)
      const addedSummary: Record<string, string> =
        dataFiles.length === 0
          ? {}
          : {
              'added-data-files': String(added.files),
              'added-records': String(added.records),
              'added-files-size': String(added.bytes),
              'changed-partition-count': String(distinctPartitions(dataFiles)),
            }
      const manifest = dataFiles.length === 0 ? undefined : await manifestOf(dataFiles, landing.map((part) => parts.indexOf(part)).join(','), added)
      // Merged on this attempt's base: a retry after a lost race merges the fresh base's manifests.
      const adding = manifest === undefined ? 0 : 1
      const carried = await mergeCarriedManifests(base, baseManifests, adding, snapshotId, seq)
      // Iceberg's counts, written when a merge replaced manifests: snapshot expiry looks for them.
      const mergeSummary: Record<string, string> =
        carried.replaced === 0
          ? {}
          : {
              'manifests-created': String(adding + carried.written.length),
              'manifests-kept': String(carried.manifests.length - carried.written.length),
              'manifests-replaced': String(carried.replaced),
            }
      return {
        operation: 'append',
        manifests: manifest === undefined ? carried.manifests : [{ ...manifest, sequenceNumber: BigInt(seq), minSequenceNumber: BigInt(seq) }, ...carried.manifests],
        written: carried.written,
        summary: {
          ...extras,
          ...addedSummary,
          ...mergeSummary,
          ...totalsSummary({ files: parent.files + added.files, records: parent.records + added.records, bytes: parent.bytes + added.bytes }),
        },
      }
    },
    { ...commit, skipIf: (base) => landingOn(base).length === 0 },
  )
}
