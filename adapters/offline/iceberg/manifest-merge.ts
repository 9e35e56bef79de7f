/**
 * Manifest merging on append (Iceberg's MergeAppend, fitted to kfs): every append writes one new
 * manifest and carries its parent's forward, so without merging the current snapshot of a table
 * checkpointing every 10 s lists ~250,000 manifests after a month — every read opens each one and
 * every commit's manifest list grows by one.
 *
 * When an append's new manifest list would hold `commit.manifest.min-count-to-merge` (100)
 * manifests or more, the carried manifests (all but the new one) are packed in list order into
 * bins of at most `commit.manifest.target-size-bytes` (8 MB) of manifest bytes, contiguous and of
 * one partition spec each; a bin of two or more is rewritten as one manifest, a bin of one (a full
 * manifest, or one alone between other specs) is carried as it is. Packing in list order keeps
 * every entry where it was in the snapshot's file order, so each snapshot reads the same rows in
 * the same order as without merging. `commit.manifest-merge.enabled=false` turns it off.
 *
 * Entries carried into a merged manifest become EXISTING with their snapshot id, data and file
 * sequence numbers written out (inherited ones resolved from the manifest they came from, as the
 * v2 spec requires of existing entries); DELETED entries are dropped — a delete is recorded once,
 * in the snapshot that made it, whose own manifests still hold it (expiry-cleanup.ts reads them).
 * The merge runs inside the append's commit attempt, on that attempt's base: a lost race redoes it.
 */
import { randomUUID } from 'node:crypto'
import { SinkWriteError } from '../../../core/errors.ts'
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'
import { keyOfTableUri, type IcebergTable } from './iceberg-table.ts'
import { decodeManifestSteps, encodeManifestSteps, partitionSummaries, type ManifestEntry, type ManifestFile } from './manifests.ts'
import { currentSchema, specById, type TableMetadata } from './table-metadata.ts'

export const MERGE_ENABLED_PROPERTY = 'commit.manifest-merge.enabled'
export const MIN_COUNT_TO_MERGE_PROPERTY = 'commit.manifest.min-count-to-merge'
export const TARGET_SIZE_PROPERTY = 'commit.manifest.target-size-bytes'

export interface ManifestMergePolicy {
  readonly enabled: boolean
  readonly minCountToMerge: number
  readonly targetSizeBytes: number
}

/** Manifests read at once while merging: a bin is up to ~100 small GETs. */
const READ_CONCURRENCY = 16

/** The table's merge settings, under Iceberg's property names and with Java's defaults. */
export function mergePolicyOf(meta: TableMetadata): ManifestMergePolicy {
  const props = meta.properties
  const positive = (key: string, fallback: number): number => {
    const n = Number(props[key])
    return props[key] !== undefined && Number.isSafeInteger(n) && n > 0 ? n : fallback
  }
  return {
    enabled: props[MERGE_ENABLED_PROPERTY]?.trim().toLowerCase() !== 'false',
    minCountToMerge: positive(MIN_COUNT_TO_MERGE_PROPERTY, 100),
    targetSizeBytes: positive(TARGET_SIZE_PROPERTY, 8 * 1024 * 1024),
  }
}

export interface MergedManifests {
  /** The carried manifests after merging, in the order they were listed. */
  readonly manifests: readonly ManifestFile[]
  /** Keys of the merged manifests written (the attempt's own: deleted when it loses the race). */
  readonly written: readonly string[]
  /** Manifests no longer listed (replaced by the merged ones). */
  readonly replaced: number
}

/** Contiguous runs of one spec, each filled in list order up to the target size. */
function packBins(manifests: readonly ManifestFile[], targetSizeBytes: number): ManifestFile[][] {
  const bins: ManifestFile[][] = []
  let bin: ManifestFile[] = []
  let size = 0
  for (const m of manifests) {
    const fits =
      bin.length > 0 &&
      bin[0]!.partitionSpecId === m.partitionSpecId &&
      bin[0]!.content === m.content &&
      size + Number(m.manifestLength) <= targetSizeBytes
    if (!fits && bin.length > 0) {
      bins.push(bin)
      bin = []
      size = 0
    }
    bin.push(m)
    size += Number(m.manifestLength)
  }
  if (bin.length > 0) bins.push(bin)
  return bins
}

