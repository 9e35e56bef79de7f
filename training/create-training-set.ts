/**
 * Point-in-time training sets (training/README.md): labels in, one Parquet file out with the
 * labels' columns, one column per stored feature (`<view>__<feature>`) and one per request feature.
 * Everything it reads and writes goes through ports, wired in main/: the feature tables
 * (ports/feature-rows.ts), Parquet (ports/parquet-codec.ts) and the join engine
 * (ports/point-in-time-joiner.ts).
 *
 * Steps
 * 1. Resolve the features against the registry (training/plan.ts); refuse any view whose
 *    backfill is not complete (BACKFILL_INCOMPLETE, docs/semantics.md §14).
 * 2. Read the labels (only the columns JS needs; Parquet through ports/label-reader.ts, CSV typed
 *    in JS and written back as Parquet by the same port); check every view's entity join keys are
 *    label columns; validate every label time. Entity keys (core/entity-key.ts, join-key order)
 *    and label times come either from JS (CSV, composite keys, text times: written to a
 *    label-keys file, times in ms) or, for Parquet labels with single string/integer keys and a
 *    timestamp or epoch-ms time, from SQL that computes exactly the same values (`derivedKeys`).
 * 3. Pin each view's table at a snapshot (current, or the recorded one on rebuild).
 * 4. Request features: fetch their stored inputs point-in-time into JS, run the definitions' own
 *    functions, write them to a side file.
 * 5. The engine joins every view (ports/point-in-time-joiner.ts has the exact rule) and writes the
 *    output file itself, in label order, with fixed writer settings and the Parquet key-value
 *    metadata `kfs.training_set` (no wall-clock field). The set is recorded in the registry's
 *    store with the output's sha256; `rebuildTrainingSet` refuses any other bytes.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock, type Clock } from '../core/clock.ts'
import { encodeEntityKey } from '../core/entity-key.ts'
import { FeatureStoreError } from '../core/errors.ts'
import type { FeatureValue, FeatureValueType, RequestFeatureDef, RequestValueType } from '../features/types.ts'
import type { FeatureRowReader } from '../ports/feature-rows.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { ParquetCodec, ParquetColumnSpec, ParquetColumnType } from '../ports/parquet-codec.ts'
import type { LabelReader } from '../ports/label-reader.ts'
import type { LabelSource, PointInTimeJoiner, ViewJoinSpec } from '../ports/point-in-time-joiner.ts'
import type { Registry } from '../registry/index.ts'
import { labelFormatOf, labelTimeMs, MAX_LABEL_TIME_MS, MIN_LABEL_TIME_MS, readLabels, sha256Hex, type LabelColumn, type LabelFormat, type LabelTable } from './labels.ts'
import { planTrainingSet, type FeatureSelection, type TrainingPlan } from './plan.ts'
import { loadTrainingSet, saveTrainingSet, trainingSetKeys, type TrainingSetRecord, type TrainingSetViewRecord } from './records.ts'
import { computeRequestFeature } from './request-features.ts'

export const TRAINING_SET_METADATA_KEY = 'kfs.training_set'

export interface TrainingSetDeps {
  /** The registry's object store: training-set records and their labels are kept there. */
  readonly store: ObjectStore
  readonly registry: Registry
  /** The views' feature tables, pinned at a snapshot. */
  readonly featureRows: FeatureRowReader
  /** Writes the label-keys and request-feature files the joiner reads. */
  readonly parquet: ParquetCodec
  /** Reads label files (any Parquet types) and writes typed CSV labels; closed after the build. */
  readonly openLabelReader: () => Promise<LabelReader>
  /** The join engine for one build; `tempDir` is the build's own (spill there), removed after it. */
  readonly createJoiner: (tempDir: string) => Promise<PointInTimeJoiner>
  readonly clock?: Clock
  /** Request-feature definitions (from the definitions module): their functions are run. */
  readonly requestFeatures?: readonly RequestFeatureDef[]
  /** Parent of the per-build temp directory (label keys, copied data files, the joiner's spill). */
  readonly tempDir?: string
}

export type LabelInput = { readonly path: string } | { readonly bytes: Uint8Array; readonly format: LabelFormat }

