/**
 * How far a feature table holds each writer's rows of a partition (ports/offline.ts
 * `OfflineSnapshot.rowsThrough`, docs/semantics.md §14 "A view dropped and added again"). Every
 * commit of a checkpoint carries `kfs.rows-through.<group>/<topic>/<partition>`: the archive position
 * (`offset · 2^21 + row index`, a decimal string) of the first row the checkpoint did not cover. A
 * view caught up from the archive skips the rows before it, which the table already holds.
 *
 * Commits from before this key was written carry only `kfs.offset.<name>` (the checkpoint's next
 * offset): read as that offset's position with row index 0. Their rows emitted at that offset by idle
 * markers before the checkpoint are then not known to be held (written again, as before) — never
 * rows taken for held that are not. Both keys are carried through snapshot expiry like the
 * checkpoint markers (snapshot-expiry.ts), so expiring the commits that wrote them forgets nothing.
 */
export const ROWS_THROUGH_PREFIX = 'kfs.rows-through.'
export const OFFSET_PREFIX = 'kfs.offset.'

/** The larger of two integer strings, compared exactly (positions pass 2^53 past offset 2^32). */
export function largerInteger(a: string | undefined, b: string): string {
  if (!/^\d+$/.test(b)) return a ?? b
  if (a === undefined || !/^\d+$/.test(a)) return b
  return BigInt(b) > BigInt(a) ? b : a
}

/** Folds one snapshot's summary into `acc` (per marker name, the highest position so far). */
export function accumulateRowsThrough(acc: Record<string, string>, summary: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(summary)) {
    // A value that is no position (a summary edited by hand) says nothing: never a crash, never "all held".
    if (!/^\d+$/.test(v)) continue
    if (k.startsWith(ROWS_THROUGH_PREFIX)) {
      const name = k.slice(ROWS_THROUGH_PREFIX.length)
      acc[name] = largerInteger(acc[name], v)
    } else if (k.startsWith(OFFSET_PREFIX)) {
      const name = k.slice(OFFSET_PREFIX.length)
      if (summary[ROWS_THROUGH_PREFIX + name] === undefined) acc[name] = largerInteger(acc[name], (BigInt(v) << 21n).toString())
    }
  }
}
