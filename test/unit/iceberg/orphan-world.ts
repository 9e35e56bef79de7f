/**
 * A topic's archive table written through the real offline sink on a memory store whose clock a
 * test moves (every object is stamped with it), with the ways orphan files arise: a commit whose
 * metadata write fails (its data file, manifest and manifest lists stay unnamed), an expiry whose
 * deletes fail, files put directly. Manifests merge from three on, so merges happen in short runs.
 */
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import {
  compactPartitions,
  createTable,
  loadTable,
  RAW_ARCHIVE_PARTITION_SPEC,
  RAW_ARCHIVE_SCHEMA,
  readRows,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { manifestsOf, metadataKey, readVersionHint } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { MIN_COUNT_TO_MERGE_PROPERTY } from '../../../adapters/offline/iceberg/manifest-merge.ts'
import { decodeManifest } from '../../../adapters/offline/iceberg/manifests.ts'
import { IcebergOfflineSink, archiveTablePath } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { specById } from '../../../adapters/offline/iceberg/table-metadata.ts'
import type { Clock } from '../../../core/clock.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import { FaultyObjectStore } from '../../support/faulty-object-store.ts'

export const DAY = 86_400_000
export const TOPIC = 'clicks'
export const PATH = archiveTablePath(TOPIC)

export type Op =
  | { readonly kind: 'append'; readonly partition: number; readonly rows: number }
  | { readonly kind: 'compact' }
  | { readonly kind: 'expire'; readonly minKeep: number; readonly failDeletes: boolean }
  | { readonly kind: 'failed-commit'; readonly partition: number }
  | { readonly kind: 'stray'; readonly dir: 'data' | 'metadata'; readonly bytes: number }
  | { readonly kind: 'tick'; readonly ms: number }

export class OrphanWorld {
  now = Date.UTC(2030, 0, 1)
  readonly clock: Clock = { nowMs: () => this.now, sleep: () => new Promise((r) => setImmediate(r)) }
  readonly memory = new MemoryObjectStore('memory://kfs', this.clock)
  readonly store = new FaultyObjectStore(this.memory)
  readonly sink = new IcebergOfflineSink(this.store, { clock: this.clock, parquetWorker: false })
  readonly tableId = this.sink.tableId({ kind: 'archive', topic: TOPIC })
  #offset = 0
  #seq = 0
  #strays = 0

  static async create(): Promise<OrphanWorld> {
    const world = new OrphanWorld()
    const properties = { 'kfs.topic': TOPIC, [MIN_COUNT_TO_MERGE_PROPERTY]: '3' }
    await createTable(world.memory, PATH, {
      schema: RAW_ARCHIVE_SCHEMA,
      partitionSpec: RAW_ARCHIVE_PARTITION_SPEC,
      properties,
      clock: world.clock,
    })
    return world
  }

  #rows(partition: number, n: number): ArchiveRow[] {
    return Array.from({ length: n }, () => {
      const offset = this.#offset++
      const key = Uint8Array.of(offset % 251)
      return {
        partition,
        offset: String(offset),
        eventTimeMs: this.now,
        key,
        schemaId: 1,
        payload: Uint8Array.of(0, 0, 0, 0, 1),
        markerWatermarkMs: null,
        timestampMs: this.now,
      }
    })
  }

  async append(partition: number, rows: number): Promise<void> {
    this.#seq++
    await this.sink.commit(
      this.tableId,
      [await this.sink.stageArchiveRows(TOPIC, this.#rows(partition, rows))],
      { [`${TOPIC}/${partition}`]: this.#seq },
      {},
    )
  }

  async apply(op: Op): Promise<void> {
    this.now += 1_000
    switch (op.kind) {
      case 'append':
        return this.append(op.partition, op.rows)
      case 'compact':
        await compactPartitions(await loadTable(this.memory, PATH), { minFiles: 2, clock: this.clock, parquetWorker: false })
        return
      case 'expire':
        if (op.failDeletes) this.store.arm({ operation: 'delete', key: /./, when: 'before', skip: 0, times: 1e9 })
        await this.sink.expireSnapshots({ kind: 'archive', topic: TOPIC }, { maxAgeMs: 1, minSnapshots: op.minKeep })
        this.store.disarm()
        return
      case 'failed-commit': {
        this.store.arm({
          operation: 'putIfAbsent',
          key: /\/metadata\/v\d+\.metadata\.json$/,
          when: 'before',
          skip: 0,
          times: 1e9,
        })
        const failed = await this.append(op.partition, 1).then(
          () => false,
          () => true,
        )
        this.store.disarm()
        if (!failed) throw new Error('the faulted commit landed')
        return
      }
      case 'stray':
        await this.memory.put(
          `${PATH}/${op.dir}/stray-${this.#strays++}.${op.dir === 'data' ? 'parquet' : 'avro'}`,
          new Uint8Array(op.bytes),
        )
        return
      case 'tick':
        this.now += op.ms
    }
  }
}

/** Every snapshot's rows, in read order, by snapshot id. */
export async function rowsBySnapshot(table: IcebergTable): Promise<Map<bigint, string>> {
  const out = new Map<bigint, string>()
  for (const s of table.metadata.snapshots) {
    const rows: unknown[] = []
    for await (const r of readRows(table, { snapshotId: s['snapshot-id'], longAs: 'bigint' })) rows.push(r)
    out.set(
      s['snapshot-id'],
      JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? [...v] : v)),
    )
  }
  return out
}

/**
 * The test's own account of what the table's metadata names (written apart from the module under
 * test, one file at a time): metadata file, its log, the hint and the versions from the hinted one up, each snapshot's manifest list, its
 * manifests, and the files of their entries of any status.
 */
export async function namedKeys(table: IcebergTable): Promise<Set<string>> {
  const { store, path, metadata } = table
  const named = new Set([metadataKey(path, table.version), `${path}/metadata/version-hint.text`])
  for (const e of metadata['metadata-log']) named.add(keyOfStoreUri(store, e['metadata-file']))
  for (let v = (await readVersionHint(store, path)) ?? table.version; v < table.version; v++) named.add(metadataKey(path, v))
  for (const s of metadata.snapshots) {
    named.add(keyOfStoreUri(store, s['manifest-list']))
    for (const m of await manifestsOf(table, s)) {
      const key = keyOfStoreUri(store, m.manifestPath)
      named.add(key)
      for (const e of decodeManifest((await store.get(key))!, specById(metadata, m.partitionSpecId)))
        named.add(keyOfStoreUri(store, e.dataFile.filePath))
    }
  }
  return named
}
