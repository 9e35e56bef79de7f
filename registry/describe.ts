/**
 * Serializable descriptions of definitions, split into *logic* (what decides the rows: hashed,
 * frozen once a version is published) and *metadata* (owner, description, tags, SLA, online/offline
 * flags: editable without a new version).
 *
 * What counts as logic for a view: entity name, join keys and key type; source topic, Avro schema
 * (without its `doc` strings; default values whole), event-time field, keyedBy (re-keying changes partitioning), partition
 * count, out-of-orderness, allowed lateness and idle timeout (they decide lateness and watermarks);
 * filter/map source text; every feature's name, type, op, field, window, hop, parameters (n and
 * quantile as their own members, any other under `params`, present only when the op has some)
 * and output (only for an op's further outputs: top_k's counts); and
 * the TTL (it decides the point-in-time lookback of training sets); and the value limits when
 * they are not the defaults (they decide which records are dead-lettered as `oversize`; left out
 * when default, so the hash of a view written before limits existed is unchanged). Over a table or
 * changelog source (docs/design.md §11) also the source's `changes` (kind, row schema, primary key,
 * row time column, format) and the view's `changeMode`; both are absent for event sources and
 * views, whose hashes are unchanged. A table's location is not logic: moving the files (or reading
 * another Iceberg table of the same rows) changes no feature value, so it is no new version; the
 * source's own record keeps it.
 *
 * Function source text comes from `Function.prototype.toString()`, reprinted by esbuild so it is
 * the same whichever way the module was loaded — tsx, Node's own type stripping, compiled JS
 * (features/closure/canonical-text.ts) — with runs of whitespace collapsed. A function's closure
 * is not part of its text, so the builders refuse a filter, map or fn that reads anything from
 * outside it but pure globals (features/closure/, docs/semantics.md §27); the values it needs come
 * as the definition's `constants`, which are logic (present only when there are some, so older
 * hashes stay). An esbuild upgrade that reprints code would change the hash, so package.json pins
 * esbuild's exact version.
 */
import type { ChangeSourceSpec, ChangeViewMode, Constants, EntityDef, FeatureServiceDef, FeatureViewDef, RequestFeatureDef, SourceDef, TableLocation, ValueLimits } from '../features/types.ts'
import { DEFAULT_VALUE_LIMITS } from '../features/limits.ts'
import { canonicalFunctionText } from '../features/closure/canonical-text.ts'
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '../operators/task/event-time-rule.ts'

export function functionText(fn: ((...args: never[]) => unknown) | undefined): string | null {
  return fn === undefined ? null : canonicalFunctionText(fn.toString())
}

/**
 * An Avro schema without its `doc` strings. A `default` is a value, not schema: kept whole, since a
 * record or map default may hold a member named `doc` whose change changes what records decode to.
 */
function withoutDocs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDocs)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== 'doc')
        .map(([k, v]) => [k, k === 'default' ? v : withoutDocs(v)]),
    )
  }
  return value
}

export interface FeatureLogic {
  readonly name: string
  readonly type: string
  readonly op: string
  readonly field: string | null
  readonly windowMs: number | null
  readonly hopMs: number
  readonly n: number | null
  readonly quantile: number | null
  /** The op's other parameters (absent when none, so older descriptions hash as they did). */
  readonly params?: Readonly<Record<string, number | boolean>>
  /** Which further output of its op the feature is (absent: the main output). */
  readonly output?: string
}

/** The op with its field and parameters, as people read it: `last_n(item_id, n=10)`, `approx_percentile(amount, q=0.95)`. */
export function featureOpText(f: FeatureLogic): string {
  const params = Object.entries(f.params ?? {}).map(([name, value]) => `${name}=${String(value)}`)
  const args = [f.field, f.n === null ? null : `n=${f.n}`, f.quantile === null ? null : `q=${f.quantile}`, ...params].filter((a) => a !== null)
  return `${f.op}(${args.join(', ')})${f.output === undefined ? '' : `.${f.output}`}`
}

