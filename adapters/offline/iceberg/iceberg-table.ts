/**
 * Iceberg v2 tables on an ObjectStore without a catalog service: create, load, and commit
 * snapshots with optimistic concurrency (notes/iceberg.md §7).
 *
 * Strategy:
 * 1. Current version = `metadata/version-hint.text` (or the highest `v<N>.metadata.json` listed),
 *    then probe `v<N+1>`, `v<N+2>`… forward as Java does: the hint may lag behind.
 * 2. A commit writes its manifest once (snapshot id S chosen once), then per attempt: reload the
 *    base, write a manifest list (new manifest + the base's manifests, small ones merged once
 *    there are 100: manifest-merge.ts), and create
 *    `v<N+1>.metadata.json` with `putIfAbsent`. Losing that race = reload and retry with back-off.
 * 3. Only after the metadata file exists is the hint moved forward (never backwards), so PyIceberg
 *    and DuckDB, which trust the hint, always find a complete version.
 * Idempotence: if the reloaded base already holds snapshot S (e.g. an earlier attempt succeeded
 * but its reply was lost), the commit reports `already-committed`. A caller-supplied `skipIf`
 * lets the engine detect its own earlier commit by summary (e.g. checkpoint offsets).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { systemClock, type Clock } from '../../../core/clock.ts'
import type { Deadline } from '../../../core/deadline.ts'
import { CommitError, SinkWriteError } from '../../../core/errors.ts'
import { retry } from '../../../core/retry.ts'
import { lastColumnId, nameMappingOf, validateSchema, type IcebergSchema, type PartitionSpec } from './iceberg-schema.ts'
import { decodeManifestList, encodeManifestList, type ManifestFile } from './manifests.ts'
import { keyOfTableUri, currentTableLocation, relocated } from './table-locations.ts'
import { currentSnapshot, parseTableMetadata, serializeTableMetadata, type Snapshot, type TableMetadata } from './table-metadata.ts'

export interface IcebergTable {
  readonly store: ObjectStore
  /** Key prefix of the table in the store (no trailing slash), e.g. `warehouse/features/clicks_v1`. */
  readonly path: string
  readonly version: number
  readonly metadata: TableMetadata
  /**
   * The current snapshot's manifest list, when this process has just written it (a commit's
   * result carries it) so that the next commit need not read it back; absent when the table was
   * read from the store.
   */
  readonly currentManifests?: readonly ManifestFile[]
}

export interface CommitOptions {
  readonly clock?: Clock
  /** Commit attempts before giving up (each lost race costs one). */
  readonly attempts?: number
  readonly minDelayMs?: number
  readonly maxDelayMs?: number
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void
  /**
   * Errors an attempt ends the commit on, not retried: a store whose calls retry themselves
   * (`kfs compact`'s) says a call ran out of its retries, and asking again would multiply its bound.
   */
  readonly endsOn?: (err: unknown) => boolean
  /**
   * Called when a metadata write got no answer (the create threw): that write may still land
   * later, so a caller must not delete what it names even once the commit has given up.
   */
  readonly onUnansweredWrite?: () => void
  /** No attempt after it (core/deadline.ts: the engine's stop deadline); `what` names the commit in the error. */
  readonly until?: Deadline
  readonly what?: string
}

const MAX_METADATA_LOG = 100
const HINT = 'version-hint.text'

export const metadataKey = (path: string, version: number): string => `${path}/metadata/v${version}.metadata.json`

export { keyOfTableUri, currentTableLocation as tableLocation } from './table-locations.ts'

export function newSnapshotId(taken: readonly Snapshot[] = []): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn
    if (id !== 0n && !taken.some((s) => s['snapshot-id'] === id)) return id
  }
}

export interface CreateTableOptions {
  readonly schema: IcebergSchema
  readonly partitionSpec: PartitionSpec
  readonly properties?: Readonly<Record<string, string>>
  readonly clock?: Clock
}

