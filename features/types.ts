/**
 * The shapes of feature definitions (features as code). Builders in this folder produce these
 * plain, validated objects; the registry hashes them, the engine plans from them, serving and
 * training sets read their feature lists. Times are epoch milliseconds, durations milliseconds.
 */

export type KeyType = 'string' | 'int'

export interface EntityDef {
  readonly kind: 'entity'
  readonly name: string
  /** Fields of the event that identify the entity, in canonical order (see core/entity-key.ts). */
  readonly joinKeys: readonly string[]
  readonly keyType: KeyType
  readonly description: string
}

/** An Avro record schema as JSON (the registry's subject `<topic>-value` holds it). */
export type AvroRecordSchema = { readonly type: 'record'; readonly name: string; readonly namespace?: string; readonly fields: readonly unknown[] }

export interface SourceDef {
  readonly kind: 'source'
  readonly name: string
  readonly topic: string
  readonly schema: AvroRecordSchema
  /** Field of the decoded event holding its event time (epoch ms, or an Avro timestamp-millis). */
  readonly eventTimeField: string
  /** Entity the topic's message keys identify; views of other entities are re-keyed first. */
  readonly keyedBy: string | undefined
  readonly partitions: number
  readonly outOfOrdernessMs: number
  readonly allowedLatenessMs: number
  readonly idleTimeoutMs: number
  /** How far an event time may lie beyond its record's ingestion timestamp (operators/task/event-time-rule.ts). */
  readonly maxFutureSkewMs: number
  readonly description: string
  /**
   * Set for a table or changelog source (docs/design.md §11): its records are row changes in the
   * change envelope (features/change-envelope.ts), and `schema` is that envelope. Absent for event sources.
   */
  readonly changes?: ChangeSourceSpec
}

/** Where a table source's snapshots are read from (`kfs ingest`). */
export type TableLocation =
  /** A file, or a folder read as its files in name order; relative paths are from the working directory. */
  | { readonly format: 'parquet' | 'csv'; readonly path: string }
  /** An Iceberg table on the configured object store, by its metadata location or catalog name. */
  | { readonly format: 'iceberg'; readonly table: string }

/** What makes a source a stream of row changes (docs/design.md §11). */
export interface ChangeSourceSpec {
  /** `table`: snapshots appended by `kfs ingest`; `changelog`: Debezium-style changes published by a CDC tool. */
  readonly kind: 'table' | 'changelog'
  /** The row's Avro record schema: each `before`/`after` image has it. */
  readonly rowSchema: AvroRecordSchema
  /** Columns of the row identifying it, in canonical order (the topic's message key). */
  readonly primaryKey: readonly string[]
  /** table: the row column holding its event time (epoch ms); it becomes the envelope's `ts_ms`. */
  readonly rowTimeField?: string
  /** table: where snapshots are read from. */
  readonly location?: TableLocation
  /** How records on the topic are encoded: registry-framed Avro of the envelope, or Debezium JSON. */
  readonly format: 'avro' | 'json'
  /**
   * changelog: the CDC tool's placeholder for a value it did not log (Debezium's
   * `unavailable.value.placeholder`, an unchanged TOASTed column); undefined: Debezium's default.
   */
  readonly unavailableValue?: string
}

/**
 * How a view over a change source reads it (docs/design.md §11): `attributes` — columns of the
 * key's current row; `current_state` — invertible aggregations (count, sum, avg) over the rows
 * currently in each group, retracting a row's old contribution when it changes.
 */
export type ChangeViewMode = 'attributes' | 'current_state'

/**
 * The name of an aggregation of the catalog (operators/aggregators/catalog.ts: its contract says
 * what the op takes and yields). The DSL refuses any other name; there is no switch on it outside
 * the aggregators' own files.
 */
export type AggregationOp = string

export interface AggregationDef {
  /** Output feature name, e.g. `price_sum_1h` (derived unless overridden). */
  readonly name: string
  readonly op: AggregationOp
  /** Input field of the (mapped) event; absent only for `count`. */
  readonly field: string | undefined
  /** Window length; `null` means lifetime (unbounded). */
  readonly windowMs: number | null
  /** Hop (tile size); for lifetime windows it is unused and set to 0. */
  readonly hopMs: number
  /** Parameter `n` (`last_n` size). `n` and `quantile` keep their own members: older views hash as they did. */
  readonly n: number | undefined
  /** Parameter `quantile` (`approx_percentile`, in [0, 1]). */
  readonly quantile: number | undefined
  /** Every other parameter of the op, by name (e.g. `top_k`'s `k`); absent when there is none. */
  readonly params?: Readonly<Record<string, number | boolean>>
  /** Which further output of its op this feature is (e.g. `top_k`'s `counts`); absent for the main output. */
  readonly output?: string
}

