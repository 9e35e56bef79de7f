/**
 * What a table's snapshot count costs each commit (docs/semantics.md §23): the metadata of a table
 * holding a day of 10 s checkpoints from 1, 4 and 16 partitions, serialized and parsed as every
 * commit and every read does (adapters/offline/iceberg/table-metadata.ts). Each snapshot carries a
 * summary like the engine's (Iceberg's counts, a checkpoint marker, rows-through, writer facts).
 *
 *   node --import tsx bench/_support/metadata-cost.ts
 */
import {
  parseTableMetadata,
  serializeTableMetadata,
  type Snapshot,
  type TableMetadata,
} from '../../adapters/offline/iceberg/table-metadata.ts'

const ID0 = 1_000_000_000_000

function snapshot(i: number, partitions: number): Snapshot {
  const writer = `kfs-live/purchases/${i % partitions}`
  return {
    'snapshot-id': BigInt(ID0 + i),
    'parent-snapshot-id': BigInt(ID0 + i - 1),
    'sequence-number': i,
    'timestamp-ms': 1_767_225_600_000 + Math.round((i * 10_000) / partitions),
    'manifest-list': `s3://kfs/warehouse/features/user_purchases_v1/metadata/snap-${ID0 + i}-1-0b9d1c7e-4a1f-4a3b-9f0e-2c6d8e1f3a5b.avro`,
    summary: {
      operation: 'append',
      'added-data-files': '1',
      'added-records': '4321',
      'added-files-size': '123456',
      'changed-partition-count': '1',
      'total-records': String(i * 4321),
      'total-files-size': String(i * 123456),
      'total-data-files': String(i),
      'total-delete-files': '0',
      'total-position-deletes': '0',
      'total-equality-deletes': '0',
      [`kfs.ckpt.${writer}`]: String(i),
      [`kfs.rows-through.${writer}`]: String(i * 1000),
      'kfs.writer.largest-row-index': String(i * 4321),
      'kfs.writer.tie-free-through': String(1_767_225_600_000 + i * 2500),
    },
    'schema-id': 0,
  }
}

function metadataOf(snapshots: Snapshot[]): TableMetadata {
  return {
    'format-version': 2,
    'table-uuid': '0b9d1c7e-4a1f-4a3b-9f0e-2c6d8e1f3a5b',
    location: 's3://kfs/warehouse/features/user_purchases_v1',
    'last-sequence-number': snapshots.length,
    'last-updated-ms': 0,
    'last-column-id': 20,
    'current-schema-id': 0,
    schemas: [{ type: 'struct', 'schema-id': 0, fields: [] }],
    'default-spec-id': 0,
    'partition-specs': [{ 'spec-id': 0, fields: [] }],
    'last-partition-id': 999,
    'default-sort-order-id': 0,
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    properties: {},
    'current-snapshot-id': snapshots.at(-1)!['snapshot-id'],
    refs: {},
    snapshots,
    'snapshot-log': snapshots.map((s) => ({ 'timestamp-ms': s['timestamp-ms'], 'snapshot-id': s['snapshot-id'] })),
    'metadata-log': [],
  } as unknown as TableMetadata
}

for (const partitions of [1, 4, 16]) {
  const count = 8_640 * partitions
  const meta = metadataOf(Array.from({ length: count }, (_, i) => snapshot(i + 1, partitions)))
  let t = performance.now()
  const bytes = serializeTableMetadata(meta)
  const serializeMs = performance.now() - t
  t = performance.now()
  const parsed = parseTableMetadata(bytes)
  const parseMs = performance.now() - t
  if (parsed.snapshots.length !== count) throw new Error(`parsed ${parsed.snapshots.length} of ${count} snapshots`)
  console.log(
    `metadata-cost partitions=${partitions} snapshots=${count} metadata_mb=${(bytes.length / 1e6).toFixed(1)} serialize_ms=${serializeMs.toFixed(0)} parse_ms=${parseMs.toFixed(0)}`,
  )
}
