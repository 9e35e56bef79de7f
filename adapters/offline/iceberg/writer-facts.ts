/**
 * What kfs's writer vouches for about every row of a feature table, kept in each snapshot's summary
 * and carried forward from snapshot to snapshot, so a reader pinning any snapshot knows them
 * (docs/design.md §6). A training set's join packs (as_of, seq) into
 * 64 bits with them (ports/feature-rows.ts TieKeyBounds; adapters/duckdb/tie-key.ts):
 * - `kfs.as-of-whole-ms` = `true`: every as_of is a whole millisecond. kfs's Parquet writer takes
 *   timestamps as integer epoch ms (it refuses anything else), so every file it writes holds them;
 *   column bounds could not tell (they are µs).
 * - `kfs.seq-index-bits` = n: every seq's row index within its offset (seq & (2^21 − 1),
 *   offline-sink.ts `archiveSeq`) is below 2^n. No Iceberg statistic holds it.
 * A commit keeps the facts only if the snapshot before it had them (or there was none) and every
 * file it adds was staged by this writer (a staged file records its largest row index): a commit
 * by an earlier kfs, another writer, or of files staged before this code leaves them out, and from
 * then on the table has none (a reader then assumes nothing, which is always correct).
 * A compaction rewrites the same rows, so it carries the facts over unchanged.
 * - `kfs.tie-free-as-of-max-ms` = m: no two rows of the table share (entity_key, as_of), and every
 *   as_of is ≤ m ms (`none`: no row yet). A join may then compare as_of alone: the tie rule never
 *   has two rows to choose between. Kept only while every commit vouches for it: each staging it
 *   adds was checked tie-free among its own rows (`tieFreeStagingOf`), the stagings' as_of ranges
 *   are disjoint, and every added as_of lies after m — so no added row can tie with an earlier row
 *   of any key, nor with another added row. A commit that cannot show this (rows at or before m,
 *   overlapping stagings, a staging with a tie or not checked) leaves the fact out, and the table
 *   never has it again (the tie, or a row that might tie, stays in the table). It is stricter than
 *   "no ties": a live table whose commits interleave in as_of (several partitions, late events)
 *   loses it at the first such commit, exactness costing reach.
 */
import type { TieKeyBounds } from '../../../ports/feature-rows.ts'
import { isOfflineRowArray, type OfflineRows } from '../../../ports/offline.ts'
import type { IcebergSchema } from './iceberg-schema.ts'
import type { DataFile } from './manifests.ts'
import { decodeLongBound } from './table-reader.ts'

export const AS_OF_WHOLE_MS_KEY = 'kfs.as-of-whole-ms'
export const SEQ_INDEX_BITS_KEY = 'kfs.seq-index-bits'
export const TIE_FREE_KEY = 'kfs.tie-free-as-of-max-ms'
/** The row index saturates here (offline-sink.ts `archiveSeq`): 21 bits. */
const MAX_ROW_INDEX = 0x1fffff
const MAX_INDEX_BITS = 21

/** The summary properties stating the facts, with `bits` as the row index's width. */
function factsSummary(bits: number, tieFree?: TieFreeMax): Record<string, string> {
  return {
    [AS_OF_WHOLE_MS_KEY]: 'true',
    [SEQ_INDEX_BITS_KEY]: String(bits),
    ...(tieFree === undefined ? {} : { [TIE_FREE_KEY]: tieFree === 'none' ? 'none' : String(tieFree) }),
  }
}

/** The table's largest as_of (ms) under the tie-free fact, or `none` for a table with no row yet. */
type TieFreeMax = number | 'none'

/**
 * One staging checked tie-free among its own rows, with its as_of range (ms). `staging` tells the
 * files of one staging from another's with the same range (a commit's stagings must not overlap).
 */
export interface TieFreeStaging {
  readonly staging: string
  readonly minMs: number
  readonly maxMs: number
}

/** A bitmap over the as_of span when it has at most this many bits (1 MiB), or 64 per row. */
const BITMAP_BITS = 1 << 23

/**
 * `rows`' as_of range when no two of them share (entity key, as_of), else undefined (also for no
 * rows: nothing to stage). Only rows whose as_of occurs more than once can tie, and they are few
 * unless many keys emit at one instant: the repeated as_of are found on numbers alone — a bitmap
 * over the span when it is short (a checkpoint's rows: seconds to minutes), else a sort — and only
 * rows at a repeated as_of have their keys compared. A Map from key to as_of over every row cost
 * ~1 µs a row (1M rows, measured).
 */
