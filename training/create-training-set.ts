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
 *    timestamp or epoch-ms time, from SQL that computes exactly the same values
 *    (training/label-source.ts).
 * 3. Pin each view's table at a snapshot (current, or the recorded one on rebuild), while step 2
 *    runs: the label reader and the joiner are one engine (ports/training-engine.ts), started
 *    while the registry resolves step 1 and the label file is read.
 * 4. Request features: fetch their stored inputs point-in-time into JS, run the definitions' own
 *    functions, write them to a side file.
 * 5. The engine joins every view (ports/point-in-time-joiner.ts has the exact rule) and writes the
 *    output file itself, in label order, with fixed writer settings and the Parquet key-value
 *    metadata `kfs.training_set` (no wall-clock field). The set is recorded in the registry's
 *    store with the output's sha256; `rebuildTrainingSet` refuses any other bytes.
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { systemClock, type Clock } from '../core/clock.ts'
import { FeatureStoreError } from '../core/errors.ts'
import type { FeatureValue, FeatureValueType, RequestFeatureDef, RequestValueType } from '../features/types.ts'
import type { FeatureRowReader, PinnedFeatureFiles } from '../ports/feature-rows.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { ParquetCodec, ParquetColumnSpec, ParquetColumnType } from '../ports/parquet-codec.ts'
import type { LabelSource, PointInTimeJoiner, ViewJoinSpec } from '../ports/point-in-time-joiner.ts'
import type { TrainingEngine } from '../ports/training-engine.ts'
import type { Registry } from '../registry/index.ts'
import { readLabelSource } from './label-source.ts'
import { labelFormatOf, sha256HexOffThread, type LabelFormat, type LabelTable } from './labels.ts'
import { planTrainingSet, type FeatureSelection, type RecordedFeatures, type TrainingPlan } from './plan.ts'
import { loadTrainingSet, recordedLabelColumns, saveTrainingSet, trainingSetKeys, type TrainingSetRecord, type TrainingSetViewRecord } from './records.ts'
import { computeRequestFeature } from './request-features.ts'
import { noMatchWarnings } from './no-match-warnings.ts'

export const TRAINING_SET_METADATA_KEY = 'kfs.training_set'

export interface TrainingSetDeps {
  /** The registry's object store: training-set records and their labels are kept there. */
  readonly store: ObjectStore
  readonly registry: Registry
  /** The views' feature tables, pinned at a snapshot. */
  readonly featureRows: FeatureRowReader
  /** Writes the label-keys and request-feature files the joiner reads. */
  readonly parquet: ParquetCodec
  /**
   * The engine of one build: its label reader reads label files (any Parquet types) and writes
   * typed CSV labels, its joiner joins; `tempDir` is the build's own (spill there), removed after
   * it. Closed after the build.
   */
  readonly openTrainingEngine: (tempDir: string) => Promise<TrainingEngine>
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
  /**
   * Called once the labels are read (their columns and row count), before any other label check:
   * lets a caller refuse them in its own terms (the CLI's usage errors) without reading the file a
   * second time — a CSV is parsed once per build.
   */
  readonly inspectLabels?: (labels: { readonly columns: readonly string[]; readonly rowCount: number }) => void
}

export interface TrainingSetResult {
  readonly id: string
  readonly output: string
  readonly rows: number
  readonly record: TrainingSetRecord
  /** What a user would not expect (not in the record): per view that matched no label row, a line (noMatchWarnings). */
  readonly warnings: readonly string[]
}

interface BuildSpec {
  readonly selection: FeatureSelection
  readonly timeColumn: string
  readonly asServed: boolean
  /** Still being read while the build starts (createTrainingSet). */
  readonly labelBytes: Promise<Uint8Array>
  readonly labelFormat: LabelFormat
  /** The label file on disk, when it came from one (saves a copy for the engine). */
  readonly labelPath?: string
  readonly inspectLabels?: CreateTrainingSetOptions['inspectLabels']
  /** Table → snapshot id to read (rebuild); absent = current. */
  readonly snapshots?: ReadonlyMap<string, string | null>
  /** The label columns' layout a rebuild must reproduce (its record's); absent: a new build's. */
  readonly labelColumns?: 'carried' | 'beside'
  /** A rebuild's: what its record read (absent: resolve the selection against the registry now). */
  readonly recorded?: RecordedFeatures
}

