/**
 * encodePackedByPartition against encodeRecords: records given as runs gathered from several
 * sources (empty runs included) give each partition the very bytes `encodeRecords` writes for
 * the records Kafka's partitioner sends there — also when one partition gets every record, so
 * its share outgrows the fair share it starts with (bytes and record positions both regrow); and
 * when framed into spare buffers (what a buffer held before never shows, one too small is left).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodePackedByPartition } from '../../../adapters/event-log/embedded/packed-records.ts'
import { encodeRecords, type StoredRecord } from '../../../adapters/event-log/embedded/record-format.ts'
import { murmur2 } from '../../../core/murmur2.ts'
import { PACKED_RUN_FIELDS, type PackedRecords } from '../../../ports/event-log.ts'
import { prng } from '../training/fixtures.ts'

const RUNS = 4
const TIME = 1_700_000_000_123

/** Each record's key and value spread over runs of random sources (each value cut in three, some parts empty). */
function pack(records: readonly { key: Buffer; value: Buffer }[], seed: number): PackedRecords {
  const rnd = prng(seed)
  const sources = [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)]
  const runs = new Uint32Array(PACKED_RUN_FIELDS * RUNS * records.length)
  const put = (k: number, bytes: Buffer): void => {
    const s = rnd.int(0, 2)
    const start = sources[s]!.length
    sources[s] = Buffer.concat([sources[s]!, bytes])
    runs.set([s, start, start + bytes.length], PACKED_RUN_FIELDS * k)
  }
  records.forEach(({ key, value }, i) => {
    const a = rnd.int(0, value.length)
    const b = rnd.int(a, value.length)
    put(RUNS * i, key)
    put(RUNS * i + 1, value.subarray(0, a))
    put(RUNS * i + 2, value.subarray(a, b))
    put(RUNS * i + 3, value.subarray(b))
  })
  return { count: records.length, sources, runsPerRecord: RUNS, runs }
}

function expected(records: readonly { key: Buffer; value: Buffer }[], baseOffsets: readonly number[]): (Buffer | undefined)[] {
  const byPartition: Omit<StoredRecord, 'offset'>[][] = baseOffsets.map(() => [])
  for (const { key, value } of records)
    byPartition[(murmur2(key) & 0x7fffffff) % baseOffsets.length]!.push({ timestampMs: TIME, key, value, headers: {} })
  return byPartition.map((rs, p) => (rs.length === 0 ? undefined : encodeRecords(rs, baseOffsets[p]!).buf))
}

function check(
  records: readonly { key: Buffer; value: Buffer }[],
  baseOffsets: readonly number[],
  seed: number,
  spares?: Buffer[],
): void {
  const shares = encodePackedByPartition(pack(records, seed), baseOffsets, TIME, spares)
  const want = expected(records, baseOffsets)
  assert.deepEqual(
    shares.map((s) => s?.buf),
    want,
  )
  for (const share of shares) {
    if (share === undefined) continue
    // Each start is a record's first byte: its length prefix leads to the next start.
    for (let i = 0; i + 1 < share.starts.length; i++)
      assert.equal(share.starts[i]! + 8 + share.buf.readUInt32BE(share.starts[i]!), share.starts[i + 1])
  }
}

void describe('embedded log > packed records', () => {
  void it('lays out runs gathered from several sources as encodeRecords does, per partition', () => {
    const rnd = prng(3)
    const records = Array.from({ length: 500 }, (_, i) => ({
      key: Buffer.from(rnd.pick([`k${i}`, 'é-ü', 'x'.repeat(50), ''])),
      value: Buffer.from(Array.from({ length: rnd.pick([0, 1, 40, 41, 200]) }, () => rnd.int(0, 255))),
    }))
    check(records, [0, 7, 2 ** 32 + 5, 3], 4)
    check(records, [11], 5)
  })

  void it('regrows a partition that gets every record', () => {
    const records = Array.from({ length: 300 }, (_, i) => ({
      key: Buffer.from('same'),
      value: Buffer.alloc(50 + (i % 7) * 100, i),
    }))
    const shares = encodePackedByPartition(pack(records, 6), [0, 0, 0, 0, 0, 0, 0, 0], TIME)
    assert.equal(shares.filter((s) => s !== undefined).length, 1)
    check(records, [0, 0, 0, 0, 0, 0, 0, 0], 6)
  })

  void it('frames into spare buffers of enough room, whatever they held, and leaves the others', () => {
    const rnd = prng(7)
    for (let round = 0; round < 20; round++) {
      const records = Array.from({ length: rnd.int(1, 300) }, (_, i) => ({
        key: Buffer.from(rnd.pick([`k${i}`, 'é-ü', 'same', ''])),
        value: Buffer.from(Array.from({ length: rnd.pick([0, 3, 41, 120]) }, () => rnd.int(0, 255))),
      }))
      const partitions = rnd.int(1, 6)
      const baseOffsets = Array.from({ length: partitions }, () => rnd.int(0, 1000))
      // Garbage-filled spares, some far too small, some with room for every record, some between.
      const spares = Array.from({ length: rnd.int(0, 8) }, () => Buffer.alloc(rnd.pick([1, 64, 4096, 1 << 16]), rnd.int(0, 255)))
      const given = [...spares]
      check(records, baseOffsets, round, spares)
      const taken = given.filter((b) => !spares.includes(b))
      // Only the spares taken are gone, and none that is too small for a record was taken.
      assert.ok(spares.every((b) => given.includes(b)))
      assert.ok(taken.every((b) => b.length > 64))
      // Into one partition, with a spare of room for every record: the share is framed in it.
      const roomy = Buffer.alloc(1 << 16, 0xee)
      const into: Buffer[] = [Buffer.alloc(64, 0xee), roomy]
      const [share] = encodePackedByPartition(pack(records, round), [3], TIME, into)
      assert.equal(share?.room, roomy)
      assert.deepEqual(
        into.map((b) => b.length),
        [64],
      )
      assert.equal(share.buf.buffer, roomy.buffer)
    }
  })
})