export type FeatureValueType = 'long' | 'double' | 'string' | 'long[]' | 'double[]' | 'string[]'

export interface FeatureDef {
  readonly name: string
  readonly type: FeatureValueType
  readonly aggregation: AggregationDef
}

export type EventRecord = Readonly<Record<string, unknown>>

/** A value of a definition's `constants`: JSON data (features/constants.ts, docs/semantics.md §27). */
export type ConstantValue = null | boolean | number | string | readonly ConstantValue[] | { readonly [key: string]: ConstantValue }

/** The values a definition's functions read, passed to them as an argument and part of the definition's hash. */
export type Constants = Readonly<Record<string, ConstantValue>>

/** Size limits of a view's values (features/limits.ts, docs/semantics.md §1). */
export interface ValueLimits {
  /** Largest string value, in UTF-8 bytes, an aggregation takes; larger → dead letter `oversize`. */
  readonly maxStringBytes: number
  /** Largest possible row, checked against the view's features when it is defined. */
  readonly maxRowBytes: number
}

export interface FeatureViewDef {
  readonly kind: 'featureView'
  readonly name: string
  readonly version: number
  readonly entity: EntityDef
  readonly source: SourceDef
  /** Pure predicate over the decoded event; its source text is part of the view's hash, and it reads nothing from outside it but `constants`. */
  readonly filter: ((event: EventRecord, constants: Constants) => boolean) | undefined
  /** Pure projection of the decoded event; its source text is part of the view's hash, and it reads nothing from outside it but `constants`. */
  readonly map: ((event: EventRecord, constants: Constants) => EventRecord) | undefined
  /** What filter and map get as their second argument; part of the view's hash. Absent: none (`{}`; the builder leaves it out then). */
  readonly constants?: Constants
  readonly features: readonly FeatureDef[]
  /** Max age: an online row older than this is OUTSIDE_TTL; also the Redis key TTL. */
  readonly ttlMs: number
  readonly owner: string
  readonly description: string
  readonly tags: Readonly<Record<string, string>>
  readonly freshnessSlaMs: number
  readonly online: boolean
  readonly offline: boolean
  /** Absent: `DEFAULT_VALUE_LIMITS` (the builder always sets it; hand-built test views may not). */
  readonly limits?: ValueLimits
  /** Set exactly when the source is a table or changelog source; absent for event views (their hash is unchanged). */
  readonly changeMode?: ChangeViewMode
}

/** `view:feature` — how services, serving requests and training sets name a feature. */
export type FeatureRef = `${string}:${string}`

export interface FeatureServiceDef {
  readonly kind: 'featureService'
  readonly name: string
  readonly features: readonly FeatureRef[]
  readonly requestFeatures: readonly string[]
  readonly owner: string
  readonly description: string
  readonly tags: Readonly<Record<string, string>>
}

export type RequestValueType = 'long' | 'double' | 'string' | 'boolean'

export type FeatureValue = number | string | null | readonly number[] | readonly string[]

export interface RequestFeatureDef {
  readonly kind: 'requestFeature'
  readonly name: string
  readonly request: Readonly<Record<string, RequestValueType>>
  readonly features: readonly FeatureRef[]
  readonly outputType: RequestValueType
  /** Pure: same function in serving and in training-set generation; it reads nothing from outside its text but `constants`. */
  readonly fn: (request: Readonly<Record<string, unknown>>, features: Readonly<Record<string, FeatureValue>>, constants: Constants) => FeatureValue | boolean
  /** What fn gets as its third argument; part of the feature's hash. Absent: none (`{}`). */
  readonly constants?: Constants
  readonly description: string
}

export type Definition = EntityDef | SourceDef | FeatureViewDef | FeatureServiceDef | RequestFeatureDef

/**
 * A feature row (docs/design.md §3): `values` follow the order of the view's `features`.
 * `createdAtMs` is stamped by the pipeline when the row is produced (operators have no clock).
 */
export interface FeatureRow {
  readonly entityKey: string
  readonly asOfMs: number
  readonly values: readonly FeatureValue[]
  /**
   * A tombstone (docs/design.md §11): the key's row was deleted at `asOfMs`; every value is null.
   * Online the key answers MISSING from then on; a training-set lookup landing on it yields nulls.
   */
  readonly deleted?: true
}

export interface StampedRow extends FeatureRow {
  readonly createdAtMs: number
}
