/**
 * The label side of a training-set build (training/create-training-set.ts, step 2): reads and
 * checks the labels — only the columns JS needs — and gives the joiner its label rows
 * (ports/point-in-time-joiner.ts `LabelSource`): the label file itself with SQL that computes the
 * entity keys and label times (`derived`: Parquet labels with single string/integer keys and a
 * timestamp or epoch-ms time, exactly the values JS would compute), or else a label-keys file
 * computed in JS (CSV, composite keys, text times).
 */
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { CANONICAL_INT_KEY, encodeEntityKey, invalidKeyPartReason, MAX_ENTITY_KEY_BYTES } from '../core/entity-key.ts'
import { FeatureStoreError } from '../core/errors.ts'
import type { LabelReader } from '../ports/label-reader.ts'
import type { ParquetCodec, ParquetColumnSpec } from '../ports/parquet-codec.ts'
import type { LabelSource } from '../ports/point-in-time-joiner.ts'
import {
  epochSecondsError,
  epochSecondsMix,
  epochSecondsMixError,
  EPOCH_SECONDS_BELOW_MS,
  labelTimeMs,
  looksLikeEpochSeconds,
  NUMBER,
  MAX_LABEL_TIME_MS,
  MIN_LABEL_TIME_MS,
  readLabels,
  type LabelColumn,
  type LabelFormat,
  type LabelTable,
} from './labels.ts'
import type { TrainingPlan } from './plan.ts'

export interface LabelFileInput {
  readonly format: LabelFormat
  readonly bytes: Uint8Array
  /** The label file on disk, when it came from one (saves a copy for the engine). */
  readonly path?: string
  readonly timeColumn: string
  /** Sees the labels' columns and row count first (create-training-set.ts `inspectLabels`). */
  readonly inspect?: (labels: { readonly columns: readonly string[]; readonly rowCount: number }) => void
}

/**
 * Reads and checks the labels of `input` through `reader` and writes what the joiner reads into
 * `temp`. `keyColumns`: join-key tuple (JSON) → its key column (`__kfs_k0`, …).
 */