/** Creates `v1.metadata.json` (exclusive) and the hint. Fails with OBJECT_EXISTS if the table exists. */
export async function createTable(store: ObjectStore, path: string, options: CreateTableOptions): Promise<IcebergTable> {
  validateSchema(options.schema)
  const clock = options.clock ?? systemClock
  const lastPartitionId = Math.max(999, ...options.partitionSpec.fields.map((f) => f['field-id']))
  const metadata: TableMetadata = {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location: store.uriOf(path),
    'last-sequence-number': 0,
    'last-updated-ms': clock.nowMs(),
    'last-column-id': lastColumnId(options.schema),
    schemas: [options.schema],
    'current-schema-id': options.schema['schema-id'],
    'partition-specs': [options.partitionSpec],
    'default-spec-id': options.partitionSpec['spec-id'],
    'last-partition-id': lastPartitionId,
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    'default-sort-order-id': 0,
    properties: {
      'write.format.default': 'parquet',
      'write.parquet.compression-codec': 'zstd',
      'schema.name-mapping.default': nameMappingOf(options.schema),
      ...options.properties,
    },
    'current-snapshot-id': -1n,
    refs: {},
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
  }
  if (!(await store.putIfAbsent(metadataKey(path, 1), serializeTableMetadata(metadata)))) {
    throw new SinkWriteError('OBJECT_EXISTS', 'an Iceberg table already exists at this path', { context: { path } })
  }
  await writeHint(store, path, 1)
  return { store, path, version: 1, metadata }
}

/** The version `metadata/version-hint.text` names; undefined when it is missing or unreadable. */
export async function readVersionHint(store: ObjectStore, path: string): Promise<number | undefined> {
  const bytes = await store.get(`${path}/metadata/${HINT}`)
  if (bytes === undefined) return undefined
  const n = Number.parseInt(new TextDecoder().decode(bytes).trim(), 10)
  return Number.isSafeInteger(n) && n > 0 ? n : undefined
}

/** Moves the hint forward to `version` (never backwards); no trailing newline, as Java writes it. */
async function writeHint(store: ObjectStore, path: string, version: number): Promise<void> {
  const current = await readVersionHint(store, path)
  if (current !== undefined && current >= version) return
  await store.put(`${path}/metadata/${HINT}`, new TextEncoder().encode(String(version)))
}

async function highestListedVersion(store: ObjectStore, path: string): Promise<number | undefined> {
  let max: number | undefined
  for (const key of await store.list(`${path}/metadata/v`)) {
    const m = /\/metadata\/v(\d+)\.metadata\.json$/.exec(key)
    if (m !== null) max = Math.max(max ?? 0, Number(m[1]))
  }
  return max
}

/** The current table state, or undefined when no table exists at `path`. */
export async function loadTableIfExists(store: ObjectStore, path: string): Promise<IcebergTable | undefined> {
  const hinted = await readVersionHint(store, path)
  let version = hinted
  let bytes = version === undefined ? undefined : await store.get(metadataKey(path, version))
  if (bytes === undefined) {
    version = await highestListedVersion(store, path)
    // The hint moves only once its version exists, and metadata files are never deleted by a
    // writer (only ones older than the hint and the metadata log, by snapshot expiry): a hinted version missing with nothing newer listed means
    // the table's newest commits are gone. Falling back to an older version would read without
    // them — and the next commit would write over the lost version.
    if (hinted !== undefined && (version === undefined || version < hinted)) {
      throw new SinkWriteError(
        'OBJECT_NOT_FOUND',
        `table ${path} is damaged: its version hint names metadata v${hinted}, which is missing, and no newer version exists (newest found: ${version === undefined ? 'none' : `v${version}`}); restore its metadata from a copy`,
        { context: { path, version: String(hinted) } },
      )
    }
    if (version === undefined) return undefined
    bytes = await store.get(metadataKey(path, version))
    if (bytes === undefined) return undefined
  }
  const newest = await probeForward(store, path, version!)
  const at = newest?.version ?? version!
  return { store, path, version: at, metadata: parseTableMetadata(newest?.bytes ?? bytes, store.uriOf(metadataKey(path, at))) }
}

/**
 * The newest metadata version after `version`, read forward one by one (metadata files are
 * immutable and versions consecutive); undefined when `version` is the newest (one GET).
 */
async function probeForward(store: ObjectStore, path: string, version: number): Promise<{ version: number; bytes: Uint8Array } | undefined> {
  let newest: { version: number; bytes: Uint8Array } | undefined
  for (let v = version + 1; ; v++) {
    const bytes = await store.get(metadataKey(path, v))
    if (bytes === undefined) return newest
    newest = { version: v, bytes }
  }
}

export async function loadTable(store: ObjectStore, path: string): Promise<IcebergTable> {
  const table = await loadTableIfExists(store, path)
  if (table === undefined) throw new SinkWriteError('OBJECT_NOT_FOUND', 'no Iceberg table at this path', { context: { path } })
  return table
}

