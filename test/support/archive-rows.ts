import type { ArchiveRow } from '../../ports/offline.ts'

/** Archive rows of partition 0 at offsets `from` … `to` − 1: one-byte keys, a framed empty payload. */
export function archiveRows(from: number, to: number): ArchiveRow[] {
  return Array.from({ length: to - from }, (_, i) => ({
    partition: 0,
    offset: String(from + i),
    eventTimeMs: 1_700_000_000_000 + i,
    key: Uint8Array.of(1),
    schemaId: 1,
    payload: Uint8Array.of(0, 0, 0, 0, 1),
    markerWatermarkMs: null,
    timestampMs: 1,
  }))
}
