/** Table snapshots held in memory and a table topic read back decoded: the ingest tests' shared pieces. */
import assert from 'node:assert/strict'
import type { EventLog } from '../../../ports/event-log.ts'
import type { TableRow, TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import { declaredTableColumns } from '../../../ingest/row-columns.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import type { Decoder } from '../../../schemas/decoder.ts'
import { prng } from '../training/fixtures.ts'
import { accountRow } from './fixtures.ts'

/** A snapshot `id` of accounts rows, handed over `batchRows` at a time. */
export function snapshotOf(id: string, rows: readonly TableRow[], batchRows = 7): TableSnapshotReader {
  return {
    open: async () => ({
      id,
      where: `memory:${id}`,
      columns: declaredTableColumns(accountRow),
      rowCount: rows.length,
      async *rows() {
        for (let i = 0; i < rows.length; i += batchRows) yield rows.slice(i, i + batchRows)
      },
    }),
  }
}

/** `n` accounts rows (16 accounts, event times rising), the same for the same seed. */
export function accountRowsOf(seed: number, n: number): TableRow[] {
  const rnd = prng(seed)
  return Array.from({ length: n }, (_, i) => ({
    account_id: `acct-${rnd.int(0, 15)}`,
    updated_at: 1_000 + i * 10 + rnd.int(0, 5),
    balance: rnd.int(0, 100),
    tier: rnd.pick([null, 'gold']),
    visits: i,
  }))
}

/**
 * Every record of `topic`, decoded, per partition in offset order: `offset:event` where offsets
 * are the log's own (the embedded log), the event alone where transaction markers take offsets.
 */
export async function decodedPartitions(
  log: EventLog,
  decoder: Decoder,
  topic: string,
  options: { partitions: number; offsets: boolean },
): Promise<string[][]> {
  const out: string[][] = Array.from({ length: options.partitions }, () => [])
  await scanTopic(
    log,
    topic,
    async (records) => {
      for (const r of records) {
        const d = await decoder.decode(r.value)
        assert.ok(d.ok)
        out[r.partition]!.push(options.offsets ? `${r.offset}:${JSON.stringify(d.event)}` : JSON.stringify(d.event))
      }
    },
    { groupPrefix: 'test' },
  )
  return out
}
