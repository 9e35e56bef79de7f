/**
 * The rules of the restore's check of a checkpoint's last record (engine/resume-check.ts,
 * docs/semantics.md §17), batch by batch, on a slot stand-in: the record there settles it; a batch
 * before it leaves it pending; a batch fetched before the seek (read from past the record while the
 * log still holds it) is left untaken and the reader seeks back; a record missing from a read that
 * started at it is the re-created log's on an event source and compaction's on a table source; a
 * log start past it is retention's. The engine-level cases are in recreated-topic.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { InvariantViolation } from '../../../core/errors.ts'
import { silentLogger } from '../../../core/logger.ts'
import { purchases } from '../../../examples/features.ts'
import type { SourceDef } from '../../../features/types.ts'
import { firstRead, isLastRecord, lastRecordOf } from '../../../engine/last-record.ts'
import type { PartitionSlot } from '../../../engine/partition-slot.ts'
import { ResumeChecks } from '../../../engine/resume-check.ts'
import type { SourceBatch, SourceRecord, StreamPartition } from '../../../ports/source.ts'

const bytes = (text: string) => new TextEncoder().encode(text)
const record = (offset: number, value = `v${offset}`, timestampMs = 1_000 + offset): SourceRecord => ({
  offset: String(offset),
  key: bytes(`k${offset}`),
  value: bytes(value),
  timestampMs,
  headers: {},
})
const table = { ...purchases, changes: { kind: 'table', primaryKey: ['user_id'] } } as unknown as SourceDef

function setUp(options: { logStart?: number; source?: SourceDef; lastRecord?: SourceRecord } = {}) {
  const seeks: string[] = []
  let startReads = 0
  const checks = new ResumeChecks({
    log: { startOffsets: () => (startReads++, Promise.resolve(['0', String(options.logStart ?? 0)])) },
    reads: (read) => read(),
    seek: (_at: StreamPartition, position: string) => void seeks.push(position),
    logger: silentLogger,
  })
  const slot = {
    topic: purchases.topic,
    partition: 1,
    nextOffset: '11',
    lastRecord: lastRecordOf(options.lastRecord ?? record(10)),
    lastRecordAtMs: 0,
    options: { source: options.source ?? purchases },
    run: <T>(fn: () => Promise<T>) => fn(),
  } as unknown as PartitionSlot
  const readFrom = checks.arm(slot, true, { position: '11', deleted: 0n, logStart: '0' })
  assert.equal(readFrom, '10', 'the reader starts at the last record')
  const batch = (records: SourceRecord[], from?: number): SourceBatch => ({
    stream: purchases.topic,
    partition: 1,
    records,
    end: '20',
    ...(from === undefined ? {} : { span: { from: String(from), next: String(Number(records.at(-1)!.offset) + 1) } }),
  })
  return { checks, slot, seeks, batch, startReads: () => startReads }
}

void describe('the fingerprint of the last record', () => {
  void test('differs with the key, the value, the split between them and the timestamp; round-trips through JSON', () => {
    const base = lastRecordOf(record(10))
    assert.ok(isLastRecord(JSON.parse(JSON.stringify(base))))
    assert.notEqual(lastRecordOf({ ...record(10), value: bytes('other') }).crc32, base.crc32)
    assert.notEqual(lastRecordOf({ ...record(10), key: bytes('k1') }).crc32, base.crc32)
    // Key "k1" + value "0v…" against key "k10" + value "v…": the same bytes back to back.
    assert.notEqual(lastRecordOf({ ...record(10), key: bytes('k1'), value: bytes('0v10') }).crc32, base.crc32)
    assert.notEqual(lastRecordOf({ ...record(10), key: null }).crc32, base.crc32)
    assert.equal(lastRecordOf(record(10)).crc32, base.crc32)
    assert.equal(firstRead(base, '10', [record(10, 'v10', 5)]).kind, 'differs', 'another timestamp')
    for (const bad of [{ ...base, offset: '-1' }, { ...base, crc32: 2 ** 32 }, { ...base, timestampMs: 'x' }, null, {}])
      assert.ok(!isLastRecord(bad))
  })
})

void describe('the check of a restored partition, batch by batch', () => {
  void test('the record itself settles it; a batch before it leaves it pending', async () => {
    const { checks, slot, batch } = setUp()
    assert.equal(await checks.take(slot, batch([record(7), record(8)])), true)
    assert.ok(checks.pending(slot), 'records before the last one say nothing yet')
    assert.equal(await checks.take(slot, batch([record(9), record(10), record(11)])), true)
    assert.ok(!checks.pending(slot))
    assert.equal(await checks.take(slot, batch([record(12, 'anything')])), true, 'settled: later batches pass')
  })

  void test('another record at the offset stops the engine, naming partition, offset and both records', async () => {
    const { checks, slot, batch } = setUp()
    await assert.rejects(checks.take(slot, batch([record(10, 'new')], 10)), (err: unknown) => {
      assert.ok(err instanceof InvariantViolation)
      assert.match(
        err.message,
        /^purchases\/1: its checkpoint resumes at offset 11 after the record at offset 10 \(CRC-32 \d+, timestamp 1010\), but the log holds another record there/,
      )
      return true
    })
  })

  void test('a batch fetched before the seek (read from past the record the log still holds) is left untaken and the reader seeks back', async () => {
    const { checks, slot, batch, seeks } = setUp({ logStart: 0 })
    assert.equal(await checks.take(slot, batch([record(11), record(12)], 11)), false)
    assert.deepEqual(seeks, ['10'])
    assert.ok(checks.pending(slot))
    assert.equal(await checks.take(slot, batch([record(10), record(11)], 10)), true)
    assert.ok(!checks.pending(slot))
  })

  void test('the log starting past the record (retention): nothing to compare, the batch is processed', async () => {
    for (const from of [10, 13]) {
      const { checks, slot, batch, seeks } = setUp({ logStart: 13 })
      assert.equal(await checks.take(slot, batch([record(13), record(14)], from)), true)
      assert.ok(!checks.pending(slot))
      assert.deepEqual(seeks, [])
    }
  })

  void test('no record at the offset in a read that started there: another log on an event source, compaction on a table source', async () => {
    const events = setUp({ source: purchases })
    await assert.rejects(
      events.checks.take(events.slot, events.batch([record(12)], 10)),
      /but the first record the log holds from there is at offset 12/,
    )
    const tables = setUp({ source: table })
    assert.equal(await tables.checks.take(tables.slot, tables.batch([record(12)], 10)), true)
    assert.ok(!tables.checks.pending(tables.slot))
  })

  void test('a quiet partition with nothing to read: settled once the log start passes the record, at most once per quiet time', async () => {
    const held = setUp({ logStart: 5 })
    assert.equal(await held.checks.settleIdle(held.slot, 10_000, 1_000), true, 'the log still holds the record: it will be read')
    assert.equal(await held.checks.settleIdle(held.slot, 10_500, 1_000), true)
    assert.equal(held.startReads(), 1, 'the log start read once per quiet time')
    const gone = setUp({ logStart: 11 })
    assert.equal(await gone.checks.settleIdle(gone.slot, 500, 1_000), true, 'not quiet long enough: nothing read')
    assert.equal(gone.startReads(), 0)
    assert.equal(await gone.checks.settleIdle(gone.slot, 10_000, 1_000), false)
    assert.ok(!gone.checks.pending(gone.slot))
  })
})
