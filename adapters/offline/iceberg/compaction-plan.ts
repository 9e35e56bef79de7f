/**
 * Which day partitions of a feature table a compaction rewrites (compaction.ts), and their files
 * in commit order — read at a cost that grows with what changed since the last attempt, not with
 * the table's history. Listing every live file decoded every manifest of the table at every
 * attempt: `kfs run` tries each table every 10 minutes, and a table of months holds hundreds of
 * manifests of partitions compacted long ago.
 *
 * The choice is exactly the full scan's: per partition, the live files of the default spec and
 * their rows decide whether it is worth compacting; the oldest such are chosen. What is skipped
 * cannot change it:
 * - a manifest of another partition spec (its files are never compacted here), or with no live
 *   entry (its added and existing counts 0);
 * - a manifest whose summary of the day field (manifest list `partitions`, lower bound, no nulls)
 *   starts at or after the cutoff day: every file it lists is too young;
 * - a manifest read before (`ManifestCountsMemory`): a manifest is never rewritten in place (a
 *   change writes a new one under a new name), so the files and rows per partition found in it
 *   then are what it holds now. A steady attempt reads only the manifests new since the last one.
 * Only the manifests that hold a chosen partition are read for its files (those read this attempt
 * are not read twice), in manifest-list order, so a partition's files keep the full scan's order.
 */
import { createYielder } from '../../../core/event-loop.ts'
import { compactedFileCount } from './compaction-rewrite.ts'
import { manifestsOf, type IcebergTable } from './iceberg-table.ts'
import type { DataFile, ManifestFile } from './manifests.ts'
import { currentSnapshot, defaultSpec } from './table-metadata.ts'
import { liveEntriesOfManifest, type LiveEntry } from './table-reader.ts'

type Partition = readonly (number | null)[]

interface PartitionCount {
  readonly partition: Partition
  files: number
  rows: number
}

/** Live files and rows per partition (keyed by its tuple as JSON) of one manifest. */
type ManifestCounts = ReadonlyMap<string, PartitionCount>

/**
 * What earlier attempts found in each manifest of one table, by path. Kept by the caller across
 * attempts (automatic-compaction.ts, per table); only the current manifest list's are kept.
 */
export class ManifestCountsMemory {
  readonly #byPath = new Map<string, ManifestCounts>()

  get size(): number {
    return this.#byPath.size
  }

  get(path: string): ManifestCounts | undefined {
    return this.#byPath.get(path)
  }

  set(path: string, counts: ManifestCounts): void {
    this.#byPath.set(path, counts)
  }