async function readManifest(table: IcebergTable, m: ManifestFile, yieldNowAndThen: () => Promise<void>): Promise<ManifestEntry[]> {
  const bytes = await table.store.get(keyOfTableUri(table, m.manifestPath))
  if (bytes === undefined) throw new SinkWriteError('OBJECT_NOT_FOUND', `manifest ${m.manifestPath} is missing`)
  return runStepsYielding(decodeManifestSteps(bytes, specById(table.metadata, m.partitionSpecId), m.manifestPath), yieldNowAndThen)
}

async function readAll(table: IcebergTable, bin: readonly ManifestFile[], yieldNowAndThen: () => Promise<void>): Promise<ManifestEntry[][]> {
  const out: ManifestEntry[][] = []
  for (let i = 0; i < bin.length; i += READ_CONCURRENCY)
    out.push(...(await Promise.all(bin.slice(i, i + READ_CONCURRENCY).map((m) => readManifest(table, m, yieldNowAndThen)))))
  return out
}

/** One merged manifest holding the live entries of `bin`, in order; undefined when none is live. */
async function mergeBin(
  base: IcebergTable,
  bin: readonly ManifestFile[],
  snapshotId: bigint,
  sequenceNumber: number,
  yieldNowAndThen: () => Promise<void>,
): Promise<{ manifest: ManifestFile; key: string } | undefined> {
  const spec = specById(base.metadata, bin[0]!.partitionSpecId)
  const entries: ManifestEntry[] = []
  const contents = await readAll(base, bin, yieldNowAndThen)
  bin.forEach((m, i) => {
    for (const e of contents[i]!) {
      if (e.status === 2) continue
      entries.push({
        status: 0,
        snapshotId: e.snapshotId ?? m.addedSnapshotId,
        sequenceNumber: e.sequenceNumber ?? m.sequenceNumber,
        fileSequenceNumber: e.fileSequenceNumber ?? m.sequenceNumber,
        dataFile: e.dataFile,
      })
    }
  })
  if (entries.length === 0) return undefined
  const key = `${base.path}/metadata/${randomUUID()}-m2.avro`
  const bytes = await runStepsYielding(encodeManifestSteps(currentSchema(base.metadata), spec, entries), yieldNowAndThen)
  await base.store.put(key, bytes)
  const files = entries.map((e) => e.dataFile)
  return {
    key,
    manifest: {
      manifestPath: base.store.uriOf(key),
      manifestLength: BigInt(bytes.length),
      partitionSpecId: spec['spec-id'],
      content: 0,
      sequenceNumber: BigInt(sequenceNumber),
      minSequenceNumber: entries.reduce((a, e) => (e.sequenceNumber! < a ? e.sequenceNumber! : a), BigInt(sequenceNumber)),
      addedSnapshotId: snapshotId,
      addedFilesCount: 0,
      existingFilesCount: entries.length,
      deletedFilesCount: 0,
      addedRowsCount: 0n,
      existingRowsCount: files.reduce((a, f) => a + BigInt(f.recordCount), 0n),
      deletedRowsCount: 0n,
      partitions: partitionSummaries(spec, files),
    },
  }
}

/**
 * `carried` (the base's manifests an append keeps, in list order) merged when the new list, with
 * `adding` new manifests in front, would reach the table's min count; unchanged otherwise.
 *
 * The merged manifest grows with every merge until it reaches the target size, and reading and
 * writing it is synchronous CPU on the committing engine's thread (8 MB: ~40,000 entries, 6 s on a
 * loaded machine), so both pause now and then (`yieldNowAndThen`) for the engine's other work.
 */
export async function mergeCarriedManifests(
  base: IcebergTable,
  carried: readonly ManifestFile[],
  adding: number,
  snapshotId: bigint,
  sequenceNumber: number,
  yieldNowAndThen: () => Promise<void> = createYielder(4),
): Promise<MergedManifests> {
  const policy = mergePolicyOf(base.metadata)
  if (!policy.enabled || adding + carried.length < policy.minCountToMerge) return { manifests: carried, written: [], replaced: 0 }
  const manifests: ManifestFile[] = []
  const written: string[] = []
  let replaced = 0
  for (const bin of packBins(carried, policy.targetSizeBytes)) {
    if (bin.length === 1) {
      manifests.push(bin[0]!)
      continue
    }
    const merged = await mergeBin(base, bin, snapshotId, sequenceNumber, yieldNowAndThen)
    replaced += bin.length
    if (merged === undefined) continue
    manifests.push(merged.manifest)
    written.push(merged.key)
  }
  return { manifests, written, replaced }
}