/**
 * The newest version at or after `table`'s, probed forward from it: two small GETs when nothing
 * changed (the next version, the hint), and a LIST only when the hint is behind or gone. Snapshot expiry deletes metadata files that fell off the
 * metadata log, so a table held in memory while more than that many commits landed (an idle sink,
 * compaction on a schedule) may find its next version gone rather than absent: the hint, ahead of
 * it, tells the two apart. Taken for the newest, that base would be committed on with putIfAbsent
 * of a deleted version number — and succeed, unseen by every reader, its commit lost.
 */
export async function refreshTable(table: IcebergTable): Promise<IcebergTable> {
  const newest = await probeForward(table.store, table.path, table.version)
  const hinted = await readVersionHint(table.store, table.path)
  if (hinted !== undefined && hinted > (newest?.version ?? table.version)) return loadTable(table.store, table.path)
  // The hint behind the version held, or gone (its writes are best effort), tells nothing: the next
  // version may be missing because it was deleted. The listing does (one LIST, only then; a writer
  // that committed wrote the hint to its own version): committing on this base would create a
  // deleted version number again, and readers following the hint it then wrote would take that
  // version for the newest, every commit after it gone.
  if (newest === undefined && (hinted === undefined || hinted < table.version)) {
    const listed = await highestListedVersion(table.store, table.path)
    if (listed !== undefined && listed > table.version) return loadTable(table.store, table.path)
  }
  return newest === undefined ? table : { store: table.store, path: table.path, version: newest.version, metadata: parseTableMetadata(newest.bytes, table.store.uriOf(metadataKey(table.path, newest.version))) }
}

export async function manifestsOf(table: IcebergTable, snapshot: Snapshot | undefined): Promise<ManifestFile[]> {
  if (snapshot === undefined) return []
  if (table.currentManifests !== undefined && snapshot['snapshot-id'] === table.metadata['current-snapshot-id']) return [...table.currentManifests]
  const bytes = await table.store.get(keyOfTableUri(table, snapshot['manifest-list']))
  if (bytes === undefined) throw new SinkWriteError('OBJECT_NOT_FOUND', `manifest list ${snapshot['manifest-list']} is missing`, { context: { snapshotId: String(snapshot['snapshot-id']) } })
  return decodeManifestList(bytes, snapshot['manifest-list'])
}

export type CommitStatus = 'committed' | 'already-committed' | 'skipped'

export interface CommitResult {
  readonly table: IcebergTable
  readonly snapshotId: bigint | undefined
  readonly status: CommitStatus
}

/** What one attempt adds on top of `base`: the new manifest list content and summary. */
export interface SnapshotChange {
  readonly operation: 'append' | 'replace'
  readonly manifests: readonly ManifestFile[]
  readonly summary: Readonly<Record<string, string>>
  /** Manifests the attempt wrote that only this snapshot names (merged ones): deleted when it loses the race. */
  readonly written?: readonly string[]
}

/**
 * Commits one snapshot with id `snapshotId`. `build` is called once per attempt with the fresh
 * base and its current manifests, and returns the full manifest list of the new snapshot.
 */
export async function commitSnapshot(
  table: IcebergTable,
  snapshotId: bigint,
  build: (base: IcebergTable, baseManifests: readonly ManifestFile[], sequenceNumber: number) => Promise<SnapshotChange>,
  options: CommitOptions & { readonly skipIf?: (base: TableMetadata) => boolean } = {},
): Promise<CommitResult> {
  const clock = options.clock ?? systemClock
  const { store, path } = table
  return commitMetadata<CommitResult>(
    table,
    async (base, attempt) => {
      if (base.metadata.snapshots.some((s) => s['snapshot-id'] === snapshotId)) return { done: { table: base, snapshotId, status: 'already-committed' } }
      if (options.skipIf?.(base.metadata) === true) return { done: { table: base, snapshotId: undefined, status: 'skipped' } }
      const meta = base.metadata
      const parent = currentSnapshot(meta)
      const sequenceNumber = meta['last-sequence-number'] + 1
      const change = await build(base, await manifestsOf(base, parent), sequenceNumber)
      const listKey = `${path}/metadata/snap-${snapshotId}-${attempt}-${randomUUID()}.avro`
      await store.put(listKey, encodeManifestList(change.manifests, { snapshotId, parentSnapshotId: parent?.['snapshot-id'], sequenceNumber }))
      const nowMs = Math.max(clock.nowMs(), meta['last-updated-ms'])
      const snapshot: Snapshot = {
        'snapshot-id': snapshotId,
        ...(parent === undefined ? {} : { 'parent-snapshot-id': parent['snapshot-id'] }),
        'sequence-number': sequenceNumber,
        'timestamp-ms': nowMs,
        'manifest-list': store.uriOf(listKey),
        summary: { operation: change.operation, ...change.summary },
        'schema-id': meta['current-schema-id'],
      }
      const next: TableMetadata = {
        ...meta,
        'last-sequence-number': sequenceNumber,
        'last-updated-ms': nowMs,
        'current-snapshot-id': snapshotId,
        refs: { ...meta.refs, main: { 'snapshot-id': snapshotId, type: 'branch' } },
        snapshots: [...meta.snapshots, snapshot],
        'snapshot-log': [...meta['snapshot-log'], { 'timestamp-ms': nowMs, 'snapshot-id': snapshotId }],
      }
      return { next, written: [...(change.written ?? []), listKey], result: (committed) => ({ table: { ...committed, currentManifests: change.manifests }, snapshotId, status: 'committed' }) }
    },
    options,
  )
}

