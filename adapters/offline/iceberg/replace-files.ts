/**
 * A `replace` snapshot: some live data files swapped for others holding the same rows, committed
 * on the fresh table under optimistic concurrency. Both compactions commit through it: the
 * feature tables' (compaction.ts) and the archives' (archive-compaction.ts).
 *
 * Two steps, so that a caller can delete its new data files when the first fails:
 * `prepareReplace` writes the new files' manifest once (every attempt reuses it: its entries
 * inherit the commit's sequence number); `commitReplace` commits. Every manifest of the fresh base
 * that holds a replaced file is rewritten with that entry DELETED and the others EXISTING, with
 * their sequence numbers kept explicit; the rest are carried over as they are — so files a
 * concurrent append committed in between stay. Decoding and encoding pause for the event loop:
 * `kfs run` compacts beside its checkpoints, and merged manifests hold tens of thousands of entries.
 *
 * When a replaced file is no longer live on the fresh base (another compaction replaced it first)
 * the commit ends `superseded`: the same rows are never rewritten twice, nor a row doubled. A
 * manifest whose partition summary rules out every replaced file's partition is carried unread. What
 * an attempt wrote that no metadata names is deleted (best effort): its rewritten manifests when
 * it fails or loses the race, and the new files' manifest when superseded. A commit that gives up
 * reads the table back: its snapshot there, it committed (the answer to its metadata write was
 * lost); absent, the new files and their manifest are deleted too.
 */
import { randomUUID } from 'node:crypto'
import { CommitError } from '../../../core/errors.ts'
import { createYielder, runStepsYielding } from '../../../core/event-loop.ts'
import { distinctPartitions, totalsSummary } from './append-files.ts'
import {
  commitSnapshot,
  keyOfTableUri,
  newSnapshotId,
  refreshTable,
  type CommitOptions,
  type IcebergTable,
} from './iceberg-table.ts'
import {
  decodeManifestSteps,
  encodeManifestSteps,
  partitionSummaries,
  type DataFile,
  type ManifestEntry,
  type ManifestFile,
} from './manifests.ts'
import { currentSchema, currentSnapshot, defaultSpec, specById } from './table-metadata.ts'

/** The reason of the CommitError that ends an attempt whose files to replace are no longer live. */
const REPLACED_ELSEWHERE = 'files to replace are no longer live (a concurrent compaction?)'

const sum = (files: readonly DataFile[], f: (d: DataFile) => number): number => files.reduce((a, d) => a + f(d), 0)

/** The new files, listed in a manifest written for the snapshot `snapshotId`. */
export interface PreparedReplace {
  readonly snapshotId: bigint
  readonly added: readonly DataFile[]
  readonly manifestKey: string
  readonly manifestBytes: Uint8Array
}

export interface ReplaceResult {
  readonly table: IcebergTable
  readonly snapshotId: bigint | undefined
  /** `superseded`: another compaction replaced some of the files first; nothing was committed. */
  readonly status: 'committed' | 'skipped' | 'superseded'
}

/** Writes the manifest of `added` for a replace on `base` (deleted again, best effort, when its write fails). */
export async function prepareReplace(base: IcebergTable, added: readonly DataFile[]): Promise<PreparedReplace> {
  const snapshotId = newSnapshotId(base.metadata.snapshots)
  const manifestKey = `${base.path}/metadata/${randomUUID()}-m0.avro`
  const entries = added.map((dataFile): ManifestEntry => ({
    status: 1,
    snapshotId,
    sequenceNumber: null,
    fileSequenceNumber: null,
    dataFile,
  }))
  const manifestBytes = await runStepsYielding(
    encodeManifestSteps(currentSchema(base.metadata), defaultSpec(base.metadata), entries),
    createYielder(4),
  )
  try {
    await base.store.put(manifestKey, manifestBytes)
  } catch (err: unknown) {
    // A write whose answer was lost may have landed: nothing names it.
    await base.store.delete(manifestKey).catch(() => undefined)
    throw err
  }
  return { snapshotId, added, manifestKey, manifestBytes }
}

/**
 * Commits `prepared` in place of `removed` (same rows) on `base`, `carried` adding summary keys
 * the new snapshot keeps from its parent (what the writer vouched for still holds).
 */
/** The newest version of `base`'s table when it holds the snapshot `snapshotId`, else false. */
async function tableWithSnapshot(base: IcebergTable, snapshotId: bigint): Promise<IcebergTable | false> {
  const fresh = await refreshTable(base)
  return fresh.metadata.snapshots.some((s) => s['snapshot-id'] === snapshotId) ? fresh : false
}

