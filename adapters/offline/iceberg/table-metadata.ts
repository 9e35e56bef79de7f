/**
 * Table metadata JSON (`metadata/v<N>.metadata.json`, format v2) as a typed object. Snapshot ids are
 * bigint everywhere (63-bit, lossless JSON); unknown keys written by other tools are kept on rewrite.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import type { IcebergSchema, PartitionSpec } from './iceberg-schema.ts'
import { parseJson, stringifyJson, toBigInt } from './lossless-json.ts'

export interface Snapshot {
  readonly 'snapshot-id': bigint
  readonly 'parent-snapshot-id'?: bigint
  readonly 'sequence-number': number
  readonly 'timestamp-ms': number
  readonly 'manifest-list': string
  readonly summary: Readonly<Record<string, string>>
  readonly 'schema-id'?: number
}

export interface TableMetadata {
  readonly 'format-version': 2
  readonly 'table-uuid': string
  readonly location: string
  readonly 'last-sequence-number': number
  readonly 'last-updated-ms': number
  readonly 'last-column-id': number
  readonly schemas: readonly IcebergSchema[]
  readonly 'current-schema-id': number
  readonly 'partition-specs': readonly PartitionSpec[]
  readonly 'default-spec-id': number
  readonly 'last-partition-id': number
  readonly 'sort-orders': readonly { readonly 'order-id': number; readonly fields: readonly unknown[] }[]
  readonly 'default-sort-order-id': number
  readonly properties: Readonly<Record<string, string>>
  /** -1n when the table has no snapshot (what Java v2 writes). */
  readonly 'current-snapshot-id': bigint
  readonly refs: Readonly<Record<string, { readonly 'snapshot-id': bigint; readonly type: 'branch' | 'tag' }>>
  readonly snapshots: readonly Snapshot[]
  readonly 'snapshot-log': readonly { readonly 'timestamp-ms': number; readonly 'snapshot-id': bigint }[]
  readonly 'metadata-log': readonly { readonly 'timestamp-ms': number; readonly 'metadata-file': string }[]
}

export function currentSchema(meta: TableMetadata): IcebergSchema {
  const s = meta.schemas.find((x) => x['schema-id'] === meta['current-schema-id'])
  if (s === undefined) throw new SinkWriteError('SINK_REJECTED', 'table metadata names a missing current schema')
  return s
}

export function specById(meta: TableMetadata, specId: number): PartitionSpec {
  const s = meta['partition-specs'].find((x) => x['spec-id'] === specId)
  if (s === undefined) throw new SinkWriteError('SINK_REJECTED', `table metadata has no partition spec ${specId}`, { context: { specId } })
  return s
}

export function defaultSpec(meta: TableMetadata): PartitionSpec {
  return specById(meta, meta['default-spec-id'])
}

export function currentSnapshot(meta: TableMetadata): Snapshot | undefined {
  const id = meta['current-snapshot-id']
  return id < 0n ? undefined : meta.snapshots.find((s) => s['snapshot-id'] === id)
}

const enc = new TextEncoder()
const dec = new TextDecoder()

export function serializeTableMetadata(meta: TableMetadata): Uint8Array {
  return enc.encode(stringifyJson(meta, 2))
}

type Json = Record<string, unknown>

/** `where` (the metadata file's path) names it in the error when it does not parse. */
export function parseTableMetadata(bytes: Uint8Array, where?: string): TableMetadata {
  let raw: Json
  try {
    raw = parseJson(dec.decode(bytes)) as Json
  } catch (err: unknown) {
    throw new SinkWriteError('DATA_CORRUPT', `table metadata${where === undefined ? '' : ` ${where}`} is not valid JSON: the file is damaged; restore it from a copy`, { cause: err, ...(where === undefined ? {} : { context: { file: where } }) })
  }
  if (raw === null || typeof raw !== 'object' || raw['format-version'] !== 2) {
    throw new SinkWriteError('SINK_REJECTED', 'not Iceberg format-v2 table metadata')
  }
  const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number))
  const snapshots = ((raw.snapshots as Json[] | undefined) ?? []).map((s) => {
    const out: Json = { ...s, 'snapshot-id': toBigInt(s['snapshot-id']), 'sequence-number': num(s['sequence-number'] ?? 0), 'timestamp-ms': num(s['timestamp-ms']) }
    if (s['parent-snapshot-id'] !== undefined && s['parent-snapshot-id'] !== null) out['parent-snapshot-id'] = toBigInt(s['parent-snapshot-id'])
    else delete out['parent-snapshot-id']
    return out
  })
  const refs: Json = {}
  for (const [name, ref] of Object.entries((raw.refs as Record<string, Json> | undefined) ?? {})) {
    refs[name] = { ...ref, 'snapshot-id': toBigInt(ref['snapshot-id']) }
  }
  const currentId = raw['current-snapshot-id'] === undefined || raw['current-snapshot-id'] === null ? -1n : toBigInt(raw['current-snapshot-id'])
  if (Object.keys(refs).length === 0 && currentId >= 0n) refs.main = { 'snapshot-id': currentId, type: 'branch' }
  return {
    ...raw,
    'last-sequence-number': num(raw['last-sequence-number'] ?? 0),
    'last-updated-ms': num(raw['last-updated-ms']),
    properties: (raw.properties as Record<string, string> | undefined) ?? {},
    'current-snapshot-id': currentId,
    refs,
    snapshots,
    'snapshot-log': ((raw['snapshot-log'] as Json[] | undefined) ?? []).map((e) => ({ 'timestamp-ms': num(e['timestamp-ms']), 'snapshot-id': toBigInt(e['snapshot-id']) })),
    'metadata-log': (raw['metadata-log'] as TableMetadata['metadata-log'] | undefined) ?? [],
  } as unknown as TableMetadata
}