export async function readLabelSource(
  reader: LabelReader,
  parquet: ParquetCodec,
  plan: TrainingPlan,
  keyColumns: ReadonlyMap<string, string>,
  input: LabelFileInput,
  temp: string,
): Promise<{ labels: LabelTable; source: LabelSource }> {
  const allJoinKeys = [...new Set(plan.views.flatMap((v) => v.joinKeys))]
  const intJoinKeys = new Set(plan.views.flatMap((v) => (v.keyType === 'int' ? v.joinKeys : [])))
  const requestInputs = plan.outputs.flatMap((o) => (o.kind === 'request' ? Object.keys(o.def.request) : []))
  // Parquet labels are read where they lie (or from a copy of the bytes); CSV becomes labels.parquet.
  const labelsPath = input.format === 'parquet' && input.path !== undefined ? input.path : join(temp, 'labels.parquet')
  if (input.format === 'parquet' && input.path === undefined) await writeFile(labelsPath, input.bytes)
  const file = { format: input.format, bytes: input.bytes, ...(input.format === 'parquet' ? { path: labelsPath } : {}) }
  const described = input.format === 'parquet' ? (await reader.describe(labelsPath)).columns : undefined
  const derived =
    described === undefined
      ? undefined
      : derivedKeys(
          described,
          plan.views.map((v) => v.joinKeys),
          keyColumns,
          input.timeColumn,
          intJoinKeys,
        )
  // Only the columns JS needs are decoded from Parquet labels; the engine carries the rest.
  // A request feature's string input is read as its text, as serving gets it from the client:
  // inferred as a number, a column of codes would lose its digits (`02139` → 2139, `1.50` → 1.5).
  const stringInputs = plan.outputs.flatMap((o) =>
    o.kind === 'request' ? Object.entries(o.def.request).flatMap(([field, type]) => (type === 'string' ? [field] : [])) : [],
  )
  const labels = await readLabels(reader, file, {
    stringColumns: [...allJoinKeys, ...stringInputs],
    timeColumn: input.timeColumn,
    columns: derived === undefined ? [...allJoinKeys, input.timeColumn, ...requestInputs] : requestInputs,
  })
  input.inspect?.({ columns: labels.columns.map((c) => c.name), rowCount: labels.rowCount })
  checkLabelColumns(plan, labels, input.timeColumn)
  for (const name of allJoinKeys) refuseKeyColumnType(labels.columns.find((c) => c.name === name)!)
  // Every label time is validated, also when the engine computes them (a bad one is an error,
  // not a null): in JS below, or — times the engine derives — by the reader, which names the
  // first bad row without decoding the column into JS; labelTimeMs words the error either way.
  if (derived !== undefined) await refuseTimesOutsideRange(reader, labelsPath, input.timeColumn)
  // Epoch ms all in 1970–1973: epoch seconds, read as ms (labels.ts checks a CSV's cells itself).
  if (derived !== undefined && derived.epochMs && labels.rowCount > 0 && (await reader.firstTimeOutside(labelsPath, input.timeColumn, SECONDS_RANGE)) === undefined)
    throw epochSecondsError(input.timeColumn)
  // Some rows in epoch seconds among epoch ms (two sources concatenated): refused naming a row of each.
  if (derived !== undefined && derived.epochMs && labels.rowCount > 0) {
    const seconds = await reader.firstTimeInside(labelsPath, input.timeColumn, SECONDS_RANGE)
    const ms = seconds === undefined ? undefined : await reader.firstTimeInside(labelsPath, input.timeColumn, { minMs: EPOCH_SECONDS_BELOW_MS, maxMs: MAX_LABEL_TIME_MS })
    if (seconds !== undefined && ms !== undefined) throw epochSecondsMixError(input.timeColumn, { seconds, ms })
  }
  // Key columns the engine reads as they are: their keys are checked there too (entityKeys checks the rest).
  if (derived !== undefined)
    for (const name of allJoinKeys)
      if (described!.find((c) => c.name === name)?.type === 'string') await refuseBadKeyParts(reader, labelsPath, name)
  if (input.format === 'csv')
    await reader.write(
      labelsPath,
      labels.columns,
      labels.values.map((v) => v ?? []),
    )
  const column = (name: string): readonly unknown[] | undefined => labels.values[labels.columns.findIndex((c) => c.name === name)]
  const n = labels.rowCount

  let source: LabelSource
  if (derived !== undefined) {
    source = { kind: 'derived', labels: labelsPath, timeUs: derived.timeUs, keys: derived.keys, rowCount: n }
  } else {
    const timeValues = column(input.timeColumn)!
    const tMs = new Array<number>(n)
    for (let r = 0; r < n; r++) tMs[r] = labelTimeMs(timeValues[r], r, input.timeColumn)
    const timestamps = labels.columns.find((c) => c.name === input.timeColumn)!.type === 'timestamp'
    const numbers = !timestamps && timeValues.every(isNumberValue)
    if (input.format === 'parquet' && numbers && looksLikeEpochSeconds(tMs)) throw epochSecondsError(input.timeColumn, timeValues[0])
    const mix = input.format === 'parquet' && !timestamps ? epochSecondsMix(tMs, (r) => timeValues[r], (r) => isNumberValue(timeValues[r])) : undefined
    if (mix !== undefined) throw epochSecondsMixError(input.timeColumn, mix)
    const keyCols: ParquetColumnSpec[] = [
      { name: '__kfs_row', type: 'int', required: true },
      { name: '__kfs_t_ms', type: 'long', required: true },
    ]
    const keyValues: unknown[][] = [Array.from({ length: n }, (_, i) => i), tMs]
    for (const [id, name] of keyColumns) {
      keyCols.push({ name, type: 'string', required: false })
      keyValues.push(entityKeys(labels, JSON.parse(id) as string[], intJoinKeys))
    }
    source = { kind: 'files', labels: labelsPath, keys: join(temp, 'label-keys.parquet'), rowCount: n }
    await writeFile(source.keys, await parquet.encode(keyCols, keyValues, { compression: 'none', rowGroupRows: 1 << 20 }))
  }
  return { labels, source }
}