export interface CreateTrainingSetOptions extends TrainingSetDeps {
  readonly labels: LabelInput
  /** Feature refs (`view:feature`, `view@2:feature`, request feature names), or a service name. */
  readonly features: readonly string[] | string
  /** Label column holding the label time; default `ts`. */
  readonly timeColumn?: string
  readonly asServed?: boolean
  /** Local path of the Parquet file to write. */
  readonly output: string
}

export interface TrainingSetResult {
  readonly id: string
  readonly output: string
  readonly rows: number
  readonly record: TrainingSetRecord
}

interface BuildSpec {
  readonly selection: FeatureSelection
  readonly timeColumn: string
  readonly asServed: boolean
  readonly labelBytes: Uint8Array
  readonly labelFormat: LabelFormat
  /** The label file on disk, when it came from one (saves a copy for the engine). */
  readonly labelPath?: string
  /** Table → snapshot id to read (rebuild); absent = current. */
  readonly snapshots?: ReadonlyMap<string, string | null>
}

export async function createTrainingSet(options: CreateTrainingSetOptions): Promise<TrainingSetResult> {
  const labelBytes = 'path' in options.labels ? new Uint8Array(await readFile(options.labels.path)) : options.labels.bytes
  const labelFormat = 'path' in options.labels ? labelFormatOf(options.labels.path) : options.labels.format
  const selection: FeatureSelection = typeof options.features === 'string' ? { service: options.features } : { refs: options.features }
  const labelPath = 'path' in options.labels ? options.labels.path : undefined
  const spec = { selection, timeColumn: options.timeColumn ?? 'ts', asServed: options.asServed ?? false, labelBytes, labelFormat, ...(labelPath === undefined ? {} : { labelPath }) }
  const record = await build(options, spec, options.output)
  await saveTrainingSet(options.store, record, labelBytes)
  return { id: record.id, output: options.output, rows: record.labels.rows, record }
}

/** Rebuilds a recorded set from its stored labels and pinned snapshots; fails unless the bytes match. */
export async function rebuildTrainingSet(options: TrainingSetDeps & { readonly id: string; readonly output: string }): Promise<TrainingSetResult> {
  const { record, labels } = await loadTrainingSet(options.store, options.id)
  const rebuilt = await build(
    options,
    {
      selection: record.selection,
      timeColumn: record.timeColumn,
      asServed: record.asServed,
      labelBytes: labels,
      labelFormat: record.labels.format,
      snapshots: new Map(record.views.map((v) => [v.table, v.snapshotId])),
    },
    options.output,
  )
  if (rebuilt.id !== record.id || rebuilt.output.sha256 !== record.output.sha256) {
    await rm(options.output, { force: true })
    throw new FeatureStoreError('INVARIANT_VIOLATED', `rebuilding training set ${record.id} gave different bytes (request-feature code, a pinned table or the DuckDB version changed?)`, { context: { id: record.id } })
  }
  return { id: record.id, output: options.output, rows: record.labels.rows, record }
}

