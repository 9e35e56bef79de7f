/**
 * Event-time alignment of the source partitions one re-key stage member owns (docs/semantics.md
 * §16): pure bookkeeping, no I/O — the stage asks how much of a batch may go, tells what went, and
 * pauses or resumes partitions as told.
 *
 * Why: every internal partition interleaves the records of all source partitions in the order the
 * stage commits them. Forwarding whole backlog batches one source partition after the other makes
 * the internal topic's event time jump back by a batch's span, and the views then refuse good
 * events as late. Kafka Streams and Flink (watermark alignment) solve it the same way: a source
 * partition may run ahead of the slowest pending one by a bounded skew only.
 *
 * Strategy, per owned source partition ("lane"):
 * 1. A lane is `unseen` (no batch since the assignment), `caught-up` (its last batch ended at the
 *    high watermark), `held` (records the stage has seen are not forwarded yet: its head, the event
 *    time of the first of them, is known) or `moving` (all it has seen went, more is pending: its
 *    next record is estimated at the event time of the last one forwarded).
 * 2. The first batch of an unseen lane while other lanes are unseen too is only looked at: its
 *    head is noted, nothing goes, and it comes again in the next fetch round — by then the other
 *    lanes with records have shown their heads as well (after an assignment, a restart included,
 *    the smallest head goes first instead of whichever partition the client fetched first).
 * 3. A batch of lane p may forward the prefix of records with event time ≤ cap, where
 *    cap = min(head of every other held lane) + skew, and, while some other lane is `moving` or
 *    `unseen`, also ≤ max(their estimate, p's own head) + skew (an unseen lane's estimate is −∞, so
 *    it caps p at its own head + skew). Records without an event time never stop the prefix.
 * 4. A batch of which nothing may go pauses its lane (`held`, with its head); after every
 *    forwarded batch and every assignment change, each paused lane whose head is ≤ its cap again
 *    is resumed.
 *
 * Invariants: only `held` heads — records that exist and will be delivered — can pause a lane;
 * estimates and unseen lanes only slow a lane to `skew` per batch (and cost one first look). So the held lane with
 * the smallest head is always allowed its head (no deadlock), and a lane the stage wrongly thinks
 * pending (e.g. only a transaction marker left) cannot stop the others.
 * Bound: while the lanes stay held or moving (a backlog), a record goes only when it is within
 * skew of every other pending lane's next record, so an internal partition's event time goes back
 * by at most skew + the source's own disorder. Not covered: lanes owned by other members, and the
 * first batches after an assignment beyond `skew` of each other's heads (they are forwarded at
 * skew per batch, never held back).
 */

type LaneState = 'unseen' | 'caught-up' | 'held' | 'moving'

interface Lane {
  state: LaneState
  /** Event time of the first record not forwarded yet (`held`). */
  headMs: number | undefined
  /** Event time of the last forwarded record that had one. */
  lastMs: number | undefined
  paused: boolean
  /** The current batch is the lane's first look: nothing forwarded, but no pause either. */
  looking: boolean
}

export class EventTimeAlignment {
  readonly #skewMs: number
  readonly #lanes = new Map<number, Lane>()

  constructor(skewMs: number) {
    if (!Number.isFinite(skewMs) || skewMs < 0) throw new RangeError(`alignment skew must be a non-negative number of ms, got ${skewMs}`)
    this.#skewMs = skewMs
  }

  /** A new assignment: every lane unseen, except those known to hold nothing. Returns the lanes that were paused. */
  reset(partitions: Iterable<number>, empty: ReadonlySet<number> = new Set()): number[] {
    const paused = this.paused()
    this.#lanes.clear()
    for (const p of partitions) this.#lanes.set(p, { state: empty.has(p) ? 'caught-up' : 'unseen', headMs: undefined, lastMs: undefined, paused: false, looking: false })
    return paused
  }

  /** The partition left this member. Returns whether it was paused. */
  remove(partition: number): boolean {
    const paused = this.#lanes.get(partition)?.paused ?? false
    this.#lanes.delete(partition)
    return paused
  }

  paused(): number[] {
    return [...this.#lanes].filter(([, lane]) => lane.paused).map(([p]) => p)
  }

  /** How many leading records of a batch of `partition` (event times, undefined = none) may be forwarded now. */
  allowed(partition: number, timesMs: readonly (number | undefined)[]): number {
    const lane = this.#lanes.get(partition)
    const head = firstTime(timesMs, 0)
    if (lane?.state === 'unseen' && head !== undefined && this.#othersUnseen(partition)) {
      // First look: the other partitions' first batches are on their way (same fetch or round).
      lane.looking = true
      return 0
    }
    const cap = this.#cap(partition, head)
    let n = 0
    while (n < timesMs.length) {
      const t = timesMs[n]
      if (t !== undefined && t > cap) break
      n++
    }
    return n
  }

  /**
   * What happened to a batch: its first `forwarded` records went, and `hasMore` says whether the
   * partition holds records after them. Returns true when the caller must pause the partition.
   */
  record(partition: number, timesMs: readonly (number | undefined)[], forwarded: number, hasMore: boolean): boolean {
    const lane = this.#lanes.get(partition)
    if (!lane) return false
    for (let i = forwarded - 1; i >= 0; i--) {
      const t = timesMs[i]
      if (t !== undefined) {
        lane.lastMs = t
        break
      }
    }
    const head = forwarded < timesMs.length ? firstTime(timesMs, forwarded) : undefined
    lane.headMs = head
    lane.state = head !== undefined ? 'held' : hasMore ? 'moving' : 'caught-up'
    lane.paused = forwarded === 0 && head !== undefined && !lane.looking
    lane.looking = false
    return lane.paused
  }

  /** Paused lanes whose head is within their cap again; they are marked unpaused. */
  releasable(): number[] {
    const out: number[] = []
    for (const [p, lane] of this.#lanes) {
      if (!lane.paused) continue
      if (lane.headMs === undefined || lane.headMs <= this.#cap(p, lane.headMs)) {
        lane.paused = false
        out.push(p)
      }
    }
    return out
  }

  #othersUnseen(partition: number): boolean {
    for (const [q, lane] of this.#lanes) if (q !== partition && lane.state === 'unseen') return true
    return false
  }

  #cap(partition: number, ownHeadMs: number | undefined): number {
    let held = Infinity
    let estimated = Infinity
    for (const [q, lane] of this.#lanes) {
      if (q === partition) continue
      if (lane.state === 'held' && lane.headMs !== undefined) held = Math.min(held, lane.headMs)
      else if (lane.state === 'unseen') estimated = -Infinity
      else if (lane.state === 'moving' && lane.lastMs !== undefined) estimated = Math.min(estimated, lane.lastMs)
    }
    let cap = held + this.#skewMs
    if (estimated !== Infinity) cap = Math.min(cap, Math.max(estimated, ownHeadMs ?? -Infinity) + this.#skewMs)
    return cap
  }
}

function firstTime(timesMs: readonly (number | undefined)[], from: number): number | undefined {
  for (let i = from; i < timesMs.length; i++) if (timesMs[i] !== undefined) return timesMs[i]
  return undefined
}
