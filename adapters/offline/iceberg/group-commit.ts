/**
 * Group commit of a table's appends (docs/semantics.md §11 "Group commit"): while a commit to a
 * table is in flight, later requests for that table wait; when it ends, all of them that fit
 * together go in one commit. Each source partition checkpoints on its own, and a snapshot per
 * partition per checkpoint made commits per table grow with the partitions — each writing the
 * table's whole metadata again, and racing each other for the next version. A request that meets
 * no commit in flight starts at once: grouping adds no wait of its own.
 *
 * Every request keeps its own outcome: it resolves when the commit it went in landed (or found it
 * held already), and rejects with that commit's error otherwise — as a commit of its own would.
 * Two requests with a summary key in common (one partition's checkpoints, committed again) never
 * share a commit: the later waits for the next one, so one partition's commits keep their order.
 */

export interface GroupRequest {
  /** The summary keys the request writes (its markers, offsets…): requests sharing one are not grouped. */
  readonly keys: readonly string[]
}

interface Waiting<R> {
  readonly request: R
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

/** What a group's commit leaves to run before the table's next one (the sink's expiry), if anything. */
export type AfterCommit = (() => Promise<void>) | undefined

export class GroupCommits<R extends GroupRequest> {
  readonly #waiting = new Map<string, Waiting<R>[]>()
  readonly #commitGroup: (tableId: string, group: readonly R[]) => Promise<AfterCommit>

  constructor(commitGroup: (tableId: string, group: readonly R[]) => Promise<AfterCommit>) {
    this.#commitGroup = commitGroup
  }

  /** Commits `request` to the table, alone or with others waiting for it at the same time. */
  commit(tableId: string, request: R): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiting = this.#waiting.get(tableId)
      if (waiting !== undefined) {
        waiting.push({ request, resolve, reject })
        return
      }
      const queue = [{ request, resolve, reject }]
      this.#waiting.set(tableId, queue)
      void this.#drain(tableId, queue)
    })
  }

  async #drain(tableId: string, queue: Waiting<R>[]): Promise<void> {
    while (queue.length > 0) {
      const group = takeGroup(queue)
      let after: AfterCommit
      try {
        after = await this.#commitGroup(
          tableId,
          group.map((w) => w.request),
        )
      } catch (err: unknown) {
        for (const w of group) w.reject(err)
        continue
      }
      for (const w of group) w.resolve()
      // The table's next commit waits for what this one made due; this one's callers do not.
      await after?.().catch(() => undefined)
    }
    this.#waiting.delete(tableId)
  }
}

/**
 * Takes the group to commit next out of `queue`, in arrival order: every request sharing no key
 * with a request before it that is taken or left waiting (so a request never overtakes an earlier
 * one of the same partition).
 */
function takeGroup<R extends GroupRequest>(queue: Waiting<R>[]): Waiting<R>[] {
  const seen = new Set<string>()
  const group: Waiting<R>[] = []
  const left: Waiting<R>[] = []
  for (const w of queue) {
    const clash = w.request.keys.some((k) => seen.has(k))
    for (const k of w.request.keys) seen.add(k)
    ;(clash ? left : group).push(w)
  }
  queue.splice(0, queue.length, ...left)
  return group
}
