/**
 * Three snapshots of the accounts table (./fixtures.ts) for the ingest fault test: s1, then s2
 * (rows dropped, rows changed, rows at later times and new keys), then s3 (the same again), each
 * with one row without a primary key (rejected, never appended).
 */
import type { TableRow, TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import { declaredTableColumns } from '../../../ingest/row-columns.ts'
import { accountRow } from './fixtures.ts'

export interface Snapshot {
  readonly id: string
  readonly rows: readonly TableRow[]
}

function account(key: number, t: number, balance: number, visits: number): TableRow {
  return {
    account_id: `acct-${String(key).padStart(2, '0')}`,
    updated_at: t,
    balance,
    tier: visits % 3 === 0 ? null : 'gold',
    visits,
  }
}

/** 60 keys × 4 versions, and a row without a primary key (rejected, never appended). */
export const s1: Snapshot = {
  id: 's1',
  rows: [
    ...Array.from({ length: 240 }, (_, i) => account(i % 60, 1_000 + 100 * Math.floor(i / 60) + (i % 7), i, i)),
    { ...account(0, 1, 0, 0), account_id: null },
  ],
}

/** `from` with every `drop`-th row gone, every `change`-th row's balance changed, and `added` rows at later times (some for new keys). */
function evolve(id: string, from: Snapshot, drop: number, change: number, added: readonly TableRow[]): Snapshot {
  const rows = from.rows
    .filter((_, i) => i % drop !== drop - 1)
    .map((r, i) => (i % change === 0 && r['account_id'] !== null ? { ...r, balance: (r['balance'] as number) + 0.5 } : r))
  return { id, rows: [...rows, ...added] }
}

export const s2 = evolve(
  's2',
  s1,
  9,
  5,
  Array.from({ length: 50 }, (_, i) => account(40 + i, 2_000 + i * 3, 1_000 + i, i)),
)
export const s3 = evolve(
  's3',
  s2,
  7,
  6,
  Array.from({ length: 30 }, (_, i) => account(70 + (i % 15), 3_000 + i, 2_000 + i, i)),
)

/** The snapshot read in batches of `batch` rows. */
export function readerOf(snapshot: Snapshot, batch: number): TableSnapshotReader {
  return {
    open: async () => ({
      id: snapshot.id,
      where: `memory:${snapshot.id}`,
      columns: declaredTableColumns(accountRow),
      rowCount: snapshot.rows.length,
      async *rows() {
        for (let i = 0; i < snapshot.rows.length; i += batch) yield snapshot.rows.slice(i, i + batch)
      },
    }),
  }
}