export function tieFreeRange(rows: OfflineRows): { readonly minMs: number; readonly maxMs: number } | undefined {
  const n = rows.length
  if (n === 0) return undefined
  const array = isOfflineRowArray(rows) ? rows : undefined
  const columns = array === undefined ? (rows as Exclude<OfflineRows, readonly unknown[]>) : undefined
  const asOf = columns === undefined ? Float64Array.from(array!, (r) => r.asOfMs) : Float64Array.from(columns.asOfMs)
  let minMs = asOf[0]!
  let maxMs = minMs
  for (let i = 1; i < n; i++) {
    const at = asOf[i]!
    if (at < minMs) minMs = at
    else if (at > maxMs) maxMs = at
  }
  const repeated = repeatedValues(asOf, minMs, maxMs)
  if (repeated === undefined) return { minMs, maxMs }
  const keysAt = new Map<number, Set<string>>()
  for (let i = 0; i < n; i++) {
    const at = asOf[i]!
    if (!repeated.has(at)) continue
    const key = columns === undefined ? array![i]!.entityKey : columns.entityKeys[i]!
    let keys = keysAt.get(at)
    if (keys === undefined) keysAt.set(at, (keys = new Set()))
    else if (keys.has(key)) return undefined
    keys.add(key)
  }
  return { minMs, maxMs }
}

/** The values occurring more than once among `values` (integers in [min, max]), or undefined for none. */
function repeatedValues(values: Float64Array, min: number, max: number): Set<number> | undefined {
  let repeated: Set<number> | undefined
  const span = max - min + 1
  if (span <= Math.min(Math.max(BITMAP_BITS, 64 * values.length), 2 ** 31)) {
    const seen = new Uint8Array(Math.ceil(span / 8))
    for (const v of values) {
      const d = v - min
      const byte = d >>> 3
      const bit = 1 << (d & 7)
      if ((seen[byte]! & bit) !== 0) (repeated ??= new Set()).add(v)
      else seen[byte] = seen[byte]! | bit
    }
    return repeated
  }
  const sorted = values.slice().sort()
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) (repeated ??= new Set()).add(sorted[i]!)
  return repeated
}

/** The tie-free fact of a summary: the table's largest as_of, `none` for no row, undefined when absent. */
export function tieFreeMaxOf(summary: Readonly<Record<string, string>> | undefined): TieFreeMax | undefined {
  const value = summary?.[TIE_FREE_KEY]
  if (value === undefined) return undefined
  if (value === 'none') return 'none'
  const ms = Number(value)
  return Number.isSafeInteger(ms) ? ms : undefined
}

/**
 * Whether a staging on a table whose current snapshot has `summary` is worth checking: a table
 * without the fact never regains it, and rows at or before its largest as_of cannot keep it (the
 * snapshot a commit follows is this one or a later one, whose largest as_of is no smaller).
 */
export function tieFreeCheckWorthIt(summary: Readonly<Record<string, string>> | undefined, rowsMinMs: number): boolean {
  if (summary === undefined) return true
  const max = tieFreeMaxOf(summary)
  return max !== undefined && (max === 'none' || rowsMinMs > max)
}

/** The tie-free fact a commit after `parent` adding `stagings` records, or undefined (dropped). */
function nextTieFreeMax(parent: Readonly<Record<string, string>> | undefined, stagings: readonly (TieFreeStaging | undefined)[]): TieFreeMax | undefined {
  let max: TieFreeMax | undefined = parent === undefined ? 'none' : tieFreeMaxOf(parent)
  if (max === undefined || stagings.some((s) => s === undefined)) return undefined
  const ranges = [...new Map(stagings.map((s) => [s!.staging, s!])).values()].sort((a, b) => a.minMs - b.minMs)
  for (const r of ranges) {
    // Strictly after every earlier row and every other staging of this commit: no tie can span them.
    if (max !== 'none' && r.minMs <= max) return undefined
    max = r.maxMs
  }
  return max
}

/** The largest row index among `rows` (as `archiveSeq` stores it: saturated at 2^21 − 1); −1 for none. */
export function largestRowIndex(rows: OfflineRows): number {
  let max = -1
  if (isOfflineRowArray(rows)) {
    for (const r of rows) if (r.origin.seq > max) max = r.origin.seq
  } else {
    const indexes = rows.rowIndexes
    for (let i = 0; i < rows.length; i++) if (indexes[i]! > max) max = indexes[i]!
  }
  return Math.min(max, MAX_ROW_INDEX)
}

