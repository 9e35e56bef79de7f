/**
 * The live engine archives the records it reads field by field (engine/archive-rows.ts
 * `archiveRecords`, no ArchiveRow object per record): the buffer must hold exactly what pushing
 * `recordArchiveRows`' objects holds — event times read or unknown, schema ids of decoded and of
 * failed records (with and without one), null keys and payloads, and the records of a bundle
 * (whose events are not the records themselves) with no time or schema id of their own.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ArchiveRowBuffer } from '../../../engine/archive-row-buffer.ts'
import { archiveRecords, recordArchiveRows } from '../../../engine/archive-rows.ts'
import type { PartitionEvent } from '../../../engine/rekey-bundle.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import type { SourceRecord } from '../../../ports/source.ts'
import type { DecodeResult } from '../../../schemas/decoder.ts'
import { prng } from '../../support/scenario.ts'

const PARTITION = 2

function rowsOf(buffer: ArchiveRowBuffer): ArchiveRow[] {
  return Array.from({ length: buffer.length }, (_, i) => buffer.rowAt(i))
}

function batchOf(seed: number, count: number): { records: SourceRecord[]; events: PartitionEvent[]; decoded: DecodeResult[] } {
  const next = prng(seed)
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(next() * 256))
  const records: SourceRecord[] = []
  const events: PartitionEvent[] = []
  const decoded: DecodeResult[] = []
  for (let i = 0; i < count; i++) {
    const record: SourceRecord = {
      offset: String(2n ** 55n + BigInt(i)),
      key: next() < 0.2 ? null : bytes(1 + Math.floor(next() * 10)),
      value: next() < 0.05 ? null : bytes(Math.floor(next() * 60)),
      timestampMs: 1_800_000_000_000 + i,
      headers: {},
    }
    records.push(record)
    const kind = next()
    if (kind < 0.1) {
      // A bundle: its events share its offset and are other objects.
      for (let e = 0; e < 3; e++) {
        events.push({ ...record, order: `${record.offset}.${e}` } as PartitionEvent)
        decoded.push({ ok: true, event: { ts: 1_700_000_000_000 + e }, schemaId: 7 })
      }
      continue
    }
    events.push(record)
    if (kind < 0.2) decoded.push({ ok: false, reason: 'undecodable', detail: 'bad', ...(next() < 0.5 ? { schemaId: 9 } : {}) })
    else if (kind < 0.3) decoded.push({ ok: true, event: { ts: null }, schemaId: 3 })
    else
      decoded.push({
        ok: true,
        event: { ts: 1_700_000_000_000 + Math.floor(next() * 1e9) },
        schemaId: Math.floor(next() * 2 ** 31),
      })
  }
  return { records, events, decoded }
}

void describe('engine > archive records', () => {
  void test('archiveRecords holds what pushing recordArchiveRows holds', () => {
    for (const seed of [1, 2, 3]) {
      const { records, events, decoded } = batchOf(seed, 700)
      const expected = new ArchiveRowBuffer(PARTITION)
      for (const row of recordArchiveRows(PARTITION, 'ts', records, events, decoded)) expected.push(row)
      const actual = new ArchiveRowBuffer(PARTITION)
      archiveRecords(actual, 'ts', records, events, decoded)
      assert.equal(actual.length, records.length)
      assert.deepStrictEqual(rowsOf(actual), rowsOf(expected), `seed ${seed}`)
      assert.ok(
        rowsOf(actual).some((r) => r.eventTimeMs === null && r.schemaId === null && r.payload !== null),
        'a bundle record is in the batch',
      )
    }
  })
})
