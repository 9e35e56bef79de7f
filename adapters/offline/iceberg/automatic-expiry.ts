/**
 * The engine's automatic snapshot expiry (snapshot-expiry.ts): a long-running `kfs run` needs no
 * scheduled `kfs compact` to keep its tables' metadata bounded. The sink runs it in the table's
 * commit queue after the commit that makes it due — the checkpoint that committed does not wait
 * for it, the table's next commit does — expiring at most `maxExpired` snapshots a run. A failure
 * is reported to `onError` and leaves the table as it was (or with orphan files): expiry is
 * hygiene, never a reason to stop the engine.
 */
import type { Clock } from '../../../core/clock.ts'
import type { SnapshotRetention } from '../../../ports/offline-compaction.ts'
import type { IcebergTable } from './iceberg-table.ts'
import { expireSnapshots } from './snapshot-expiry.ts'

export interface AutomaticExpiry {
  readonly everyCommits: number
  readonly maxExpired: number
  /** What to keep of this table (the training sets' pins read at each run: a set recorded since must rebuild). */
  readonly retention: (tableId: string) => Promise<SnapshotRetention>
  readonly onError: (err: unknown, tableId: string) => void
}

export class ExpiryScheduler {
  readonly #expiry: AutomaticExpiry
  readonly #carriedPrefixes: readonly string[]
  readonly #clock: Clock | undefined
  /** Per table, this sink's commits since its last automatic expiry. */
  readonly #commitsSince = new Map<string, number>()

  constructor(
    expiry: AutomaticExpiry,
    options: { readonly carriedPrefixes: readonly string[]; readonly clock: Clock | undefined },
  ) {
    this.#expiry = expiry
    this.#carriedPrefixes = options.carriedPrefixes
    this.#clock = options.clock
  }

  /** Counts a commit (`committed`: one that wrote a snapshot); true when it makes the table's expiry due. */
  due(tableId: string, committed: boolean): boolean {
    if (!committed) return false
    const n = (this.#commitsSince.get(tableId) ?? 0) + 1
    this.#commitsSince.set(tableId, n >= this.#expiry.everyCommits ? 0 : n)
    return n >= this.#expiry.everyCommits
  }

  /** Expires the table's old snapshots; the table after it, or undefined when it failed (reported). */
  async run(tableId: string, table: () => Promise<IcebergTable>): Promise<IcebergTable | undefined> {
    try {
      const result = await expireSnapshots(await table(), await this.#expiry.retention(tableId), {
        carriedPrefixes: this.#carriedPrefixes,
        maxExpired: this.#expiry.maxExpired,
        ...(this.#clock === undefined ? {} : { clock: this.#clock }),
      })
      return result.table
    } catch (err: unknown) {
      this.#expiry.onError(err, tableId)
      return undefined
    }
  }
}