function checkLabelColumns(plan: TrainingPlan, labels: LabelTable, timeColumn: string): void {
  const names = new Set(labels.columns.map((c) => c.name))
  const list = labels.columns.map((c) => c.name).join(', ')
  if (!names.has(timeColumn))
    throw new FeatureStoreError(
      'BAD_REQUEST',
      `the labels have no label-time column ${timeColumn} (columns: ${list}); pick one with --time-column`,
      { context: { column: timeColumn } },
    )
  for (const v of plan.views) {
    const missing = v.joinKeys.filter((k) => !names.has(k))
    if (missing.length > 0) {
      throw new FeatureStoreError(
        'BAD_REQUEST',
        `view ${v.name} is keyed by entity ${v.entity} (${v.joinKeys.join(', ')}), but the labels have no column ${missing.join(', ')} (columns: ${list})`,
        { context: { view: v.name } },
      )
    }
  }
  // Compared ignoring case, as the join engine compares column names: a label column USER_CLICKS__COUNT_1H
  // would otherwise push the feature's column aside under another name (user_clicks__count_1h_1).
  for (const name of names) {
    if (name.toLowerCase().startsWith('__kfs_'))
      throw new FeatureStoreError('BAD_REQUEST', `label column ${name}: the prefix __kfs_ is reserved (in any case)`, {
        context: { column: name },
      })
  }
  for (const o of plan.outputs) {
    const label = [...names].find((name) => name.toLowerCase() === o.column.toLowerCase())
    if (label !== undefined)
      throw new FeatureStoreError(
        'BAD_REQUEST',
        `label column ${label} clashes with the feature column ${o.column} (column names are compared without case); rename it`,
        { context: { column: label } },
      )
  }
}

/** DuckDB's names of the file types a join key can be read from as text beside strings and integers. */
const TEXT_LIKE_KEY = /^(BLOB|UUID|DECIMAL\(\d+,\s*0\))$/i

/**
 * A join-key column must hold text or integers, as serving takes a key (docs/semantics.md §20):
 * strings (also BLOB, UUID: their text), integers of any width, a DECIMAL without fraction digits;
 * DOUBLE and BOOLEAN are checked value by value (entityKeys). Any other type is refused naming the
 * column: a date or timestamp would be read as its epoch ms, a list, struct or map as the engine's
 * text of it, a decimal with fraction digits as `5.0` where serving reads the key `5` — keys no
 * entity has, so the label's features would all be silently null.
 */
