import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { crc32, decodeRecord, encodeRecord, encodeRecords, type StoredRecord } from '../../../adapters/event-log/embedded/record-format.ts'

void describe('embedded log record format', () => {
  const records: Omit<StoredRecord, 'offset'>[] = [
    { timestampMs: 1_700_000_000_123, key: Buffer.from('k1'), value: Buffer.from('v1'), headers: {} },
    { timestampMs: 5, key: null, value: null, headers: { 'kfs-change-role': 'retract', é: 'ü' } },
    { timestampMs: 0, key: Buffer.alloc(0), value: Buffer.alloc(300, 7), headers: {} },
  ]

  void it('a batch laid out in one buffer holds the bytes of each record encoded alone, offsets beyond 2^32 included', () => {
    const base = 2 ** 32 + 5
    const { buf, starts } = encodeRecords(records, base)
    assert.deepEqual(buf, Buffer.concat(records.map((r, i) => encodeRecord({ ...r, offset: base + i }))))
    starts.forEach((start, i) => {
      const decoded = decodeRecord(buf, start)
      assert.ok(typeof decoded !== 'string')
      assert.equal(decoded.record.offset, base + i)
      assert.deepEqual(decoded.record.headers, records[i]!.headers)
    })
  })

  void it('crc32 is zlib\'s (IEEE)', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926)
    assert.equal(crc32(Buffer.from('xx123456789yy'), 2, 11), 0xcbf43926)
  })
})