/** One attempt's outcome: nothing to write (`done`), or the next metadata and the files written for it. */
export type MetadataAttempt<T> =
  | { readonly done: T }
  | {
      readonly next: TableMetadata
      /** Objects this attempt wrote that only `next` names: deleted when the attempt loses the race. */
      readonly written: readonly string[]
      readonly result: (committed: IcebergTable) => T
    }

/**
 * Whether the version a create-if-absent answered "already exists" holds exactly `bytes`: the
 * answer to a create whose first answer was lost, asked again (S3 answers an SDK retry of its own
 * landed create 412), is "exists" although the version is this attempt's. Taken for a lost race,
 * the attempt would delete the manifest list its own committed version names. A read that fails
 * throws: the files stay (orphans at worst) and the next attempt's reload tells the two apart.
 */
async function isOwnVersion(store: ObjectStore, path: string, version: number, bytes: Uint8Array): Promise<boolean> {
  const found = await store.get(metadataKey(path, version))
  return found !== undefined && Buffer.compare(found, bytes) === 0
}

/**
 * The one optimistic commit path of kfs tables (appends, compaction, snapshot expiry): `attempt`
 * builds the next metadata on the fresh base (reloaded on every attempt after the first), which
 * is created as `v<N+1>.metadata.json` with putIfAbsent — losing that race reloads and retries
 * with back-off — and the base's metadata file is appended to the metadata log.
 */
export async function commitMetadata<T>(table: IcebergTable, attempt: (base: IcebergTable, attempt: number) => Promise<MetadataAttempt<T>>, options: CommitOptions = {}): Promise<T> {
  const clock = options.clock ?? systemClock
  const { store, path } = table
  return retry(
    async (bail, n) => {
      try {
        const base = n > 1 ? await loadTable(store, path) : table
        const outcome = await attempt(base, n)
        if ('done' in outcome) return outcome.done
        const meta = base.metadata
        // A table read at a moved or copied data folder records its new place with this commit (table-locations.ts).
        const next: TableMetadata = {
          ...relocated(outcome.next, currentTableLocation(base)),
          'metadata-log': [...meta['metadata-log'], { 'timestamp-ms': meta['last-updated-ms'], 'metadata-file': store.uriOf(metadataKey(path, base.version)) }].slice(-MAX_METADATA_LOG),
        }
        const version = base.version + 1
        const bytes = serializeTableMetadata(next)
        let created: boolean
        try {
          created = await store.putIfAbsent(metadataKey(path, version), bytes)
        } catch (err: unknown) {
          options.onUnansweredWrite?.()
          throw err
        }
        if (!created && !(await isOwnVersion(store, path, version, bytes))) {
          for (const key of outcome.written) await store.delete(key)
          throw new CommitError('COMMIT_CONFLICT', 'another writer committed this table version first', { context: { path, version } })
        }
        await writeHint(store, path, version).catch(() => undefined) // best effort: readers probe forward
        return outcome.result({ store, path, version, metadata: next })
      } catch (err: unknown) {
        if (options.endsOn?.(err) === true) bail(err)
        throw err
      }
    },
    {
      clock,
      attempts: options.attempts ?? 12,
      minDelayMs: options.minDelayMs ?? 25,
      maxDelayMs: options.maxDelayMs ?? 2_000,
      ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
      ...(options.until === undefined ? {} : { until: options.until, what: options.what ?? `the commit of table ${path}` }),
    },
  )
}
