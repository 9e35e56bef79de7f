/**
 * The rejects sink of ingestSnapshot (ingest/reject-sink.ts): told of every rejected row — and of
 * no accepted one — with its values and where it is, and closed before anything is appended, so
 * a sink that fails leaves the log untouched; and the JSON form of the values the rejects file
 * writes (main/commands/ingest-rejects.ts), which keeps what JSON itself cannot hold.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { ingestSnapshot } from '../../../ingest/ingest-snapshot.ts'
import { LogState } from '../../../ingest/log-state.ts'
import { SnapshotPlanner, type RejectedRow } from '../../../ingest/plan-snapshot.ts'
import type { LocatedRejection, RejectSink } from '../../../ingest/reject-sink.ts'
import { declaredTableColumns, rowColumns } from '../../../ingest/row-columns.ts'
import { jsonSafe } from '../../../main/commands/ingest-rejects.ts'
import type { TableRow, TableSnapshotReader } from '../../../ports/table-snapshots.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { accountRow, accountsSource } from './fixtures.ts'
import { forwardingLog } from './logs.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-reject-sink-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const source = accountsSource()

const acct = (id: string | null, t: unknown, balance: unknown = 1): TableRow => ({
  account_id: id,
  updated_at: t,
  balance,
  tier: null,
  visits: null,
})
const ROWS: readonly TableRow[] = [
  acct('a', 1000),
  acct(null, 1000),
  acct('b', null),
  acct('a', 1000, 2),
  acct('c', 'noon'),
  acct('d', 1000, 'x'),
  acct('e', 2000),
]
const REJECTED = [
  [2, 'missing_key'],
  [3, 'missing_event_time'],
  [4, 'duplicate'],
  [5, 'invalid_event_time'],
  [6, 'schema_mismatch'],
]

function readerOf(rows: readonly TableRow[]): TableSnapshotReader {
  return {
    open: async () => ({
      id: 's1',
      where: 'memory:s1',
      columns: declaredTableColumns(accountRow),
      rowCount: rows.length,
      locate: (row) => `memory row ${row}`,
      async *rows() {
        for (let i = 0; i < rows.length; i += 3) yield rows.slice(i, i + 3)
      },
    }),
  }
}

void describe('the rejects sink', () => {
  void it('the planner tells of each rejected row with its values, and of no accepted one', () => {
    const told: [RejectedRow, Readonly<Record<string, unknown>>][] = []
    const planner = new SnapshotPlanner({
      columns: rowColumns(accountRow),
      primaryKey: ['account_id'],
      rowTimeField: 'updated_at',
      snapshotId: 's1',
      log: new LogState(),
      onRejected: (r, cells) => told.push([r, cells]),
    })
    planner.add(ROWS)
    const plan = planner.finish()
    assert.deepEqual(
      told.map(([r]) => [r.row, r.reason]),
      REJECTED,
    )
    assert.deepEqual(
      told.map(([r]) => r),
      plan.rejected,
      'the same rejections the plan lists',
    )
    assert.deepEqual(told[4]![1], { account_id: 'd', updated_at: 1000, balance: 'x', tier: null, visits: null })
    assert.deepEqual(told[1]![1], { account_id: 'b', updated_at: null, balance: 1, tier: null, visits: null })
    assert.equal(plan.length, 2)
  })

  void it('ingestSnapshot adds every rejected row, located, then closes the sink before it appends; a sink that fails appends nothing', async () => {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
    const decoder = createDecoder({ registry, readerSchema: source.schema })
    const steps: string[] = []
    const watched = forwardingLog(log, async (topic, records) => {
      steps.push(`produce ${records.length}`)
      return log.produce(topic, records)
    })
    const sink = (fail: boolean): RejectSink & { added: LocatedRejection[] } => {
      const added: LocatedRejection[] = []
      return {
        added,
        add: (r) => void added.push(r),
        close: async () => {
          steps.push(`close ${added.length}`)
          if (fail) throw new Error('disk full')
        },
      }
    }
    const failing = sink(true)
    await assert.rejects(
      ingestSnapshot({ log: watched, reader: readerOf(ROWS), encoder, decoder }, { source, rejects: failing }),
      /disk full/,
    )
    assert.deepEqual(steps, ['close 5'], 'closed once every rejected row was added, and nothing produced')
    assert.deepEqual((await log.endOffsets(source.topic)).map(String), ['0', '0', '0'], 'the log untouched')

    steps.length = 0
    const working = sink(false)
    const result = await ingestSnapshot({ log: watched, reader: readerOf(ROWS), encoder, decoder }, { source, rejects: working })
    assert.deepEqual(steps, ['close 5', 'produce 2'], 'the sink closed before the first append')
    assert.deepEqual(
      working.added.map((r) => [r.row, r.reason, r.at, r.snapshot]),
      REJECTED.map(([row, reason]) => [row, reason, `memory row ${row}`, 's1']),
    )
    assert.equal(result.rejected.length, 5)
    await log.close()
  })

  void it('jsonSafe keeps what JSON cannot hold in tagged forms, and the rest as it is', () => {
    const value = {
      s: 'text',
      n: -1.5,
      b: true,
      z: null,
      u: undefined,
      nan: Number.NaN,
      inf: Infinity,
      ninf: -Infinity,
      big: 2n ** 70n,
      bytes: new Uint8Array([0, 255, 1]),
      date: new Date(Date.UTC(2026, 0, 1)),
      list: [1n, Number.NaN, 'x'],
      nested: { deep: new Uint8Array([7]).subarray(0, 1) },
    }
    assert.deepEqual(JSON.parse(JSON.stringify(jsonSafe(value))), {
      s: 'text',
      n: -1.5,
      b: true,
      z: null,
      u: null,
      nan: { $double: 'NaN' },
      inf: { $double: 'Infinity' },
      ninf: { $double: '-Infinity' },
      big: { $bigint: '1180591620717411303424' },
      bytes: { $bytes: 'AP8B' },
      date: { $date: '2026-01-01T00:00:00.000Z' },
      list: [{ $bigint: '1' }, { $double: 'NaN' }, 'x'],
      nested: { deep: { $bytes: 'Bw==' } },
    })
  })
})