/** Bits needed for row indexes up to `largest` (0 when every index is 0 or there is none). */
function bitsFor(largest: number): number {
  return largest <= 0 ? 0 : 32 - Math.clz32(largest)
}

/** The facts of a snapshot summary, or undefined when it lacks them. */
export function writerFactsOf(
  summary: Readonly<Record<string, string>> | undefined,
): { readonly seqIndexBits: number } | undefined {
  if (summary?.[AS_OF_WHOLE_MS_KEY] !== 'true') return undefined
  const bits = Number(summary[SEQ_INDEX_BITS_KEY])
  return Number.isInteger(bits) && bits >= 0 && bits <= MAX_INDEX_BITS ? { seqIndexBits: bits } : undefined
}

/**
 * The facts a commit records: `parent` is the summary of the snapshot it follows (undefined for a
 * table's first), `staged` the largest row index of each file it adds (undefined for a file this
 * writer did not stage), `tieFree` each added file's staging as checked tie-free (undefined: not
 * checked, or ties). Empty when the facts cannot be vouched for; without the tie-free fact when
 * that one cannot.
 */
export function writerFactsSummary(
  parent: Readonly<Record<string, string>> | undefined,
  staged: readonly (number | undefined)[],
  tieFree: readonly (TieFreeStaging | undefined)[] = staged.map(() => undefined),
): Record<string, string> {
  const before = parent === undefined ? { seqIndexBits: 0 } : writerFactsOf(parent)
  if (before === undefined || staged.some((x) => x === undefined)) return {}
  return factsSummary(Math.max(before.seqIndexBits, ...staged.map((x) => bitsFor(x!))), nextTieFreeMax(parent, tieFree))
}

/** The parent's facts as they are (a compaction: same rows), or nothing. */
export function carriedWriterFacts(parent: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const facts = writerFactsOf(parent)
  return facts === undefined ? {} : factsSummary(facts.seqIndexBits, tieFreeMaxOf(parent))
}

/**
 * TieKeyBounds of a snapshot: its summary's facts and the spans of its files' `as_of` and `seq`
 * bounds. Undefined without the facts, without files, or when a file lacks a bound it needs.
 */
export function tieKeyBoundsOf(
  schema: IcebergSchema,
  summary: Readonly<Record<string, string>> | undefined,
  files: readonly DataFile[],
): TieKeyBounds | undefined {
  const facts = writerFactsOf(summary)
  const asOfId = schema.fields.find((f) => f.name === 'as_of')?.id
  const seqId = schema.fields.find((f) => f.name === 'seq')?.id
  if (facts === undefined || asOfId === undefined || seqId === undefined || files.length === 0) return undefined
  let asOfMin: bigint | undefined
  let asOfMax: bigint | undefined
  let seqMin: bigint | undefined
  let seqMax: bigint | undefined
  let seqNullFree = true
  for (const f of files) {
    if (f.nullValueCounts?.get(seqId) !== 0) seqNullFree = false
    const lo = decodeLongBound(f.lowerBounds?.get(asOfId))
    const hi = decodeLongBound(f.upperBounds?.get(asOfId))
    if (lo === undefined || hi === undefined) return undefined
    if (asOfMin === undefined || lo < asOfMin) asOfMin = lo
    if (asOfMax === undefined || hi > asOfMax) asOfMax = hi
    const sLo = decodeLongBound(f.lowerBounds?.get(seqId))
    const sHi = decodeLongBound(f.upperBounds?.get(seqId))
    if (sLo === undefined || sHi === undefined) {
      // No bound: only a file whose every seq is null may lack one.
      if (f.nullValueCounts?.get(seqId) !== f.recordCount) return undefined
      continue
    }
    if (seqMin === undefined || sLo < seqMin) seqMin = sLo
    if (seqMax === undefined || sHi > seqMax) seqMax = sHi
  }
  if (asOfMin === undefined || asOfMax === undefined || asOfMin % 1000n !== 0n || asOfMax % 1000n !== 0n) return undefined
  return {
    asOfMinMs: Number(asOfMin / 1000n),
    asOfMaxMs: Number(asOfMax / 1000n),
    ...(seqMin === undefined || seqMax === undefined ? {} : { seq: { min: seqMin, max: seqMax } }),
    seqIndexBits: facts.seqIndexBits,
    ...(seqNullFree ? { seqNullFree } : {}),
    ...(tieFreeMaxOf(summary) === undefined ? {} : { tieFree: true }),
  }
}
