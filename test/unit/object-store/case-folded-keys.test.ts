/**
 * Keys that differ only in case, in an object store that does not tell them apart (the local
 * object store on macOS or Windows: `checkpoints/g/Clicks/` is the folder `clicks` made). Simulated
 * by a store that folds every key to lower case — what such a file system does to the local store's
 * paths. Where a topic name (case-sensitive, as Kafka's) becomes a key — a partition's checkpoint
 * records, a topic's archive table — what is stored there names its topic, and another spelling
 * is refused naming both: never resumed from another topic's offsets and state, never replayed from
 * another topic's records.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { CheckpointStore, type PartitionCheckpoint } from '../../../engine/checkpoint-store.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'

/** `inner` seen through a case-insensitive file system: every key folded, listings answered in the spelling asked. */
function caseFolding(inner: ObjectStore): ObjectStore {
  return {
    rootUri: inner.rootUri,
    get: (key) => inner.get(key.toLowerCase()),
    put: (key, body) => inner.put(key.toLowerCase(), body),
    putIfAbsent: (key, body) => inner.putIfAbsent(key.toLowerCase(), body),
    delete: (key) => inner.delete(key.toLowerCase()),
    list: async (prefix) => (await inner.list(prefix.toLowerCase())).map((k) => prefix + k.slice(prefix.length)),
    listWithTimes: async (prefix) =>
      (await inner.listWithTimes(prefix.toLowerCase())).map((o) => ({ ...o, key: prefix + o.key.slice(prefix.length) })),
    uriOf: (key) => inner.uriOf(key),
  }
}

const names = (stored: string, asked: string) => (err: unknown) =>
  err instanceof ConfigError &&
  err.message.includes(`'${asked}'`) &&
  err.message.includes(`'${stored}'`) &&
  /upper from lower case/.test(err.message)

const PAIRS: [stored: string, asked: string][] = [
  ['clicks', 'Clicks'],
  ['Clicks', 'clicks'],
  ['user.Events', 'USER.events'],
]

const checkpoint = (topic: string, seq: number): PartitionCheckpoint => ({
  seq,
  topic,
  partition: 0,
  nextOffset: String(seq * 10),
  watermarkMs: null,
  views: [],
  staged: [],
  createdAtMs: 0,
})

const rows = (n: number): ArchiveRow[] =>
  Array.from({ length: n }, (_, i) => ({
    partition: 0,
    offset: String(i),
    eventTimeMs: i,
    key: null,
    schemaId: 1,
    payload: new Uint8Array([i]),
    markerWatermarkMs: null,
    timestampMs: i,
  }))

void describe('object store > keys differing only in case', () => {
  void test("a partition's latest checkpoint record of another spelling of its topic or group is refused naming both", async () => {
    for (const [stored, asked] of PAIRS) {
      const store = caseFolding(new MemoryObjectStore())
      const checkpoints = new CheckpointStore(store, 'g')
      assert.equal(await checkpoints.publish(checkpoint(stored, 3)), true)
      assert.equal((await checkpoints.latest(stored, 0))?.nextOffset, '30', `${stored}: its own record`)
      await assert.rejects(checkpoints.latest(asked, 0), names(stored, asked), `${stored} asked as ${asked}`)
    }
    // Groups: the folder checkpoints/<group>/ does not tell MyGroup from mygroup there; the record names its group.
    for (const [stored, asked] of [
      ['mygroup', 'MyGroup'],
      ['MyGroup', 'mygroup'],
    ] as const) {
      const store = caseFolding(new MemoryObjectStore())
      await new CheckpointStore(store, stored).publish(checkpoint('t', 2))
      assert.equal((await new CheckpointStore(store, stored).latest('t', 0))?.seq, 2, `${stored}: its own record`)
      assert.deepEqual(await new CheckpointStore(store, stored).latest('t', 0), checkpoint('t', 2), 'read back as published')
      await assert.rejects(
        new CheckpointStore(store, asked).latest('t', 0),
        names(stored, asked),
        `group ${stored} asked as ${asked}`,
      )
    }
    // Another spelling's record below this topic's newest: refused too (prune would delete it, and its state).
    for (const [stored, asked] of PAIRS) {
      const store = caseFolding(new MemoryObjectStore())
      await new CheckpointStore(store, 'g').publish(checkpoint(stored, 1))
      await new CheckpointStore(store, 'g').publish({ ...checkpoint(stored, 2), topic: asked })
      await assert.rejects(
        new CheckpointStore(store, 'g').latest(asked, 0),
        names(stored, asked),
        `${stored} below ${asked}'s newest`,
      )
    }
    // A damaged older record is not read (as before): the newest decides.
    const damaged = new MemoryObjectStore()
    await damaged.put('checkpoints/g/t/0/ckpt-000000000001.json', new TextEncoder().encode('{"seq":1,"top'))
    await new CheckpointStore(damaged, 'g').publish(checkpoint('t', 2))
    assert.equal((await new CheckpointStore(damaged, 'g').latest('t', 0))?.seq, 2)

    // A record an earlier kfs wrote names no group: read as before.
    const earlier = new MemoryObjectStore()
    await earlier.put('checkpoints/g/t/0/ckpt-000000000004.json', new TextEncoder().encode(JSON.stringify(checkpoint('t', 4))))
    assert.equal((await new CheckpointStore(earlier, 'g').latest('t', 0))?.seq, 4)

    // The simulation folds: one spelling throughout is read as written.
    const plain = new CheckpointStore(caseFolding(new MemoryObjectStore()), 'g')
    await plain.publish(checkpoint('Clicks', 1))
    assert.equal((await plain.latest('Clicks', 0))?.seq, 1)
  })

  void test("a topic's archive table made by another spelling is refused naming both, for writing and for reading", async () => {
    for (const [stored, asked] of PAIRS) {
      const store = caseFolding(new MemoryObjectStore())
      const sink = new IcebergOfflineSink(store, { parquetWorker: false })
      await sink.commit(
        sink.tableId({ kind: 'archive', topic: stored }),
        [await sink.stageArchiveRows(stored, rows(3))],
        { [`g/${stored}/0`]: 1 },
        {},
      )
      assert.deepEqual((await sink.archiveEnd(stored)).nextOffsets, { 0: '3' }, `${stored}: its own archive`)

      // Another sink (another process, or a replay): nothing cached.
      const other = new IcebergOfflineSink(store, { parquetWorker: false })
      const attempts: [string, () => Promise<unknown>][] = [
        ['archiveEnd', () => other.archiveEnd(asked)],
        [
          'readArchive',
          async () => {
            for await (const row of other.readArchive(asked, 0)) void row
          },
        ],
        ['stageArchiveRows', () => other.stageArchiveRows(asked, rows(1))],
        ['archiveTable', () => other.archiveTable(asked)],
      ]
      for (const [what, attempt] of attempts)
        await assert.rejects(attempt(), names(stored, asked), `${stored} asked as ${asked}: ${what}`)
      assert.deepEqual((await other.archiveEnd(stored)).nextOffsets, { 0: '3' }, `${stored}: its archive unchanged`)
    }
  })
})