function parquetTypeOf(type: FeatureValueType | RequestValueType): ParquetColumnType {
  switch (type) {
    case 'long[]':
      return 'list<long>'
    case 'double[]':
      return 'list<double>'
    case 'string[]':
      return 'list<string>'
    default:
      return type
  }
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

function checkLabelColumns(plan: TrainingPlan, labels: LabelTable, timeColumn: string): void {
  const names = new Set(labels.columns.map((c) => c.name))
  const list = labels.columns.map((c) => c.name).join(', ')
  if (!names.has(timeColumn)) throw new FeatureStoreError('BAD_REQUEST', `the labels have no label-time column ${timeColumn} (columns: ${list}); pick one with --time-column`, { context: { column: timeColumn } })
  for (const v of plan.views) {
    const missing = v.joinKeys.filter((k) => !names.has(k))
    if (missing.length > 0) {
      throw new FeatureStoreError('BAD_REQUEST', `view ${v.name} is keyed by entity ${v.entity} (${v.joinKeys.join(', ')}), but the labels have no column ${missing.join(', ')} (columns: ${list})`, { context: { view: v.name } })
    }
  }
  for (const name of names) {
    if (name.startsWith('__kfs_')) throw new FeatureStoreError('BAD_REQUEST', `label column ${name}: the prefix __kfs_ is reserved`, { context: { column: name } })
  }
  for (const o of plan.outputs) {
    if (names.has(o.column)) throw new FeatureStoreError('BAD_REQUEST', `label column ${o.column} clashes with the feature column of the same name; rename it`, { context: { column: o.column } })
  }
}

/**
 * The SQL for label time (µs) and entity keys straight from a Parquet label file, when it is
 * exactly what `labelTimeMs` and `entityKeys` compute: single join keys of string or integer
 * columns, a timestamp or integer (epoch ms) time column. Anything else (composite keys, text
 * times, CSV) goes through JS. Undefined = not applicable.
 */
function derivedKeys(
  columns: readonly LabelColumn[],
  joinKeys: readonly (readonly string[])[],
  keyColumns: ReadonlyMap<string, string>,
  timeColumn: string,
): { timeUs: string; keys: Record<string, string> } | undefined {
  const typeOf = (name: string) => columns.find((c) => c.name === name)?.type
  if (columns.some((c) => c.name === 'file_row_number')) return undefined
  const q = (name: string) => `"${name.replaceAll('"', '""')}"`
  const timeType = typeOf(timeColumn)
  // Timestamps of any unit, floored to the ms in integers (a double division rounds past 2^53 µs).
  const us = `epoch_us(${columns.find((c) => c.name === timeColumn)?.fileType === 'DATE' ? `CAST(${q(timeColumn)} AS TIMESTAMP)` : q(timeColumn)})`
  const timeUs =
    timeType === 'timestamp'
      ? `(${us} - ((${us} % 1000) + 1000) % 1000)`
      : timeType === 'long' || timeType === 'int'
        ? `CAST(${q(timeColumn)} AS BIGINT) * 1000`
        : undefined
  if (timeUs === undefined) return undefined
  const keys: Record<string, string> = {}
  for (const tuple of joinKeys) {
    if (tuple.length !== 1) return undefined
    const name = tuple[0]!
    const type = typeOf(name)
    const expr = type === 'string' ? `NULLIF(CAST(${q(name)} AS VARCHAR), '')` : type === 'long' || type === 'int' ? `CAST(${q(name)} AS VARCHAR)` : undefined
    if (expr === undefined) return undefined
    keys[keyColumns.get(JSON.stringify(tuple))!] = expr
  }
  return { timeUs, keys }
}

/** Throws labelTimeMs's error for the first label time outside 0001…9999 (or null), if any. */
async function refuseTimesOutsideRange(reader: LabelReader, path: string, timeColumn: string): Promise<void> {
  const bad = await reader.firstTimeOutside(path, timeColumn, { minMs: MIN_LABEL_TIME_MS, maxMs: MAX_LABEL_TIME_MS })
  if (bad === undefined) return
  labelTimeMs(bad.value, bad.row, timeColumn)
  throw new FeatureStoreError('INVARIANT_VIOLATED', `label row ${bad.row + 1}: the label reader refused ${timeColumn} = ${String(bad.value)}, which the label-time rule accepts`)
}

/** Encoded entity key per row for one join-key tuple; null when a part is missing or not a key. */
function entityKeys(labels: LabelTable, joinKeys: readonly string[]): (string | null)[] {
  const cols = joinKeys.map((k) => labels.values[labels.columns.findIndex((c) => c.name === k)]!)
  const out = new Array<string | null>(labels.rowCount)
  const parts = new Array<string>(joinKeys.length)
  for (let r = 0; r < labels.rowCount; r++) {
    let ok = true
    for (let p = 0; p < cols.length; p++) {
      const v = cols[p]![r]
      if (typeof v === 'string' && v.length > 0) parts[p] = v
      else if ((typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'bigint') parts[p] = String(v)
      else {
        ok = false
        break
      }
    }
    out[r] = ok ? encodeEntityKey(parts) : null
  }
  return out
}

async function build(deps: TrainingSetDeps, spec: BuildSpec, outputPath: string): Promise<TrainingSetRecord> {
  const plan = await planTrainingSet(deps.registry, spec.selection, deps.requestFeatures ?? [])
  for (const v of plan.views) await deps.registry.assertBackfillComplete(v.name, v.version)
  const allJoinKeys = [...new Set(plan.views.flatMap((v) => v.joinKeys))]
  const requestInputs = plan.outputs.flatMap((o) => (o.kind === 'request' ? Object.keys(o.def.request) : []))
  // One key column per distinct join-key tuple (views of one entity share it).
  const keyColumns = new Map<string, string>()
  for (const v of plan.views) {
    const id = JSON.stringify(v.joinKeys)
    if (!keyColumns.has(id)) keyColumns.set(id, `__kfs_k${keyColumns.size}`)
  }
  const temp = await mkdtemp(join(deps.tempDir ?? tmpdir(), 'kfs-training-'))
  try {
    // Parquet labels are read where they lie (or from a copy of the bytes); CSV becomes labels.parquet.
    const labelsPath = spec.labelFormat === 'parquet' && spec.labelPath !== undefined ? spec.labelPath : join(temp, 'labels.parquet')
    if (spec.labelFormat === 'parquet' && spec.labelPath === undefined) await writeFile(labelsPath, spec.labelBytes)
    const reader = await deps.openLabelReader()
    let labels: LabelTable
    let derived: ReturnType<typeof derivedKeys>
    try {
      const file = { format: spec.labelFormat, bytes: spec.labelBytes, ...(spec.labelFormat === 'parquet' ? { path: labelsPath } : {}) }
      derived = spec.labelFormat === 'parquet' ? derivedKeys((await reader.describe(labelsPath)).columns, plan.views.map((v) => v.joinKeys), keyColumns, spec.timeColumn) : undefined
      // Only the columns JS needs are decoded from Parquet labels; the engine carries the rest.
      labels = await readLabels(reader, file, {
        stringColumns: allJoinKeys,
        timeColumn: spec.timeColumn,
        columns: derived === undefined ? [...allJoinKeys, spec.timeColumn, ...requestInputs] : requestInputs,
      })
      checkLabelColumns(plan, labels, spec.timeColumn)
      // Every label time is validated, also when the engine computes them (a bad one is an error,
      // not a null): in JS below, or — times the engine derives — by the reader, which names the
      // first bad row without decoding the column into JS; labelTimeMs words the error either way.
      if (derived !== undefined) await refuseTimesOutsideRange(reader, labelsPath, spec.timeColumn)
      if (spec.labelFormat === 'csv') await reader.write(labelsPath, labels.columns, labels.values.map((v) => v ?? []))
    } finally {
      await reader.close()
    }
    const column = (name: string): readonly unknown[] | undefined => labels.values[labels.columns.findIndex((c) => c.name === name)]
    const n = labels.rowCount

    let files: LabelSource
    if (derived !== undefined) {
      files = { kind: 'derived', labels: labelsPath, timeUs: derived.timeUs, keys: derived.keys, rowCount: n }
    } else {
      const timeValues = column(spec.timeColumn)!
      const tMs = new Array<number>(n)
      for (let r = 0; r < n; r++) tMs[r] = labelTimeMs(timeValues[r], r, spec.timeColumn)
      const keyCols: ParquetColumnSpec[] = [
        { name: '__kfs_row', type: 'int', required: true },
        { name: '__kfs_t_ms', type: 'long', required: true },
      ]
      const keyValues: unknown[][] = [Array.from({ length: n }, (_, i) => i), tMs]
      for (const [id, name] of keyColumns) {
        keyCols.push({ name, type: 'string', required: false })
        keyValues.push(entityKeys(labels, JSON.parse(id) as string[]))
      }
      files = { kind: 'files', labels: labelsPath, keys: join(temp, 'label-keys.parquet'), rowCount: n }
      await writeFile(files.keys, await deps.parquet.encode(keyCols, keyValues, { compression: 'none', rowGroupRows: 1 << 20 }))
    }

    const joiner = await deps.createJoiner(temp)
    const viewRecords: TrainingSetViewRecord[] = []
    let record: TrainingSetRecord
    try {
      const specs: ViewJoinSpec[] = []
      for (const v of plan.views) {
        const table = deps.featureRows.tableId({ kind: 'feature', view: v })
        const pinned = await deps.featureRows.pinFeatureFiles(v, { snapshotId: spec.snapshots === undefined ? undefined : (spec.snapshots.get(table) ?? null), tempDir: temp })
        viewRecords.push({ name: v.name, version: v.version, hash: v.hash, table, snapshotId: pinned.snapshotId })
        specs.push({ files: pinned.files, features: v.features, ttlMs: v.ttlMs, asServed: spec.asServed, keyColumn: keyColumns.get(JSON.stringify(v.joinKeys))! })
      }
      const extra = await requestFeatureFile(plan, specs, labels, files, joiner, deps.parquet, temp)

      const identity = {
        selection: spec.selection,
        features: plan.refs,
        asServed: spec.asServed,
        timeColumn: spec.timeColumn,
        labels: { format: spec.labelFormat, sha256: labels.sha256 },
        views: viewRecords,
        requestFeatures: plan.requestFeatureHashes,
      }
      const id = createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 16)
      const metadata = {
        id,
        features: plan.refs,
        ...('service' in spec.selection ? { service: spec.selection.service } : {}),
        as_served: spec.asServed,
        time_column: spec.timeColumn,
        labels_sha256: labels.sha256,
        snapshots: Object.fromEntries(viewRecords.map((v) => [v.table, v.snapshotId])),
        views: viewRecords.map((v) => ({ view: v.name, version: v.version, hash: v.hash })),
        request_features: plan.requestFeatureHashes,
      }
      await joiner.write(files, specs, {
        path: outputPath,
        columns: plan.outputs.flatMap((o) => (o.kind === 'stored' ? [{ column: o.column, view: o.view, feature: o.feature }] : [])),
        ...(extra === undefined ? {} : { extra }),
        keyValueMetadata: { [TRAINING_SET_METADATA_KEY]: JSON.stringify(metadata) },
      })
      const bytes = await readFile(outputPath)
      record = {
        id,
        createdAtMs: (deps.clock ?? systemClock).nowMs(),
        selection: spec.selection,
        features: plan.refs,
        asServed: spec.asServed,
        timeColumn: spec.timeColumn,
        labels: { key: trainingSetKeys.labels(id, spec.labelFormat), format: spec.labelFormat, sha256: labels.sha256, rows: n },
        views: viewRecords,
        requestFeatures: plan.requestFeatureHashes,
        output: { sha256: sha256Hex(bytes), bytes: bytes.length, columns: [...labels.columns.map((c) => c.name), ...plan.outputs.map((o) => o.column)] },
      }
    } finally {
      await joiner.close()
    }
    return record
  } finally {
    await rm(temp, { recursive: true, force: true })
  }
}

/** Runs the request features in JS and writes them, in label order, for the engine to append. */
async function requestFeatureFile(
  plan: TrainingPlan,
  specs: readonly ViewJoinSpec[],
  labels: LabelTable,
  files: LabelSource,
  joiner: PointInTimeJoiner,
  parquet: ParquetCodec,
  temp: string,
): Promise<{ path: string; columns: string[] } | undefined> {
  const requested = plan.outputs.filter((o) => o.kind === 'request')
  if (requested.length === 0) return undefined
  const fetched = new Map<number, FeatureValue[][]>()
  const stored = async (ref: string): Promise<FeatureValue[]> => {
    const colon = ref.lastIndexOf(':')
    const [name, version] = ref.slice(0, colon).split('@')
    const index = plan.views.findIndex((v) => v.name === name && (version === undefined || v.version === Number(version)))
    if (!fetched.has(index)) fetched.set(index, await joiner.fetch(files, specs[index]!))
    return fetched.get(index)![plan.views[index]!.features.findIndex((f) => f.name === ref.slice(colon + 1))]!
  }
  const columns: ParquetColumnSpec[] = [{ name: '__kfs_row', type: 'int', required: true }]
  const values: unknown[][] = [Array.from({ length: labels.rowCount }, (_, i) => i)]
  const labelIndex = new Map(labels.columns.map((c, i) => [c.name, i]))
  for (const o of requested) {
    const inputs = new Map<string, FeatureValue[]>()
    for (const ref of o.def.features) inputs.set(ref, await stored(ref))
    columns.push({ name: o.column, type: parquetTypeOf(o.def.outputType), required: false })
    values.push(computeRequestFeature(o.def, labels.rowCount, (name) => (labelIndex.has(name) ? labels.values[labelIndex.get(name)!] : undefined), (ref) => inputs.get(ref)!))
  }
  const path = join(temp, 'request-features.parquet')
  await writeFile(path, await parquet.encode(columns, values, { compression: 'none' }))
  return { path, columns: columns.slice(1).map((c) => c.name) }
}
