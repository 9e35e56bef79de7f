/**
 * The key the point-in-time ASOF join compares (duckdb-joiner.ts, Strategy 1): one number per
 * feature row that orders the rows as (as_of, seq) compared field by field, a null seq below every
 * other, and for a label time t the highest key any row with as_of ≤ t can have, so that
 * `as_of ≤ t` ⇔ `key ≤ highestAt(t)` exactly. Three forms, the same rows chosen:
 *
 * - HUGEINT (any table): as_of_µs · 2⁶⁴ + seq, against t · 2⁶⁴ + (2⁶³ − 1). seq ∈ [−2⁶³, 2⁶³) keeps
 *   each as_of in its own interval of 2⁶⁴ values.
 * - BIGINT (when the writer vouches for its rows, ports/feature-rows.ts TieKeyBounds, and the spans
 *   fit): (as_of_ms − minMs) · U + rank, where rank = 0 for a null seq and otherwise
 *   ((seq >> 21) − minOffset) · 2^bits + (seq & (2^bits − 1)) + 1 — the offset and the row index
 *   within it packed densely (the index is below 2^bits) — and U ≥ S, the number of ranks. A label
 *   time is floored to the ms and clamped to [minMs − 1, maxMs]: d = that − minMs + 1 ∈ [0, spanMs],
 *   highestAt = d · U − 1 (−1 before every row: nothing matches; past every row: the last one).
 *   Keys lie in [0, spanMs · U); the form is used only when spanMs · U ≤ 2⁶², so nothing overflows.
 *   U is S rounded up to a multiple of 1000 when that still fits: the feature side then computes
 *   (as_of_µs − minMs · 1000) · (U / 1000) — every as_of is a whole ms, so that is (as_of_ms − minMs) · U
 *   — with no division over the 10⁷ feature rows; otherwise U = S and the µs are divided by 1000.
 *   When no pinned row has a null seq (seqNullFree) the rank skips its coalesce.
 * - as_of alone (AS_OF_KEY), when the writer vouches there are no ties at all (TieKeyBounds.tieFree).
 * The 8-byte key is what makes the BIGINT form cheaper: the ASOF join sorts and compares the keys of
 * all feature rows; what is left of its cost is reading `seq` and this arithmetic, per feature row
 * (docs/performance.md, "Training sets", sessions 15 and 16).
 */
import type { TieKeyBounds } from '../../ports/feature-rows.ts'

export interface TieKeySql {
  readonly type: 'HUGEINT' | 'BIGINT' | 'AS_OF'
  /** The key of a feature row, over its `as_of` (TIMESTAMPTZ) and `seq` (BIGINT) columns. */
  readonly key: string
  /** The highest key of a row with as_of ≤ `tUs` (a BIGINT expression, epoch µs). */
  readonly highestAt: (tUs: string) => string
}

const INT64_MIN = '(-9223372036854775807 - 1)'
const INT64_MAX = '9223372036854775807'
/** 2⁶⁴: as_of · 2⁶⁴ + seq orders as (as_of, seq). */
const TWO_64 = '18446744073709551616'
const INDEX_BITS = 21n
/** Room for the key: spanMs · S must not pass this. */
const MAX_KEYS = 2n ** 62n

export const HUGEINT_TIE_KEY: TieKeySql = {
  type: 'HUGEINT',
  key: `CAST(epoch_us(as_of) AS HUGEINT) * ${TWO_64} + coalesce(seq, ${INT64_MIN})`,
  highestAt: (tUs) => `(CAST(${tUs} AS HUGEINT) * ${TWO_64} + ${INT64_MAX})`,
}

/** A BIGINT literal (DuckDB reads a negative literal as a unary minus on a positive one). */
const literal = (n: bigint): string => (n < 0n ? `(${n})` : String(n))