  /** Forgets manifests no longer listed: they are never listed again. */
  keepOnly(paths: ReadonlySet<string>): void {
    for (const path of this.#byPath.keys()) if (!paths.has(path)) this.#byPath.delete(path)
  }
}

export interface PlanOptions {
  /** Day partitions strictly before this day (days since epoch). */
  readonly olderThanDay?: number
  readonly partitionFilter?: (partition: Partition) => boolean
  readonly minFiles?: number
  readonly maxRowsPerFile: number
  readonly maxPartitions?: number
  readonly memory?: ManifestCountsMemory
}

export interface CompactionPlan {
  /** The chosen partitions' files, oldest partition first, each in commit order. */
  readonly partitions: readonly (readonly DataFile[])[]
  /** Manifests this plan decoded (the rest skipped or remembered). */
  readonly manifestsRead: number
}

const keyOf = (p: Partition): string => JSON.stringify(p)

export async function planCompaction(base: IcebergTable, options: PlanOptions): Promise<CompactionPlan> {
  const spec = defaultSpec(base.metadata)
  const dayIndex = spec.fields.findIndex((f) => f.transform === 'day')
  const { olderThanDay, partitionFilter, memory } = options
  const accept = (p: Partition): boolean => {
    if (partitionFilter !== undefined && !partitionFilter(p)) return false
    if (olderThanDay !== undefined) {
      const day = dayIndex < 0 ? null : p[dayIndex]
      if (day === null || day === undefined || day >= olderThanDay) return false
    }
    return true
  }
  const mayHoldCandidates = (m: ManifestFile): boolean => {
    // A delete manifest is read, and refused, as the full scan would.
    if (m.content !== 0) return true
    if (m.partitionSpecId !== spec['spec-id'] || m.addedFilesCount + m.existingFilesCount === 0) return false
    if (olderThanDay === undefined || dayIndex < 0) return true
    const day = m.partitions?.[dayIndex]
    const lower = day?.lowerBound
    if (day === undefined || day.containsNull || lower === null || lower === undefined || lower.length !== 4) return true
    return new DataView(lower.buffer, lower.byteOffset, 4).getInt32(0, true) < olderThanDay
  }

  const manifests = await manifestsOf(base, currentSnapshot(base.metadata))
  memory?.keepOnly(new Set(manifests.map((m) => m.manifestPath)))
  const yieldNowAndThen = createYielder(4)
  let manifestsRead = 0
  const read = async (m: ManifestFile): Promise<LiveEntry[]> => {
    manifestsRead++
    return liveEntriesOfManifest(base, m, yieldNowAndThen)
  }
  // Entries of accepted partitions of the manifests read here, for the second pass.
  const readNow = new Map<ManifestFile, LiveEntry[]>()
  const countsOf = new Map<ManifestFile, ManifestCounts>()
  const totals = new Map<string, PartitionCount>()
  for (const m of manifests) {
    if (!mayHoldCandidates(m)) continue
    let counts = memory?.get(m.manifestPath)
    if (counts === undefined) {
      const entries = await read(m)
      counts = countByPartition(entries)
      memory?.set(m.manifestPath, counts)
      readNow.set(
        m,
        entries.filter((e) => accept(e.dataFile.partition)),
      )
    }
    countsOf.set(m, counts)
    for (const [key, c] of counts) {
      if (!accept(c.partition)) continue
      const total = totals.get(key)
      if (total === undefined) totals.set(key, { partition: c.partition, files: c.files, rows: c.rows })
      else {
        total.files += c.files
        total.rows += c.rows
      }
    }
  }
  const worthIt = [...totals.values()].filter(
    (c) => c.files >= (options.minFiles ?? 2) && c.files > compactedFileCount(c.rows, options.maxRowsPerFile),
  )
  // Oldest first: a run bounded by maxPartitions works through a backlog from its start.
  const chosen = worthIt.sort((a, b) => comparePartitions(a.partition, b.partition)).slice(0, options.maxPartitions ?? Infinity)
  const groups = new Map<string, LiveEntry[]>(chosen.map((c) => [keyOf(c.partition), []]))
  if (groups.size > 0)
    for (const m of manifests) {
      const counts = countsOf.get(m)
      if (counts === undefined || ![...groups.keys()].some((key) => counts.has(key))) continue
      for (const e of readNow.get(m) ?? (await read(m))) groups.get(keyOf(e.dataFile.partition))?.push(e)
    }
  return { partitions: [...groups.values()].map(inCommitOrder), manifestsRead }
}

function countByPartition(entries: readonly LiveEntry[]): ManifestCounts {
  const out = new Map<string, PartitionCount>()
  for (const e of entries) {
    const key = keyOf(e.dataFile.partition)
    const c = out.get(key)
    if (c === undefined) out.set(key, { partition: e.dataFile.partition, files: 1, rows: e.dataFile.recordCount })
    else {
      c.files++
      c.rows += e.dataFile.recordCount
    }
  }
  return out
}

/**
 * Commit order: by data sequence number. Files of one sequence number are one commit's, listed in
 * one manifest in the order they were written (a merged manifest keeps it), kept as listed.
 */
function inCommitOrder(group: readonly LiveEntry[]): DataFile[] {
  return group
    .map((e, i) => ({ e, i }))
    .sort((a, b) =>
      a.e.dataSequenceNumber === b.e.dataSequenceNumber ? a.i - b.i : a.e.dataSequenceNumber < b.e.dataSequenceNumber ? -1 : 1,
    )
    .map((x) => x.e.dataFile)
}

/** Partition tuples in order of their values (a day partition: by day), nulls first. */
function comparePartitions(a: Partition, b: Partition): number {
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
