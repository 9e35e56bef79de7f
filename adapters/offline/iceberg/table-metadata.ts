/**
 * Table metadata JSON (`metadata/v<N>.metadata.json`, format v2) as a typed object. Snapshot ids are
 * bigint everywhere (63-bit, lossless JSON); unknown keys written by other tools are kept on rewrite.
 */
import { SinkWriteError } from '../../../core/errors.ts'
import type { IcebergSchema, PartitionSpec } from './iceberg-schema.ts'
import { parseJson, stringifyJson, toBigInt } from './lossless-json.ts'
import { isJsonObject } from '../../../core/json-object.ts'

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
  const named = where === undefined ? '' : ` ${where}`
  const context = where === undefined ? undefined : { context: { file: where } }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SinkWriteError('DATA_CORRUPT', `table metadata${named} is not a JSON object: the file is damaged; restore it from a copy`, context)
  if (raw['format-version'] !== 2) {
    const version = raw['format-version'] === undefined ? 'no format-version' : `format-version ${JSON.stringify(raw['format-version'])}`
    throw new SinkWriteError('SINK_REJECTED', `not Iceberg format-v2 table metadata${named} (${version}); kfs reads and writes format v2 only`, context)
  }
  const problem = structureProblem(raw)
  if (problem !== undefined) throw new SinkWriteError('DATA_CORRUPT', `table metadata${named} is not valid Iceberg metadata: ${problem}; the file is damaged; restore it from a copy`, context)
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

const isInteger = (v: unknown): boolean => typeof v === 'bigint' || Number.isSafeInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v))

/**
 * What in parsed v2 metadata is not what the spec requires of the fields kfs reads (undefined: all
 * is), so a damaged file is refused as such when it is read — not as a TypeError deep in a reader,
 * nor as an empty table because its snapshots are gone.
 */
function structureProblem(raw: Json): string | undefined {
  if (!Array.isArray(raw.schemas) || raw.schemas.length === 0 || !raw.schemas.every(isJsonObject)) return 'schemas is not a list of schemas'
  if (!isInteger(raw['current-schema-id'])) return 'current-schema-id is not an integer'
  if (!Array.isArray(raw['partition-specs']) || !raw['partition-specs'].every(isJsonObject)) return 'partition-specs is not a list of specs'
  if (!isInteger(raw['default-spec-id'])) return 'default-spec-id is not an integer'
  if (raw.properties !== undefined && !isJsonObject(raw.properties)) return 'properties is not an object'
  const snapshots = raw.snapshots ?? []
  if (!Array.isArray(snapshots)) return 'snapshots is not a list'
  for (const [i, s] of snapshots.entries()) {
    if (!isJsonObject(s)) return `snapshots[${i}] is not an object`
    if (!isInteger(s['snapshot-id'])) return `snapshots[${i}] has no integer snapshot-id`
    if (typeof s['manifest-list'] !== 'string') return `snapshot ${String(s['snapshot-id'])} has no manifest-list`
    if (s.summary !== undefined && !isJsonObject(s.summary)) return `snapshot ${String(s['snapshot-id'])} has a summary that is not an object`
  }
  const current = raw['current-snapshot-id']
  if (current !== undefined && current !== null) {
    if (!isInteger(current)) return 'current-snapshot-id is not an integer'
    const id = BigInt(current as bigint | number | string)
    if (id >= 0n && !snapshots.some((s: Json) => BigInt(s['snapshot-id'] as bigint | number | string) === id)) return `current-snapshot-id ${id} names no snapshot of the table`
  }
  if (raw.refs !== undefined && (!isJsonObject(raw.refs) || !Object.values(raw.refs).every((r) => isJsonObject(r) && isInteger(r['snapshot-id'])))) return 'refs is not a map of snapshot references'
  for (const log of ['snapshot-log', 'metadata-log'] as const) {
    if (raw[log] !== undefined && (!Array.isArray(raw[log]) || !raw[log].every(isJsonObject))) return `${log} is not a list of entries`
  }
  if (Array.isArray(raw['snapshot-log']) && !raw['snapshot-log'].every((e: Json) => isInteger(e['snapshot-id']))) return 'snapshot-log has an entry without an integer snapshot-id'
  return undefined
}