/** The BIGINT form when `bounds` allow it (see the module comment), else undefined. */
export function packedTieKey(bounds: TieKeyBounds): TieKeySql | undefined {
  const { asOfMinMs, asOfMaxMs, seq, seqIndexBits } = bounds
  if (!Number.isSafeInteger(asOfMinMs) || !Number.isSafeInteger(asOfMaxMs) || asOfMinMs > asOfMaxMs) return undefined
  if (!Number.isInteger(seqIndexBits) || seqIndexBits < 0 || seqIndexBits > Number(INDEX_BITS)) return undefined
  // A negative seq is no archive position (offsets are ≥ 0): kfs never writes one.
  if (seq !== undefined && (seq.min < 0n || seq.min > seq.max)) return undefined
  const minMs = BigInt(asOfMinMs)
  const spanMs = BigInt(asOfMaxMs) - minMs + 1n
  const bits = BigInt(seqIndexBits)
  const minOffset = seq === undefined ? 0n : seq.min >> INDEX_BITS
  const offsets = seq === undefined ? 0n : (seq.max >> INDEX_BITS) - minOffset + 1n
  const ranks = (offsets << bits) + 1n
  if (spanMs * ranks > MAX_KEYS) return undefined
  // rank − 1 = (seq >> 21) · 2^bits + (seq & mask) − minOffset · 2^bits; with every index 0
  // (bits = 0) that is the offset alone, with bits = 21 the seq itself.
  const shift = 1n << bits
  const dense =
    bits === INDEX_BITS
      ? 'seq'
      : bits === 0n
        ? `(seq >> ${INDEX_BITS})`
        : `((seq >> ${INDEX_BITS}) * ${shift} + (seq & ${shift - 1n}))`
  const offsetRank = `${dense} - ${literal(minOffset * shift - 1n)}`
  const rank = seq === undefined ? '0' : bounds.seqNullFree === true ? `(${offsetRank})` : `coalesce(${offsetRank}, 0)`
  // Every as_of is a whole ms ≥ minMs, so the µs difference is 1000 · (as_of_ms − minMs): multiplied
  // by U / 1000 it is the ms times U, and divided by 1000 (when U must stay S) it divides exactly.
  const perMs = (ranks + 999n) / 1000n
  const fitsPerUs = spanMs * perMs * 1000n <= MAX_KEYS
  const unit = fitsPerUs ? perMs * 1000n : ranks
  const sinceMinUs = `(epoch_us(as_of) - ${literal(minMs * 1000n)})`
  const key = fitsPerUs ? `${sinceMinUs} * ${perMs} + ${rank}` : `(${sinceMinUs} // 1000) * ${ranks} + ${rank}`
  // (t clamped to [(minMs − 1) ms, maxMs ms] − (minMs − 1) ms) // 1000 is d, never negative; the
  // label side is one row per label (10× fewer than feature rows), so its floor stays a division.
  const lowUs = (minMs - 1n) * 1000n
  const highUs = BigInt(asOfMaxMs) * 1000n
  return {
    type: 'BIGINT',
    key,
    highestAt: (tUs) =>
      `(((least(greatest(${tUs}, ${literal(lowUs)}), ${literal(highUs)}) - ${literal(lowUs)}) // 1000) * ${unit} - 1)`,
  }
}

/**
 * as_of alone (epoch µs), when the writer vouches that no two rows share (entity_key, as_of)
 * (TieKeyBounds.tieFree): with no ties there is nothing for seq to break, so the join compares what
 * DuckDB's plain ASOF JOIN compares and reads no `seq`. `epoch_us` is the stored value itself.
 */
export const AS_OF_KEY: TieKeySql = {
  type: 'AS_OF',
  key: 'epoch_us(as_of)',
  highestAt: (tUs) => `(${tUs})`,
}

/** The cheapest key `bounds` allow. */
export function tieKeySql(bounds: TieKeyBounds | undefined): TieKeySql {
  if (bounds?.tieFree === true) return AS_OF_KEY
  return (bounds === undefined ? undefined : packedTieKey(bounds)) ?? HUGEINT_TIE_KEY
}