export interface ViewLogic {
  readonly name: string
  readonly version: number
  readonly entity: { readonly name: string; readonly joinKeys: readonly string[]; readonly keyType: string }
  readonly source: {
    readonly topic: string
    readonly schema: unknown
    readonly eventTimeField: string
    readonly keyedBy: string | null
    readonly partitions: number
    readonly outOfOrdernessMs: number
    readonly allowedLatenessMs: number
    readonly idleTimeoutMs: number
    /** Present only when the source sets a bound other than the default (hashes of older definitions stay). */
    readonly maxFutureSkewMs?: number
    /** Present only for a table or changelog source. */
    readonly changes?: ChangesLogic
  }
  readonly filter: string | null
  readonly map: string | null
  /** What filter and map read (present only when the view has some, so older hashes stay). */
  readonly constants?: Constants
  readonly features: readonly FeatureLogic[]
  readonly ttlMs: number
  readonly limits?: ValueLimits
  /** Present only for a view over a table or changelog source. */
  readonly changeMode?: ChangeViewMode
}

/** A change source's spec as plain data (docs/design.md §11). */
export interface ChangesLogic {
  readonly kind: ChangeSourceSpec['kind']
  readonly rowSchema: unknown
  readonly primaryKey: readonly string[]
  readonly rowTimeField?: string
  readonly location?: TableLocation
  readonly format: ChangeSourceSpec['format']
  /** Present only when a changelog sets a placeholder other than Debezium's (hashes of older definitions stay). */
  readonly unavailableValue?: string
}

/** How people read a source's kind: `event`, `table: primary key order_id, parquet data/orders`, `changelog: primary key id, json`. */
export function sourceKindText(changes: ChangesLogic | undefined): string {
  if (changes === undefined) return 'event'
  const l = changes.location
  const from = l === undefined ? changes.format : l.format === 'iceberg' ? `iceberg ${l.table}` : `${l.format} ${l.path}`
  return `${changes.kind}: primary key ${changes.primaryKey.join(', ')}, ${from}`
}

export function changesLogic(changes: ChangeSourceSpec, options: { readonly location: boolean }): ChangesLogic {
  return {
    kind: changes.kind,
    rowSchema: withoutDocs(changes.rowSchema),
    primaryKey: [...changes.primaryKey],
    ...(changes.rowTimeField === undefined ? {} : { rowTimeField: changes.rowTimeField }),
    ...(changes.location === undefined || !options.location ? {} : { location: { ...changes.location } }),
    format: changes.format,
    // The placeholder decides which values are taken as real, so it is part of the logic.
    ...(changes.unavailableValue === undefined ? {} : { unavailableValue: changes.unavailableValue }),
  }
}

export interface ViewMetadata {
  readonly source: string
  readonly owner: string
  readonly description: string
  readonly tags: Readonly<Record<string, string>>
  readonly freshnessSlaMs: number
  readonly online: boolean
  readonly offline: boolean
}

export function viewLogic(view: FeatureViewDef): ViewLogic {
  const s = view.source
  return {
    name: view.name,
    version: view.version,
    entity: { name: view.entity.name, joinKeys: [...view.entity.joinKeys], keyType: view.entity.keyType },
    source: {
      topic: s.topic,
      schema: withoutDocs(s.schema),
      eventTimeField: s.eventTimeField,
      keyedBy: s.keyedBy ?? null,
      partitions: s.partitions,
      outOfOrdernessMs: s.outOfOrdernessMs,
      allowedLatenessMs: s.allowedLatenessMs,
      idleTimeoutMs: s.idleTimeoutMs,
      ...(s.maxFutureSkewMs === DEFAULT_MAX_FUTURE_SKEW_MS ? {} : { maxFutureSkewMs: s.maxFutureSkewMs }),
      ...(s.changes === undefined ? {} : { changes: changesLogic(s.changes, { location: false }) }),
    },
    filter: functionText(view.filter),
    map: functionText(view.map),
    ...(view.constants === undefined || Object.keys(view.constants).length === 0 ? {} : { constants: view.constants }),
    features: view.features.map((f) => ({
      name: f.name,
      type: f.type,
      op: f.aggregation.op,
      field: f.aggregation.field ?? null,
      windowMs: f.aggregation.windowMs,
      hopMs: f.aggregation.hopMs,
      n: f.aggregation.n ?? null,
      quantile: f.aggregation.quantile ?? null,
      ...(f.aggregation.params === undefined ? {} : { params: { ...f.aggregation.params } }),
      ...(f.aggregation.output === undefined ? {} : { output: f.aggregation.output }),
    })),
    ttlMs: view.ttlMs,
    ...(isDefaultLimits(view.limits) ? {} : { limits: { ...view.limits! } }),
    ...(view.changeMode === undefined ? {} : { changeMode: view.changeMode }),
  }
}

