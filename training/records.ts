/**
 * Training-set records in the registry's object store, so any set can be rebuilt from its id:
 *
 *   registry/training-sets/<id>.json            TrainingSetRecord (created once)
 *   registry/training-sets/<id>.labels.<csv|parquet>  the label file, byte for byte
 *
 * The id is a hash of everything that decides the output (labels, features, request-feature
 * logic, view versions, pinned snapshot ids, mode), so building the same set twice yields the same
 * id and the same file.
 */
import { FeatureStoreError } from '../core/errors.ts'
import { parseStoredJson } from '../core/stored-json.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import { sha256Hex, type LabelFormat } from './labels.ts'

export interface TrainingSetViewRecord {
  readonly name: string
  readonly version: number
  readonly hash: string
  readonly table: string
  /** Decimal snapshot id read, or null when the table had no snapshot. */
  readonly snapshotId: string | null
}

export interface TrainingSetRecord {
  readonly id: string
  readonly createdAtMs: number
  /** What was asked for: feature refs, or a service name. */
  readonly selection: { readonly refs: readonly string[] } | { readonly service: string }
  /** The refs the selection resolved to (stored and request features, in output order). */
  readonly features: readonly string[]
  readonly asServed: boolean
  readonly timeColumn: string
  readonly labels: { readonly key: string; readonly format: LabelFormat; readonly sha256: string; readonly rows: number }
  readonly views: readonly TrainingSetViewRecord[]
  /** Request feature name → hash of its published logic. */
  readonly requestFeatures: Readonly<Record<string, string>>
  readonly output: { readonly sha256: string; readonly bytes: number; readonly columns: readonly string[] }
  /** How the output's label columns were laid out (ports/point-in-time-joiner.ts); absent: `beside`, as every set recorded before the field was. */
  readonly labelColumns?: 'carried'
}

export const trainingSetKeys = {
  record: (id: string) => `registry/training-sets/${id}.json`,
  labels: (id: string, format: LabelFormat) => `registry/training-sets/${id}.labels.${format}`,
}

const ID = /^[0-9a-f]{16}$/

export async function saveTrainingSet(store: ObjectStore, record: TrainingSetRecord, labelBytes: Uint8Array): Promise<void> {
  // Labels first: a record never points at labels that are not there.
  const labelsKey = trainingSetKeys.labels(record.id, record.labels.format)
  // Listed, not read: a set built again from the same labels would read them all back.
  if (!(await store.list(labelsKey)).includes(labelsKey)) await store.put(labelsKey, labelBytes)
  await store.putIfAbsent(trainingSetKeys.record(record.id), new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`))
}

export async function loadTrainingSet(store: ObjectStore, id: string): Promise<{ record: TrainingSetRecord; labels: Uint8Array }> {
  if (!ID.test(id)) throw new FeatureStoreError('BAD_REQUEST', `training set id must be 16 hex digits, got ${JSON.stringify(id)}`)
  const bytes = await store.get(trainingSetKeys.record(id))
  if (bytes === undefined) throw new FeatureStoreError('NOT_FOUND', `no training set ${id} in the registry`, { context: { id } })
  const record = parseRecord(bytes, id, 'whole')
  const labels = await store.get(record.labels.key)
  if (labels === undefined) throw new FeatureStoreError('OBJECT_NOT_FOUND', `the labels of training set ${id} are missing from the registry`, { context: { id } })
  // Checked here, so a damaged copy is named as such, not reported as a rebuild that "gave different bytes".
  if (sha256Hex(labels) !== record.labels.sha256)
    throw new FeatureStoreError('DATA_CORRUPT', `the labels stored for training set ${id} (${record.labels.key}) are not the ones it was built from (their sha256 differs from the record's): the copy is damaged; the set cannot be rebuilt`, {
      context: { id, key: record.labels.key },
    })
  return { record, labels }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
/** What a reader of a record needs of it: its views (the pins, all snapshot expiry reads), or the whole record. */
const RECORD_SHAPES = {
  views: (r: Record<string, unknown>) => Array.isArray(r.views) && r.views.every((v) => isObject(v) && typeof v.table === 'string'),
  whole: (r: Record<string, unknown>) => RECORD_SHAPES.views(r) && isObject(r.labels) && typeof r.labels.key === 'string' && typeof r.labels.sha256 === 'string',
}

/**
 * A record's JSON. Records are created once, whole: bytes that are no record are damage (or an edit
 * by hand), named as DATA_CORRUPT — never a parser's SyntaxError, nor a TypeError further on (a
 * snapshot expiry reading the pins must stop there rather than guess what that set pinned).
 */
function parseRecord(bytes: Uint8Array, id: string, needs: keyof typeof RECORD_SHAPES): TrainingSetRecord {
  const key = trainingSetKeys.record(id)
  return parseStoredJson<TrainingSetRecord>(new TextDecoder().decode(bytes), {
    what: `the record of training set ${id} (${key})`,
    path: key,
    shape: 'a training-set record',
    isValid: (v) => isObject(v) && RECORD_SHAPES[needs](v),
    advice: 'restore it from a copy, or delete the record (and its labels) to forget the set',
  })
}

/** The layout of the label columns a recorded set was written with; undefined when no set `id` is recorded. */
export async function recordedLabelColumns(store: ObjectStore, id: string): Promise<'carried' | 'beside' | undefined> {
  const bytes = await store.get(trainingSetKeys.record(id))
  if (bytes === undefined) return undefined
  return parseRecord(bytes, id, 'whole').labelColumns ?? 'beside'
}

export async function listTrainingSets(store: ObjectStore): Promise<string[]> {
  return (await store.list('registry/training-sets/')).map((k) => /\/([0-9a-f]{16})\.json$/.exec(k)?.[1]).filter((id): id is string => id !== undefined)
}

/**
 * Per offline table, the snapshot ids recorded training sets pinned: snapshot expiry keeps them, so
 * every recorded set rebuilds. Records are created once and never change, so `known` (kept by a
 * long-running caller between calls) spares reading a record twice: a call lists, and reads only
 * the records new since.
 */
export async function pinnedSnapshots(store: ObjectStore, known: Map<string, readonly TrainingSetViewRecord[]> = new Map()): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>()
  for (const id of await listTrainingSets(store)) {
    let views = known.get(id)
    if (views === undefined) {
      const bytes = await store.get(trainingSetKeys.record(id))
      if (bytes === undefined) continue
      views = parseRecord(bytes, id, 'views').views
      known.set(id, views)
    }
    for (const view of views) {
      if (view.snapshotId === null) continue
      out.set(view.table, (out.get(view.table) ?? new Set()).add(view.snapshotId))
    }
  }
  return out
}
