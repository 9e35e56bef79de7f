/**
 * When change-view state may be forgotten (docs/design.md §11, §2): a deleted key, an empty group
 * or a retracted member whose time c satisfies c ≤ watermark − allowedLateness can never be
 * touched by an accepted change again (every accepted time is > watermark − allowedLateness), so
 * dropping it changes no output. Entries are candidates only: the owner re-checks its state when
 * one comes due (lazy deletion keeps pushes O(log n) and needs no removal by key).
 */
export interface DropCandidate {
  /** Watermark at which the candidate may be dropped: its c + allowedLateness. */
  readonly atMs: number
  readonly key: string
  /** A member inside the key's state (current-state views), or undefined for the key itself. */
  readonly member: string | undefined
}

export class DropQueue {
  readonly #heap: DropCandidate[] = []

  get size(): number {
    return this.#heap.length
  }

  push(candidate: DropCandidate): void {
    const heap = this.#heap
    heap.push(candidate)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as DropCandidate).atMs <= candidate.atMs) break
      heap[i] = heap[parent] as DropCandidate
      i = parent
    }
    heap[i] = candidate
  }

  /** The earliest candidate due at `watermarkMs`, removed; undefined when none is due. */
  popDue(watermarkMs: number): DropCandidate | undefined {
    const heap = this.#heap
    const top = heap[0]
    if (top === undefined || !(top.atMs <= watermarkMs)) return undefined
    const last = heap.pop() as DropCandidate
    if (heap.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= heap.length) break
        const r = l + 1
        const child = r < heap.length && (heap[r] as DropCandidate).atMs < (heap[l] as DropCandidate).atMs ? r : l
        if ((heap[child] as DropCandidate).atMs >= last.atMs) break
        heap[i] = heap[child] as DropCandidate
        i = child
      }
      heap[i] = last
    }
    return top
  }
}
