/**
 * A table whose current metadata file, a manifest list or a manifest is unreadable — bytes that are
 * not JSON or Avro, cut short, emptied, or deleted — is refused with a FeatureStoreError (a clear
 * line, never a TypeError or RangeError from a decoder) by every operation that reads it: the
 * engine's commit, compaction, snapshot expiry, orphan removal, a reader and the table listing;
 * and none of them deletes anything (the files such a file names are unknown, and would look
 * like orphans or expired files).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { compactPartitions, loadTable, readRows } from '../../../adapters/offline/iceberg/index.ts'
import { manifestsOf, metadataKey } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { keyOfStoreUri } from '../../../ports/object-store-keys.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { removeOrphanFiles } from '../../../adapters/offline/iceberg/orphan-files.ts'
import { listStoredTables } from '../../../adapters/offline/iceberg/table-listing.ts'
import { currentSnapshot } from '../../../adapters/offline/iceberg/table-metadata.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { archiveRows } from '../../support/archive-rows.ts'
import { OrphanWorld, PATH, TOPIC } from './orphan-world.ts'

type Target = 'metadata' | 'manifest list' | 'manifest'
const DAMAGES: Readonly<Record<string, ((bytes: Uint8Array) => Uint8Array) | 'deleted'>> = {
  garbage: () => new TextEncoder().encode('\u0000\u00ffnot a table file{['),
  'cut short': (b) => b.slice(0, Math.floor(b.length / 2)),
  'cut by one byte': (b) => b.slice(0, b.length - 1),
  emptied: () => new Uint8Array(0),
  deleted: 'deleted',
}

/** A table of six appends (manifests merged from three on) whose one file of `target` is damaged. */
async function damagedTable(target: Target, damage: (typeof DAMAGES)[string]): Promise<{ world: OrphanWorld; file: string }> {
  const world = await OrphanWorld.create()
  for (let i = 0; i < 6; i++) await world.append(0, 2)
  const table = await loadTable(world.memory, PATH)
  const snapshot = currentSnapshot(table.metadata)!
  const file =
    target === 'metadata'
      ? metadataKey(PATH, table.version)
      : target === 'manifest list'
        ? keyOfStoreUri(world.memory, snapshot['manifest-list'])
        : keyOfStoreUri(world.memory, (await manifestsOf(table, snapshot))[0]!.manifestPath)
  if (damage === 'deleted') await world.memory.delete(file)
  else await world.memory.put(file, damage((await world.memory.get(file))!))
  world.now += 10 * 86_400_000 // every file old enough for orphan removal
  return { world, file }
}

const OPERATIONS: Readonly<Record<string, (world: OrphanWorld) => Promise<unknown>>> = {
  // A restarted engine: one whose sink holds the table in memory commits from what it holds.
  'engine commit': async (w) => {
    const sink = new IcebergOfflineSink(w.memory, { clock: w.clock, parquetWorker: false })
    await sink.commit(w.tableId, [await w.sink.stageArchiveRows(TOPIC, archiveRows(1_000, 1_001))], { [`${TOPIC}/0`]: 99 }, {})
  },
  compaction: async (w) =>
    compactPartitions(await loadTable(w.memory, PATH), { minFiles: 2, clock: w.clock, parquetWorker: false }),
  expiry: (w) =>
    new IcebergOfflineSink(w.memory, { clock: w.clock, parquetWorker: false }).expireSnapshots(
      { kind: 'archive', topic: TOPIC },
      { maxAgeMs: 1, minSnapshots: 1 },
    ),
  'orphan removal': (w) => removeOrphanFiles(w.memory, PATH, { clock: w.clock, minAgeMs: 1 }),
  read: async (w) => {
    for await (const row of readRows(await loadTable(w.memory, PATH))) void row
  },
  'table listing': (w) => listStoredTables(w.memory, { onDamaged: (path) => assert.fail(`${path} damaged`) }),
}

void describe('iceberg > unreadable metadata, manifest list or manifest', () => {
  for (const target of ['metadata', 'manifest list', 'manifest'] as const) {
    for (const [damageName, damage] of Object.entries(DAMAGES)) {
      void test(`${target} ${damageName}: every operation refuses it cleanly and deletes nothing`, async () => {
        for (const [name, run] of Object.entries(OPERATIONS)) {
          const { world, file } = await damagedTable(target, damage)
          const before = await world.memory.list(`${PATH}/`)
          const outcome = await run(world).then(
            () => undefined,
            (err: unknown) => err,
          )
          const after = new Set(await world.memory.list(`${PATH}/`))
          // Expiry may go on where it need not read the file (only the snapshots it expires, and
          // their manifest lists); the damaged file, which the current snapshot names, stays.
          assert.deepEqual(
            before.filter((k) => !after.has(k) && (name !== 'expiry' || k === file)),
            [],
            `${name} deleted files of a table it could not read`,
          )
          if (name === 'expiry' && target !== 'metadata' && (outcome === undefined || outcome instanceof FeatureStoreError))
            continue
          // The listing names tables, reads no manifests: only the metadata is its to refuse.
          if (name === 'table listing' && target !== 'metadata') continue
          // A deleted metadata file with an older version left: the table reads at that version (its hint is the newest).
          if (outcome === undefined && target === 'metadata' && damage === 'deleted') continue
          assert.ok(outcome !== undefined, `${name} went on over the damaged ${target}`)
          assert.ok(
            outcome instanceof FeatureStoreError,
            `${name}: not a clear refusal: ${outcome instanceof Error ? (outcome.stack ?? outcome.message) : String(outcome)}`,
          )
        }
      })
    }
  }
})