function isDefaultLimits(limits: ValueLimits | undefined): boolean {
  return limits === undefined || (limits.maxStringBytes === DEFAULT_VALUE_LIMITS.maxStringBytes && limits.maxRowBytes === DEFAULT_VALUE_LIMITS.maxRowBytes)
}

export function viewMetadata(view: FeatureViewDef): ViewMetadata {
  return {
    source: view.source.name,
    owner: view.owner,
    description: view.description,
    tags: { ...view.tags },
    freshnessSlaMs: view.freshnessSlaMs,
    online: view.online,
    offline: view.offline,
  }
}

export interface SourceRecord {
  readonly name: string
  readonly topic: string
  readonly schema: unknown
  readonly eventTimeField: string
  readonly keyedBy: string | null
  readonly partitions: number
  readonly outOfOrdernessMs: number
  readonly allowedLatenessMs: number
  readonly idleTimeoutMs: number
  readonly maxFutureSkewMs: number
  readonly description: string
  /** Present only for a table or changelog source (docs/design.md §11). */
  readonly changes?: ChangesLogic
}

export function describeSource(s: SourceDef): SourceRecord {
  return {
    name: s.name,
    topic: s.topic,
    schema: s.schema,
    eventTimeField: s.eventTimeField,
    keyedBy: s.keyedBy ?? null,
    partitions: s.partitions,
    outOfOrdernessMs: s.outOfOrdernessMs,
    allowedLatenessMs: s.allowedLatenessMs,
    idleTimeoutMs: s.idleTimeoutMs,
    maxFutureSkewMs: s.maxFutureSkewMs,
    description: s.description,
    ...(s.changes === undefined ? {} : { changes: changesLogic(s.changes, { location: true }) }),
  }
}

export interface EntityRecord {
  readonly name: string
  readonly joinKeys: readonly string[]
  readonly keyType: string
  readonly description: string
}

export function describeEntity(e: EntityDef): EntityRecord {
  return { name: e.name, joinKeys: [...e.joinKeys], keyType: e.keyType, description: e.description }
}

export interface ServiceRecord {
  readonly name: string
  readonly features: readonly string[]
  readonly requestFeatures: readonly string[]
  readonly owner: string
  readonly description: string
  readonly tags: Readonly<Record<string, string>>
}

export function describeService(s: FeatureServiceDef): ServiceRecord {
  return { name: s.name, features: [...s.features], requestFeatures: [...s.requestFeatures], owner: s.owner, description: s.description, tags: { ...s.tags } }
}

export interface RequestFeatureLogic {
  readonly name: string
  readonly request: Readonly<Record<string, string>>
  readonly features: readonly string[]
  readonly outputType: string
  readonly fn: string
  /** What fn reads (present only when the feature has some, so older hashes stay). */
  readonly constants?: Constants
}

export function requestFeatureLogic(r: RequestFeatureDef): RequestFeatureLogic {
  return {
    name: r.name,
    request: { ...r.request },
    features: [...r.features],
    outputType: r.outputType,
    fn: functionText(r.fn) ?? '',
    ...(r.constants === undefined || Object.keys(r.constants).length === 0 ? {} : { constants: r.constants }),
  }
}
