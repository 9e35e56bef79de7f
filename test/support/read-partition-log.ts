/**
 * Every record an embedded partition log holds, read from offset 0 to its end in reads of at most
 * `maxRecords` records / `maxBytes` bytes (small, so reads cross segments and removed offsets).
 * A read below the end that returns nothing fails: it would loop for ever or hide a gap.
 */
import assert from 'node:assert/strict'
import type { PartitionLog } from '../../adapters/event-log/embedded/partition-log.ts'
import type { StoredRecord } from '../../adapters/event-log/embedded/record-format.ts'

export function readPartitionLog(log: PartitionLog, maxRecords: number, maxBytes: number): StoredRecord[] {
  const out: StoredRecord[] = []
  for (let at = 0; at < log.endOffset;) {
    const batch = log.read(at, maxRecords, maxBytes)
    assert.ok(batch.length > 0, `a read at ${at} below the end ${log.endOffset} returned nothing`)
    out.push(...batch)
    at = batch.at(-1)!.offset + 1
  }
  return out
}