function refuseKeyColumnType(column: LabelColumn): void {
  const { type, fileType } = column
  if (type === 'string' || type === 'int' || type === 'long' || type === 'double' || type === 'boolean') return
  if (type === 'other' && fileType !== undefined && TEXT_LIKE_KEY.test(fileType)) return
  throw new FeatureStoreError(
    'BAD_REQUEST',
    `join-key column ${column.name} is of type ${fileType ?? type}: a join key is text or an integer, as serving takes it; cast the column to a string or an integer`,
    { context: { column: column.name, ...(fileType === undefined ? {} : { type: fileType }) } },
  )
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
  intJoinKeys: ReadonlySet<string>,
): { timeUs: string; keys: Record<string, string>; epochMs: boolean } | undefined {
  const typeOf = (name: string) => columns.find((c) => c.name === name)?.type
  if (columns.some((c) => c.name === 'file_row_number')) return undefined
  const q = (name: string) => `"${name.replaceAll('"', '""')}"`
  const timeType = typeOf(timeColumn)
  // Timestamps of any unit, floored to the ms in integers (a double division rounds past 2^53 µs).
  // Nanoseconds through epoch_ns: epoch_us truncates them toward zero, and 1 ns before a whole ms
  // would become that ms — a label time later than written, matching a feature row dated after it.
  const fileType = columns.find((c) => c.name === timeColumn)?.fileType?.toUpperCase()
  const ns = `epoch_ns(${q(timeColumn)})`
  const us = `epoch_us(${fileType === 'DATE' ? `CAST(${q(timeColumn)} AS TIMESTAMP)` : q(timeColumn)})`
  const timeUs =
    timeType === 'timestamp'
      ? fileType === 'TIMESTAMP_NS'
        ? `((${ns} - ((${ns} % 1000000) + 1000000) % 1000000) // 1000)`
        : `(${us} - ((${us} % 1000) + 1000) % 1000)`
      : timeType === 'long' || timeType === 'int'
        ? `CAST(${q(timeColumn)} AS BIGINT) * 1000`
        : undefined
  if (timeUs === undefined) return undefined
  const keys: Record<string, string> = {}
  for (const tuple of joinKeys) {
    if (tuple.length !== 1) return undefined
    const name = tuple[0]!
    const type = typeOf(name)
    // Text keys of an int entity are checked in JS (entityKeys), where a bad one is named.
    if (type === 'string' && intJoinKeys.has(name)) return undefined
    const expr =
      type === 'string'
        ? `NULLIF(CAST(${q(name)} AS VARCHAR), '')`
        : type === 'long' || type === 'int'
          ? `CAST(${q(name)} AS VARCHAR)`
          : undefined
    if (expr === undefined) return undefined
    keys[keyColumns.get(JSON.stringify(tuple))!] = expr
  }
  return { timeUs, keys, epochMs: timeType !== 'timestamp' }
}

/** [0, EPOCH_SECONDS_BELOW_MS): a column of epoch ms wholly inside it is epoch seconds (labels.ts). */
const SECONDS_RANGE = { minMs: 0, maxMs: EPOCH_SECONDS_BELOW_MS - 1 }

/** A label-time value written as a number (not a timestamp, not ISO text). */
const isNumberValue = (v: unknown): boolean => typeof v === 'number' || typeof v === 'bigint' || (typeof v === 'string' && NUMBER.test(v))

/** Throws labelTimeMs's error for the first label time outside 0001…9999 (or null), if any. */
async function refuseTimesOutsideRange(reader: LabelReader, path: string, timeColumn: string): Promise<void> {
  const bad = await reader.firstTimeOutside(path, timeColumn, { minMs: MIN_LABEL_TIME_MS, maxMs: MAX_LABEL_TIME_MS })
  if (bad === undefined) return
  labelTimeMs(bad.value, bad.row, timeColumn)
  throw new FeatureStoreError(
    'INVARIANT_VIOLATED',
    `label row ${bad.row + 1}: the label reader refused ${timeColumn} = ${String(bad.value)}, which the label-time rule accepts`,
  )
}

/** Throws keyPartError for the first key part of string column `joinKey` serving would refuse, if any. */
async function refuseBadKeyParts(reader: LabelReader, path: string, joinKey: string): Promise<void> {
  const bad = await reader.firstBadKeyPart(path, joinKey, { maxBytes: MAX_ENTITY_KEY_BYTES })
  if (bad === undefined) return
  checkKeyPart(bad.value, bad.row, joinKey)
  throw new FeatureStoreError(
    'INVARIANT_VIOLATED',
    `label row ${bad.row + 1}: the label reader refused ${joinKey}, which the entity-key rule accepts`,
  )
}

/**
 * A key part serving refuses with a 400 (core/entity-key.ts invalidKeyPartReason, the one rule:
 * a control character, a lone surrogate, more than MAX_ENTITY_KEY_BYTES UTF-8 bytes) is refused naming its row: the engine dead-letters an
 * event with such a key, so the offline table has no row of it, and as a null join it would
 * silently give a model nulls that serving never answers. Null and empty parts stay "no entity".
 */
