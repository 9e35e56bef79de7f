/**
 * The oracle of a current-state view written from the docs alone (docs/design.md §11), shared by
 * the random changelogs of current-table-oracle.test.ts and of the re-key stage's superseded
 * changes (test/unit/engine/rekey-superseded-changes.test.ts): the current table — per key its
 * last accepted change's clock and row — and the groups recomputed from its rows.
 */

export interface Row {
  readonly id: number
  readonly grp: string
  readonly x: number | null
  readonly s: string
}

/** Per key: the clock of its last accepted change and its row (null once deleted). */
export type CurrentTable = Map<number, { c: number; row: Row | null }>

export const GROUPS = ['A', 'B', 'C'] as const

/** count, count(x), sum(x), avg(x) per group over the current rows the filter passes. */
export function expectedGroups(table: CurrentTable): Map<string, unknown[]> {
  const groups = new Map<string, unknown[]>()
  for (const g of GROUPS) {
    const rows = [...table.values()].flatMap(({ row }) => (row !== null && row.grp === g && row.s !== 'hidden' ? [row] : []))
    const xs = rows.flatMap((r) => (r.x === null ? [] : [r.x]))
    const sum = xs.reduce((a, b) => a + b, 0)
    groups.set(g, [rows.length, xs.length, sum, xs.length === 0 ? null : sum / xs.length])
  }
  return groups
}
