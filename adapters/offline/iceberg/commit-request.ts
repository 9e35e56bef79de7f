/**
 * One caller's request to the offline sink's `commit` (offline-sink.ts), read once when it is made:
 * its data files, the summary properties it writes, and how to tell a base that holds it already
 * (its `kfs.ckpt.<name> = seq` markers, read as maxima over every snapshot). Grouped with others'
 * in one snapshot (group-commit.ts), it is still left out by a base that holds it, alone.
 */
import type { Deadline } from '../../../core/deadline.ts'
import type { StagedFiles } from '../../../ports/offline.ts'
import { checkExtras, type AppendPart } from './append-files.ts'
import type { DataFile } from './manifests.ts'
import { deserializeDataFile } from './staged-data-files.ts'
import type { TableMetadata } from './table-metadata.ts'
import type { TieFreeStaging } from './writer-facts.ts'

export const MARKER_PREFIX = 'kfs.ckpt.'
/** A staged feature file's largest row index (writer-facts.ts); files staged before it lack it. */
export const LARGEST_ROW_INDEX = 'largestRowIndex'
/** A staged feature file's staging, checked tie-free (writer-facts.ts TieFreeStaging); absent: not checked, or ties. */
export const TIE_FREE_STAGING = 'tieFreeStaging'

export interface CommitRequest extends AppendPart {
  /** Every summary key the request writes: two requests sharing one never land in one snapshot. */
  readonly keys: readonly string[]
  readonly dataFiles: readonly DataFile[]
  readonly held: (base: TableMetadata) => boolean
  /** Per staged file, what the writer facts need (writer-facts.ts). */
  readonly largest: readonly (number | undefined)[]
  readonly tieFree: readonly (TieFreeStaging | undefined)[]
  /** Where the caller's retries end (core/deadline.ts); its group's commit gives up at the earliest. */
  readonly until?: Deadline | undefined
}

/**
 * The request, or a clear error when its files or summary cannot be committed (then it fails alone).
 * `uriOf`: the store's URI of a key, where a staged file recorded with its key is now.
 */
export function commitRequest(
  staged: readonly StagedFiles[],
  markers: Readonly<Record<string, number>>,
  summary: Readonly<Record<string, string>>,
  uriOf: (key: string) => string,
): CommitRequest {
  const markerSummary = Object.fromEntries(Object.entries(markers).map(([name, seq]) => [`${MARKER_PREFIX}${name}`, String(seq)]))
  const extras = { ...summary, ...markerSummary }
  checkExtras(extras)
  const files = staged.flatMap((s) => s.files)
  return {
    keys: Object.keys(extras),
    dataFiles: staged.flatMap((s) => s.files.map((f) => deserializeDataFile(f, s.table, uriOf))),
    extras: () => extras,
    held: (base) =>
      Object.keys(markers).length > 0 && Object.entries(markers).every(([name, seq]) => (markersOf(base)[name] ?? 0) >= seq),
    largest: files.map((f) => (f as Record<string, unknown>)[LARGEST_ROW_INDEX] as number | undefined),
    tieFree: files.map((f) => (f as Record<string, unknown>)[TIE_FREE_STAGING] as TieFreeStaging | undefined),
  }
}

/** Per base, its markers: every request of a group asks the same base (up to thousands of snapshots). */
const markersByBase = new WeakMap<TableMetadata, Readonly<Record<string, number>>>()

/** Each marker's highest seq over every snapshot the table keeps (expiry carries expired ones forward). */
export function markersOf(meta: TableMetadata): Readonly<Record<string, number>> {
  const known = markersByBase.get(meta)
  if (known !== undefined) return known
  const out: Record<string, number> = {}
  for (const snapshot of meta.snapshots ?? []) {
    for (const [k, v] of Object.entries(snapshot.summary ?? {})) {
      if (!k.startsWith(MARKER_PREFIX)) continue
      const name = k.slice(MARKER_PREFIX.length)
      out[name] = Math.max(out[name] ?? 0, Number(v))
    }
  }
  markersByBase.set(meta, out)
  return out
}