/** Per view, the highest version a record read: what its unpinned refs resolved to (the latest then). */
function latestVersions(views: readonly { readonly name: string; readonly version: number }[]): Map<string, number> {
  const versions = new Map<string, number>()
  for (const v of views) versions.set(v.name, Math.max(versions.get(v.name) ?? 0, v.version))
  return versions
}

export async function createTrainingSet(options: CreateTrainingSetOptions): Promise<TrainingSetResult> {
  // The label file is read while the build starts; a read error still comes first.
  const labelBytes = 'path' in options.labels ? readFile(options.labels.path).then((b) => new Uint8Array(b)) : Promise.resolve(options.labels.bytes)
  let labelFormat: LabelFormat
  try {
    labelFormat = 'path' in options.labels ? labelFormatOf(options.labels.path) : options.labels.format
  } catch (error) {
    await labelBytes
    throw error
  }
  const selection: FeatureSelection = typeof options.features === 'string' ? { service: options.features } : { refs: options.features }
  const labelPath = 'path' in options.labels ? options.labels.path : undefined
  const spec = {
    selection,
    timeColumn: options.timeColumn ?? 'ts',
    asServed: options.asServed ?? false,
    labelBytes,
    labelFormat,
    ...(labelPath === undefined ? {} : { labelPath }),
    ...(options.inspectLabels === undefined ? {} : { inspectLabels: options.inspectLabels }),
  }
  const warnings: string[] = []
  const record = await intoOutput(options.output, async (partial) => {
    const built = await build(options, spec, partial, warnings)
    await saveTrainingSet(options.store, built, await labelBytes)
    return built
  })
  return { id: record.id, output: options.output, rows: record.labels.rows, record, warnings }
}

/**
 * Runs `write` against a partial file beside `output` (same directory, so the same file system)
 * and renames it over `output` once `write` succeeds. So `output` holds a whole training set or
 * what it held before: a build that fails or is killed half way through the join never leaves a
 * truncated Parquet file where a reader expects one, nor destroys the file a user kept there.
 * A killed build's partial file stays (a dot file named after the output and the process).
 */
async function intoOutput<T>(output: string, write: (partial: string) => Promise<T>): Promise<T> {
  const partial = join(dirname(output), `.${basename(output)}.partial-${process.pid}-${randomUUID().slice(0, 8)}`)
  try {
    const result = await write(partial)
    await rename(partial, output)
    return result
  } finally {
    await rm(partial, { force: true })
  }
}

