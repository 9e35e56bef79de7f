/**
 * last_n(N): the N latest values (event time, ties → higher offset is later), newest first;
 * empty → []. Keeping only N per tile is exact: the N latest of a union are among the N latest
 * of each part.
 *
 * Window reads (`finishRange`): every entry of a later tile is later in event order than every
 * entry of an earlier one (tiles partition time), so the ascending merge of a window's lists is
 * their concatenation from the newest tile down, cut at N — no entry comparisons. A tile whose
 * list holds one number (the commonest tile: one event) is read from its mirror, the value itself
 * unboxed in the tile's numeric slots: neither the list nor a boxed number is loaded.
 *
 * Accumulator: at most N entries, newest first, flattened into one array as
 * `[eventTimeMs, offset, value, eventTimeMs, offset, value, …]` — no object per entry (tiles
 * are many and small). Encoding: uvarint entry count, then per entry f64 eventTimeMs,
 * str offset, scalar value.
 */
import { InvariantViolation } from '../../core/errors.ts'
import type { FeatureValue } from '../../features/types.ts'
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { defineAggregation, mainOutput, scalarTypeOf, single, sizeParam } from './contract.ts'
import { SCALARS } from './input-check.ts'
import { compareEventOrder, readScalar, writeScalar, type AggInput, type Aggregator } from './types.ts'

/** The largest N a definition may ask for (a row holds N values). */
export const MAX_LAST_N = 1000

/** Flattened entries, newest first: time at 3i, offset at 3i+1, value at 3i+2. */
export type LastNAcc = (number | string)[]

/** The slots of one entry. */
export const LAST_N_ENTRY = 3

/** Positive when entry i of `a` comes after entry j of `b` in event order. */
function compareAt(a: LastNAcc, i: number, b: LastNAcc, j: number): number {
  return compareEventOrder(a[i * 3] as number, a[i * 3 + 1] as string, b[j * 3] as number, b[j * 3 + 1] as string)
}

/** The mirror of a list: its value while it holds exactly one entry and that is a number; else NaN. */
function onlyNumber(list: LastNAcc): number {
  const value = list.length === LAST_N_ENTRY ? list[2] : undefined
  return typeof value === 'number' ? value : Number.NaN
}

export function lastNKernel(n: number): Aggregator<LastNAcc> {
  if (!Number.isSafeInteger(n) || n < 1) throw new InvariantViolation(`last_n needs a positive whole N, got ${n}`)
  const finish = (acc: LastNAcc): FeatureValue => {
    const out: AggInput[] = []
    for (let i = 2; i < acc.length; i += 3) out.push(acc[i] as AggInput)
    // A list mixes numbers and strings only if the field's type does.
    return out as FeatureValue
  }
  return {
    name: 'last_n',
    accEncoding: `uvarint length (≤ ${n}), then per entry f64 eventTimeMs, str offset, u8 tag + f64|str value; newest first`,
    input: SCALARS,
    init: () => [],
    add: (acc, value, eventTimeMs, offset) => {
      const count = acc.length / 3
      let i = 0
      while (i < count && compareEventOrder(acc[i * 3] as number, acc[i * 3 + 1] as string, eventTimeMs, offset) > 0) i++
      if (i >= n) return acc
      // Rebuilt at exact length: a grown array keeps slack, and there is one per tile.
      const kept = count < n ? count : n - 1
      const out: LastNAcc = new Array<number | string>((kept + 1) * 3)
      for (let j = 0; j < i * 3; j++) out[j] = acc[j] as number | string
      out[i * 3] = eventTimeMs
      out[i * 3 + 1] = offset
      out[i * 3 + 2] = value
      for (let j = i * 3; j < kept * 3; j++) out[j + 3] = acc[j] as number | string
      return out
    },
    merge: (into, from) => {
      if (from.length === 0) return into
      if (into.length === 0) return from.slice(0, n * 3)
      const ni = into.length / 3
      const nf = from.length / 3
      const total = ni + nf < n ? ni + nf : n
      const out: LastNAcc = new Array<number | string>(total * 3)
      let i = 0
      let j = 0
      for (let k = 0; k < total; k++) {
        if (j >= nf || (i < ni && compareAt(into, i, from, j) > 0)) {
          out[k * 3] = into[i * 3] as number
          out[k * 3 + 1] = into[i * 3 + 1] as string
          out[k * 3 + 2] = into[i * 3 + 2] as AggInput
          i++
        } else {
          out[k * 3] = from[j * 3] as number
          out[k * 3 + 1] = from[j * 3 + 1] as string
          out[k * 3 + 2] = from[j * 3 + 2] as AggInput
          j++
        }
      }
      return out
    },
    finish,
    mirror: onlyNumber,
    // A NaN mirror (no single number; or the value NaN itself) reads the list.
    finishRange: (accs, from, stride, count, mirrors, mirrorFrom, mirrorStride) => {
      if (count === 1) {
        const single = mirrors[mirrorFrom] as number
        return single === single ? ([single] as FeatureValue) : finish(accs[from] as LastNAcc)
      }
      const out: AggInput[] = []
      for (let i = count - 1; i >= 0 && out.length < n; i--) {
        const single = mirrors[mirrorFrom + i * mirrorStride] as number
        if (single === single) {
          out.push(single)
          continue
        }
        const list = accs[from + i * stride] as LastNAcc
        for (let j = 2; j < list.length && out.length < n; j += 3) out.push(list[j] as AggInput)
      }
      // A list mixes numbers and strings only if the field's type does (finish casts the same way).
      return out as FeatureValue
    },
    encode: (acc, w: ByteWriter) => {
      w.uvarint(acc.length / 3)
      for (let i = 0; i < acc.length; i += 3) {
        w.f64(acc[i] as number)
        w.str(acc[i + 1] as string)
        writeScalar(w, acc[i + 2] as AggInput)
      }
    },
    decode: (r: ByteReader) => {
      const len = r.uvarint()
      const acc: LastNAcc = new Array<number | string>(len * 3)
      for (let i = 0; i < len; i++) {
        acc[i * 3] = r.f64()
        acc[i * 3 + 1] = r.str()
        acc[i * 3 + 2] = readScalar(r)
      }
      return acc
    },
  }
}

export const lastN = defineAggregation({
  op: 'last_n',
  summary: "the N latest values, newest first, as a list of the field's type; empty → []",
  field: 'required',
  fields: 'scalar',
  params: [sizeParam('last_n', 'n', MAX_LAST_N, `how many values to keep (1 to ${MAX_LAST_N})`, 10)],
  outputs: [mainOutput((kind) => `${scalarTypeOf(kind)}[]`)],
  label: () => 'last_n',
  compute: (p: { readonly n: number }) => single(lastNKernel(p.n)),
  listSize: (p: { readonly n: number }) => ({ max: p.n, phrase: `last ${p.n} strings`, knob: "last_n's n" }),
})