function checkKeyPart(part: string, row: number, joinKey: string, csvLine?: number): void {
  const reason = invalidKeyPartReason(part)
  if (reason === undefined || part.length === 0) return
  const where = csvLine === undefined ? '' : ` (CSV line ${csvLine})`
  throw new FeatureStoreError(
    'BAD_REQUEST',
    `label row ${row + 1}${where}: ${joinKey} is ${reason}, and serving refuses such a key (an entity key part is well-formed Unicode without control characters, at most ${MAX_ENTITY_KEY_BYTES} bytes of UTF-8)`,
    { context: { row: row + 1, joinKey, ...(csvLine === undefined ? {} : { line: csvLine }) } },
  )
}


/**
 * Encoded entity key per row for one join-key tuple; null when a part is missing or not a key.
 * A part serving refuses — over MAX_ENTITY_KEY_BYTES, control characters (checkKeyPart), or, of an
 * int entity (`intJoinKeys`), no integer (`007`, `7.0`, `7.5`) — is refused naming its row: serving
 * answers such a key with a 400, and as a null it would silently match no row.
 */
function entityKeys(labels: LabelTable, joinKeys: readonly string[], intJoinKeys: ReadonlySet<string>): (string | null)[] {
  const cols = joinKeys.map((k) => labels.values[labels.columns.findIndex((c) => c.name === k)]!)
  const out = new Array<string | null>(labels.rowCount)
  const parts = new Array<string>(joinKeys.length)
  for (let r = 0; r < labels.rowCount; r++) {
    let ok = true
    for (let p = 0; p < cols.length; p++) {
      const v = cols[p]![r]
      // Serving's order: the key-part rules, then an int entity's integer rule.
      if (typeof v === 'string') checkKeyPart(v, r, joinKeys[p]!, labels.lines?.[r])
      if (intJoinKeys.has(joinKeys[p]!) && v !== null && v !== undefined && v !== '') checkIntKey(v, r, joinKeys[p]!)
      if (typeof v === 'string' && v.length > 0) parts[p] = v
      else if ((typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'bigint') parts[p] = String(v)
      else if (v === null || v === undefined || v === '') {
        ok = false
        break
      } else refuseKeyValue(v, r, joinKeys[p]!, labels.lines?.[r])
    }
    out[r] = ok ? encodeEntityKey(parts) : null
  }
  return out
}

/**
 * A key part that is there but is neither text nor an integer — a fraction, NaN, ±Infinity, an
 * integer past 2^53 held as a double, a boolean (a Parquet DOUBLE or BOOLEAN key column) — is
 * refused naming its row, as serving answers such a key with a 400: as a null it would silently
 * give the model nulls for a row whose label names an entity.
 */
function refuseKeyValue(v: unknown, row: number, joinKey: string, csvLine: number | undefined): never {
  const where = csvLine === undefined ? '' : ` (CSV line ${csvLine})`
  throw new FeatureStoreError(
    'BAD_REQUEST',
    `label row ${row + 1}${where}: ${joinKey} is ${typeof v} ${String(v)}, not a key: serving takes a join key as text or an integer (up to 2^53 as a number), and refuses this one`,
    { context: { row: row + 1, joinKey } },
  )
}

function checkIntKey(v: unknown, row: number, joinKey: string): void {
  const integer = typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v))
  if (integer || (typeof v === 'string' && CANONICAL_INT_KEY.test(v))) return
  const shown = typeof v === 'string' ? JSON.stringify(v) : String(v)
  throw new FeatureStoreError(
    'BAD_REQUEST',
    `label row ${row + 1}: ${joinKey} ${shown} is not an integer key (the entity's keys are integers written as 7, not 007, +7 or 7.0), as serving refuses it`,
    { context: { row: row + 1, joinKey } },
  )
}