/** Rebuilds a recorded set from its stored labels and pinned snapshots; fails unless the bytes match. */
export async function rebuildTrainingSet(options: TrainingSetDeps & { readonly id: string; readonly output: string }): Promise<TrainingSetResult> {
  const { record, labels } = await loadTrainingSet(options.store, options.id)
  const warnings: string[] = []
  await intoOutput(options.output, async (partial) => {
    const built = await build(
      options,
      {
        selection: record.selection,
        timeColumn: record.timeColumn,
        asServed: record.asServed,
        labelBytes: Promise.resolve(labels),
        labelFormat: record.labels.format,
        snapshots: new Map(record.views.map((v) => [v.table, v.snapshotId])),
        labelColumns: record.labelColumns ?? 'beside',
        // The refs and versions it read: a later version, or a service edited in place, is not what it read.
        recorded: { refs: record.features, versions: latestVersions(record.views) },
      },
      partial,
      warnings,
    )
    if (built.id !== record.id || built.output.sha256 !== record.output.sha256) {
      throw new FeatureStoreError('INVARIANT_VIOLATED', `rebuilding training set ${record.id} gave different bytes (request-feature code, a pinned table or the DuckDB version changed?)`, { context: { id: record.id } })
    }
  })
  return { id: record.id, output: options.output, rows: record.labels.rows, record, warnings }
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

/** The features of a build, resolved against the registry; every view's backfill complete. */
async function resolvePlan(
  deps: TrainingSetDeps,
  selection: FeatureSelection,
  recorded: RecordedFeatures | undefined,
): Promise<TrainingPlan> {
  const plan = await planTrainingSet(deps.registry, selection, deps.requestFeatures ?? [], recorded)
  for (const v of plan.views) await deps.registry.assertBackfillComplete(v.name, v.version)
  return plan
}

type Pinned = { readonly table: string; readonly pinned: PinnedFeatureFiles }

/** Pins one view's table at its snapshot (a remote store's files are copied into `temp`). */
async function pinView(deps: TrainingSetDeps, spec: BuildSpec, view: TrainingPlan['views'][number], temp: string): Promise<Pinned> {
  const table = deps.featureRows.tableId({ kind: 'feature', view })
  return { table, pinned: await deps.featureRows.pinFeatureFiles(view, { snapshotId: spec.snapshots === undefined ? undefined : (spec.snapshots.get(table) ?? null), tempDir: temp }) }
}

/** The first rejection of `results`, in their order; undefined if none was rejected. */
function firstRejection(results: readonly PromiseSettledResult<unknown>[]): PromiseRejectedResult | undefined {
  return results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
}

async function build(deps: TrainingSetDeps, spec: BuildSpec, outputPath: string, warnings: string[]): Promise<TrainingSetRecord> {
  // Nothing here waits for what it does not need: the label bytes, the registry's plan, the
  // build's temp directory and the engine in it start together; the views' tables are pinned as
  // soon as the plan and the temp directory are there (a remote store's files are copied into it),
  // while the engine starts and then reads the labels. Errors are reported in that order, a label
  // error before a pinning one.
  const planning = resolvePlan(deps, spec.selection, spec.recorded)
  const making = mkdtemp(join(deps.tempDir ?? tmpdir(), 'kfs-training-'))
  const opening = making.then((temp) => deps.openTrainingEngine(temp))
  const pinning = Promise.all([planning, making]).then(([plan, temp]) => Promise.allSettled(plan.views.map((v) => pinView(deps, spec, v, temp))))
  // Its rejection (the plan's or the temp directory's) is reported below, not as unhandled.
  pinning.catch(() => undefined)
  const [read, planned, made, opened] = await Promise.allSettled([spec.labelBytes, planning, making, opening])
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await pinning.catch(() => undefined)
      try {
        if (opened.status === 'fulfilled') await opened.value.close()
      } finally {
        if (made.status === 'fulfilled') await rm(made.value, { recursive: true, force: true })
      }
    })())
  try {
    if (read.status === 'rejected' || planned.status === 'rejected' || made.status === 'rejected' || opened.status === 'rejected') throw firstRejection([read, planned, made, opened])!.reason
    const plan = planned.value
    const temp = made.value
    const engine = opened.value
    // One key column per distinct join-key tuple (views of one entity share it).
    const keyColumns = new Map<string, string>()
    for (const v of plan.views) {
      const id = JSON.stringify(v.joinKeys)
      if (!keyColumns.has(id)) keyColumns.set(id, `__kfs_k${keyColumns.size}`)
    }
    const input = {
      format: spec.labelFormat,
      bytes: read.value,
      timeColumn: spec.timeColumn,
      ...(spec.labelPath === undefined ? {} : { path: spec.labelPath }),
      ...(spec.inspectLabels === undefined ? {} : { inspect: spec.inspectLabels }),
    }
    const [labelled] = await Promise.allSettled([readLabelSource(engine.labels, deps.parquet, plan, keyColumns, input, temp)])
    const pins = await pinning
    if (labelled.status === 'rejected') throw labelled.reason
    const unpinned = firstRejection(pins)
    if (unpinned !== undefined) throw unpinned.reason
    const { labels, source } = labelled.value
    const viewRecords: TrainingSetViewRecord[] = []
    const specs: ViewJoinSpec[] = []
    plan.views.forEach((v, i) => {
      const { table, pinned } = (pins[i] as PromiseFulfilledResult<Pinned>).value
      viewRecords.push({ name: v.name, version: v.version, hash: v.hash, table, snapshotId: pinned.snapshotId })
      specs.push({
        files: pinned.files,
        features: v.features,
        ttlMs: v.ttlMs,
        asServed: spec.asServed,
        keyColumn: keyColumns.get(JSON.stringify(v.joinKeys))!,
        ...(pinned.tieKeyBounds === undefined ? {} : { tieKeyBounds: pinned.tieKeyBounds }),
      })
    })
    const extra = await requestFeatureFile(plan, specs, labels, source, engine.joiner, deps.parquet, temp)

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
    // A set already recorded under this id (built before from the same labels, features and
    // snapshots) is written as its record says, so that record still describes these bytes.
    const labelColumns = spec.labelColumns ?? (await recordedLabelColumns(deps.store, id)) ?? 'carried'
    await engine.joiner.write(source, specs, {
      labelColumns,
      path: outputPath,
      columns: plan.outputs.flatMap((o) => (o.kind === 'stored' ? [{ column: o.column, view: o.view, feature: o.feature }] : [])),
      ...(extra === undefined ? {} : { extra }),
      keyValueMetadata: { [TRAINING_SET_METADATA_KEY]: JSON.stringify(metadata) },
    })
    warnings.push(...(await noMatchWarnings(plan, engine.joiner, outputPath, labels.rowCount, spec.asServed)))
    const bytes = await readFile(outputPath)
    const createdAtMs = (deps.clock ?? systemClock).nowMs()
    // The output is complete. Freeing the engine holds this thread (~0.1 s after a large join:
    // its memory goes back to the system), so the output is hashed on the thread pool meanwhile.
    const hashing = sha256HexOffThread(bytes)
    await stop()
    const sha256 = await hashing
    return {
      id,
      createdAtMs,
      selection: spec.selection,
      features: plan.refs,
      asServed: spec.asServed,
      timeColumn: spec.timeColumn,
      labels: { key: trainingSetKeys.labels(id, spec.labelFormat), format: spec.labelFormat, sha256: labels.sha256, rows: labels.rowCount },
      views: viewRecords,
      requestFeatures: plan.requestFeatureHashes,
      output: { sha256, bytes: bytes.length, columns: [...labels.columns.map((c) => c.name), ...plan.outputs.map((o) => o.column)] },
      // What was done: labels of kind `files` are put beside whatever was asked.
      ...(labelColumns === 'carried' && source.kind === 'derived' ? { labelColumns } : {}),
    }
  } finally {
    await stop()
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
  const stored = async (input: { view: number; feature: string }): Promise<FeatureValue[]> => {
    if (!fetched.has(input.view)) fetched.set(input.view, await joiner.fetch(files, specs[input.view]!))
    return fetched.get(input.view)![plan.views[input.view]!.features.findIndex((f) => f.name === input.feature)]!
  }
  const columns: ParquetColumnSpec[] = [{ name: '__kfs_row', type: 'int', required: true }]
  const values: unknown[][] = [Array.from({ length: labels.rowCount }, (_, i) => i)]
  const labelIndex = new Map(labels.columns.map((c, i) => [c.name, i]))
  for (const o of requested) {
    const inputs = new Map<string, FeatureValue[]>()
    for (const input of o.inputs) inputs.set(input.ref, await stored(input))
    columns.push({ name: o.column, type: parquetTypeOf(o.def.outputType), required: false })
    values.push(computeRequestFeature(o.def, labels.rowCount, (name) => (labelIndex.has(name) ? labels.values[labelIndex.get(name)!] : undefined), (ref) => inputs.get(ref)!))
  }
  const path = join(temp, 'request-features.parquet')
  await writeFile(path, await parquet.encode(columns, values, { compression: 'none' }))
  return { path, columns: columns.slice(1).map((c) => c.name) }
}