export async function commitReplace(
  base: IcebergTable,
  prepared: PreparedReplace,
  removed: readonly DataFile[],
  carried: (parent: Readonly<Record<string, string>>) => Record<string, string>,
  options: CommitOptions = {},
): Promise<ReplaceResult> {
  const { snapshotId, added, manifestKey, manifestBytes } = prepared
  const schema = currentSchema(base.metadata)
  const spec = defaultSpec(base.metadata)
  const removedPaths = new Set(removed.map((f) => f.filePath))
  const deleteQuietly = async (keys: readonly string[]): Promise<void> => {
    for (const key of keys) await base.store.delete(key).catch(() => undefined)
  }
  // A metadata write without an answer may land after the read-back below: what it names stays.
  let unanswered = false
  const onUnansweredWrite = (): void => {
    unanswered = true
    options.onUnansweredWrite?.()
  }
  let result
  try {
    result = await commitSnapshot(
      base,
      snapshotId,
      async (fresh, baseManifests, seq) => {
        const written: string[] = []
        try {
          return await rebuild(fresh, baseManifests, seq, written)
        } catch (err: unknown) {
          // Before the metadata write: nothing names what this attempt wrote.
          await deleteQuietly(written)
          throw err
        }
      },
      { ...options, onUnansweredWrite },
    )
  } catch (err: unknown) {
    if (!(err instanceof CommitError && err.message === REPLACED_ELSEWHERE)) {
      // The commit gave up (its attempts spent, or a call that ends it): whether its last metadata
      // write landed is read back. Landed, it is a commit; absent, nothing will ever name the new
      // files (the snapshot id is this run's alone), so they go now rather than wait for
      // `--remove-orphans` — unless one of its metadata writes went unanswered (it may land yet);
      // unreadable, the outcome is unknown and they stay.
      const landed = await tableWithSnapshot(base, snapshotId).catch(() => undefined)
      if (landed === undefined) throw err
      if (landed !== false) return { table: landed, snapshotId, status: 'committed' }
      if (unanswered) throw err
      await deleteQuietly([manifestKey, ...added.map((f) => keyOfTableUri(base, f.filePath))])
      throw err
    }
    // Found before this snapshot was (an attempt finds its own landed snapshot first): nothing names its manifest.
    await deleteQuietly([manifestKey])
    return { table: await refreshTable(base), snapshotId: undefined, status: 'superseded' }
  }
  // Found already committed, the snapshot is this run's own whose answer was lost: a commit.
  return {
    table: result.table,
    snapshotId: result.snapshotId,
    status: result.status === 'already-committed' ? 'committed' : result.status,
  }

  async function rebuild(fresh: IcebergTable, baseManifests: readonly ManifestFile[], seq: number, written: string[]) {
    const manifests: ManifestFile[] = [
      {
        manifestPath: fresh.store.uriOf(manifestKey),
        manifestLength: BigInt(manifestBytes.length),
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
    const mayHoldRemoved = manifestMayHold(spec['spec-id'], removed)
    for (const m of baseManifests) {
      if (!mayHoldRemoved(m)) {
        manifests.push(m)
        continue
      }
      const mSpec = specById(fresh.metadata, m.partitionSpecId)
      const bytes = await fresh.store.get(keyOfTableUri(fresh, m.manifestPath))
      if (bytes === undefined) throw new CommitError('COMMIT_FAILED', `manifest ${m.manifestPath} is missing`)
      const old = await runStepsYielding(decodeManifestSteps(bytes, mSpec, m.manifestPath), yieldNowAndThen)
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
      written.push(key)
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
      operation: 'replace' as const,
      manifests,
      // Deleted by the commit when it loses the race: only this attempt's snapshot names them.
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
  }
}

/**
 * Whether manifest `m` may list one of `files` (of the spec `specId`) live: not when it lists no
 * live file, nor when its partition summary (each field's bounds and nulls, manifest list
 * `partitions`) rules out every partition of theirs. A manifest of another spec, or without a
 * summary, may. A commit then reads only the manifests of the partitions it replaces, not the
 * table's whole history; one it skipped that did hold a file would leave that file uncounted, and
 * the commit would end `superseded`, never wrong.
 */
function manifestMayHold(specId: number, files: readonly DataFile[]): (m: ManifestFile) => boolean {
  const partitions = [...new Map(files.map((f) => [JSON.stringify(f.partition), f.partition])).values()]
  const int32 = (b: Uint8Array | null): number | undefined => (b === null || b.length !== 4 ? undefined : new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true))
  return (m) => {
    if (m.content !== 0 || m.partitionSpecId !== specId || m.partitions === null) return true
    if (m.addedFilesCount + m.existingFilesCount === 0) return false
    const summaries = m.partitions
    return partitions.some((p) =>
      p.every((v, i) => {
        const s = summaries[i]
        if (s === undefined) return true
        if (v === null) return s.containsNull
        const lo = int32(s.lowerBound)
        const hi = int32(s.upperBound)
        // A bound not written says nothing.
        return (lo === undefined || lo <= v) && (hi === undefined || v <= hi)
      }),
    )
  }
}
