/**
 * The cap on young snapshots (docs/semantics.md §23, `SnapshotRetention.maxSnapshots`): every
 * partition of a topic commits its own snapshot at each checkpoint, so an age alone kept
 * partitions × a day of checkpoints, and every commit rewrote the metadata listing them all. Two
 * checks: `snapshotsToKeep` against a brute-force reading of the rule on random tables, and a
 * sink with automatic expiry fed by four writers, whose table stays within the cap while every
 * writer's checkpoint marker and every row stay.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { loadTable, readRows } from '../../../adapters/offline/iceberg/index.ts'
import type { AutomaticExpiry } from '../../../adapters/offline/iceberg/automatic-expiry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { snapshotsToKeep } from '../../../adapters/offline/iceberg/snapshot-expiry.ts'
import type { Snapshot, TableMetadata } from '../../../adapters/offline/iceberg/table-metadata.ts'
import type { Clock } from '../../../core/clock.ts'
import type { SnapshotRetention } from '../../../ports/offline-compaction.ts'
import { archiveRows } from '../../support/archive-rows.ts'
import { prng } from '../../../examples/generate-events.ts'

/** Whole numbers below `n`, from the examples' seeded generator: the same tables on every run. */
function random(seed: number): (n: number) => number {
  const next = prng(seed)
  return (n) => Math.floor(next() * n)
}

interface Drawn {
  readonly meta: TableMetadata
  readonly retention: SnapshotRetention
  readonly nowMs: number
}

/** A table of 1–40 snapshots (listed in no particular order), refs, pins and a retention. */
function draw(seed: number): Drawn {
  const rnd = random(seed)
  const n = 1 + rnd(40)
  let t = 1_000_000
  const bySeq: Snapshot[] = []
  for (let i = 0; i < n; i++) {
    t += 1 + rnd(5_000)
    bySeq.push({
      'snapshot-id': BigInt(7_000 + i * 13),
      'sequence-number': i + 1,
      'timestamp-ms': t,
      'manifest-list': `m${i}`,
      summary: { operation: 'append' },
      'schema-id': 0,
    })
  }
  const listed = [...bySeq].sort(() => rnd(3) - 1)
  const refs: Record<string, { 'snapshot-id': bigint; type: string }> = {}
  if (rnd(3) === 0) refs.audit = { 'snapshot-id': bySeq[rnd(n)]!['snapshot-id'], type: 'tag' }
  const current = rnd(5) === 0 ? -1n : bySeq[n - 1]!['snapshot-id']
  const keep = new Set<string>()
  for (let i = 0; i < rnd(3); i++) keep.add(String(bySeq[rnd(n)]!['snapshot-id']))
  const meta = { snapshots: listed, refs, 'current-snapshot-id': current } as unknown as TableMetadata
  const retention: SnapshotRetention = {
    maxAgeMs: rnd(60_000),
    minSnapshots: rnd(n + 2),
    ...(rnd(4) === 0 ? {} : { maxSnapshots: rnd(n + 5) }),
    keep,
  }
  return { meta, retention, nowMs: t + rnd(60_000) }
}

/** The rule of docs/semantics.md §23, read literally, one snapshot at a time. */
function reference({ meta, retention, nowMs }: Drawn): Set<bigint> {
  const ordered = [...meta.snapshots].sort((a, b) => a['sequence-number'] - b['sequence-number'])
  const kept = new Set<bigint>()
  ordered.forEach((s, rank) => {
    const newerCount = ordered.length - 1 - rank
    const supersededAt = ordered[rank + 1]?.['timestamp-ms']
    const young = supersededAt === undefined || nowMs - supersededAt <= retention.maxAgeMs
    const withinCap = retention.maxSnapshots === undefined || newerCount < retention.maxSnapshots
    const isCurrent = s['snapshot-id'] === meta['current-snapshot-id']
    const isRef = Object.values(meta.refs).some((r) => r['snapshot-id'] === s['snapshot-id'])
    const pinned = retention.keep?.has(String(s['snapshot-id'])) === true
    if (isCurrent || isRef || pinned || (young && withinCap) || newerCount < retention.minSnapshots) kept.add(s['snapshot-id'])
  })
  return kept
}

/** A second passes at every reading, starting a day ahead (the sink creates its tables on the system clock). */
function tickingClock(): Clock {
  let now = Date.now() + 86_400_000
  return { nowMs: () => (now += 1_000), sleep: () => new Promise((r) => setImmediate(r)) }
}

void describe('sinks > iceberg > snapshot retention cap', () => {
  void test('snapshotsToKeep keeps exactly what the rule names, on 2,000 random tables', () => {
    let capped = 0
    for (let seed = 1; seed <= 2_000; seed++) {
      const drawn = draw(seed)
      const got = [...snapshotsToKeep(drawn.meta, drawn.retention, drawn.nowMs)].sort()
      const want = [...reference(drawn)].sort()
      assert.deepEqual(got, want, `seed ${seed}`)
      if (drawn.retention.maxSnapshots !== undefined && want.length < drawn.meta.snapshots.length) capped++
    }
    assert.ok(capped > 100, `the cap decided ${capped} tables`)
  })

  void test('four writers committing under a one-day retention: the table keeps the cap, every marker and every row', async () => {
    const store = new MemoryObjectStore()
    const errors: unknown[] = []
    const expiry: AutomaticExpiry = {
      everyCommits: 10,
      maxExpired: 1_000,
      retention: () => Promise.resolve({ maxAgeMs: 86_400_000, minSnapshots: 5, maxSnapshots: 20 }),
      onError: (err) => errors.push(err),
    }
    const sink = new IcebergOfflineSink(store, { clock: tickingClock(), parquetWorker: false, snapshotExpiry: expiry })
    const tableId = sink.tableId({ kind: 'archive', topic: 'clicks' })
    const rounds = 30
    let from = 0
    for (let seq = 1; seq <= rounds; seq++) {
      for (let partition = 0; partition < 4; partition++) {
        await sink.commit(
          tableId,
          [
            await sink.stageArchiveRows(
              'clicks',
              archiveRows(from, from + 2).map((row) => ({ ...row, partition })),
            ),
          ],
          { [`clicks/${partition}`]: seq },
          {},
        )
        from += 2
      }
    }
    assert.deepEqual(errors, [])
    const table = await loadTable(store, tableId)
    // Expiry runs every 10 commits: at most the cap plus the commits since the last run.
    assert.ok(table.metadata.snapshots.length <= 20 + 10, `${table.metadata.snapshots.length} snapshots kept of ${4 * rounds}`)
    const last = (await sink.snapshots(tableId)).at(-1)!
    for (let partition = 0; partition < 4; partition++)
      assert.equal(last.markers[`clicks/${partition}`], rounds, `writer clicks/${partition}`)
    let rows = 0
    for await (const _row of readRows(table)) rows++
    assert.equal(rows, from)
  })
})
