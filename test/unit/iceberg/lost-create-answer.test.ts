/**
 * A metadata create that landed but was answered "already exists" — what S3 answers an SDK retry
 * of a create whose first answer was lost — is this writer's own commit (docs/semantics.md §11):
 * for every kind of commit (an append, an append that merges manifests, a compaction, a snapshot
 * expiry) it is reported committed once, the table reads every row once, and every file the table
 * names exists. Before, the attempt took it for a lost race and deleted its own manifest list (and
 * merged manifests), which the version it had just created names.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { compactPartitions, expireSnapshots, loadTable, readRows } from '../../../adapters/offline/iceberg/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'
import { namedKeys, OrphanWorld, PATH, TOPIC } from './orphan-world.ts'

/** `inner`, whose next metadata-version create lands and is answered "already exists". */
function lostCreateOnce(inner: ObjectStore): ObjectStore & { readonly fired: () => boolean } {
  let fired = false
  return {
    ...forwardingStore(inner),
    putIfAbsent: async (k, b) => {
      const created = await inner.putIfAbsent(k, b)
      if (fired || !/\/metadata\/v\d+\.metadata\.json$/.test(k) || !created) return created
      fired = true
      return false
    },
    fired: () => fired,
  }
}

const COMMITS: Readonly<Record<string, (world: OrphanWorld, store: ObjectStore) => Promise<unknown>>> = {
  append: async (w, store) => {
    const sink = new IcebergOfflineSink(store, { clock: w.clock, parquetWorker: false })
    await sink.commit(w.tableId, [await sink.stageArchiveRows(TOPIC, [{ ...ROW, offset: '900' }])], { [`${TOPIC}/9`]: 1 }, {})
  },
  compaction: async (w, store) => {
    const result = await compactPartitions(await loadTable(store, PATH), { minFiles: 2, clock: w.clock, parquetWorker: false })
    assert.equal(result.status, 'committed')
  },
  expiry: async (w, store) => {
    const result = await expireSnapshots(await loadTable(store, PATH), { maxAgeMs: 1, minSnapshots: 1 }, { clock: w.clock })
    assert.ok(result.expiredSnapshots > 0)
  },
}
const ROW = {
  partition: 0,
  eventTimeMs: Date.UTC(2030, 0, 1),
  key: Uint8Array.of(1),
  schemaId: 1,
  payload: Uint8Array.of(0, 0, 0, 0, 1),
  markerWatermarkMs: null,
  timestampMs: 1,
}

async function offsets(world: OrphanWorld): Promise<string[]> {
  const out: string[] = []
  for await (const r of readRows(await loadTable(world.memory, PATH))) out.push(String(r.offset))
  return out.sort()
}

void describe('iceberg > a create answered "already exists" that was this writer’s own', () => {
  // Two appends: no merge yet; five: the append merges (manifests merge from three on).
  for (const appends of [2, 5]) {
    for (const [kind, commit] of Object.entries(COMMITS)) {
      void test(`${kind} after ${appends} appends${kind === 'append' && appends === 5 ? ' (merging manifests)' : ''}: committed once, every named file there`, async () => {
        const world = await OrphanWorld.create()
        for (let i = 0; i < appends; i++) await world.append(0, 1)
        world.now += 10_000
        const before = await offsets(world)
        const snapshots = (await loadTable(world.memory, PATH)).metadata.snapshots.length
        const store = lostCreateOnce(world.memory)
        await commit(world, store)
        assert.ok(store.fired(), 'the fault fired')
        const table = await loadTable(world.memory, PATH)
        for (const key of await namedKeys(table)) assert.ok(await world.memory.get(key), `${key} is named and exists`)
        assert.deepEqual(await offsets(world), kind === 'append' ? [...before, '900'].sort() : before)
        if (kind !== 'expiry') assert.equal(table.metadata.snapshots.length, snapshots + 1, 'one new snapshot')
      })
    }
  }
})
