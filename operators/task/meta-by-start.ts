/**
 * The metadata positions (`base + id·stride`) of the ids holding a region (`meta[m + classAt]`
 * ≠ 0), ordered by the region's start (`meta[m + startAt]`, below 2^31): a stable radix sort,
 * low 16 bits then high, for a compaction that slides regions down in address order (key-regions.ts).
 */
export function metaByStart(meta: Int32Array, base: number, stride: number, startAt: number, classAt: number): Int32Array {
  let n = 0
  for (let m = base; m < meta.length; m += stride) if (meta[m + classAt] !== 0) n++
  let order = new Int32Array(n)
  let k = 0
  for (let m = base; m < meta.length; m += stride) if (meta[m + classAt] !== 0) order[k++] = m
  let next = new Int32Array(n)
  const counts = new Int32Array(1 << 16)
  for (let shift = 0; shift <= 16; shift += 16) {
    counts.fill(0)
    for (let i = 0; i < n; i++) counts[((meta[(order[i] as number) + startAt] as number) >>> shift) & 0xffff]!++
    for (let d = 0, sum = 0; d < counts.length; d++) {
      const c = counts[d] as number
      counts[d] = sum
      sum += c
    }
    for (let i = 0; i < n; i++) {
      const m = order[i] as number
      next[counts[((meta[m + startAt] as number) >>> shift) & 0xffff]!++] = m
    }
    ;[order, next] = [next, order]
  }
  return order
}
