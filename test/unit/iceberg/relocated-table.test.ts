/**
 * An Iceberg table whose folder was moved or copied (adapters/offline/iceberg/table-locations.ts):
 * its metadata names files by absolute URIs of the old place. Every URI under a location the table
 * was recorded at maps to the same key under the current one, exactly (a location nested in
 * another, one whose name extends another's); one under none is refused naming them. On a local
 * store, in a copy whose original is still there: the rows read as in the original, a commit
 * records the move, snapshot expiry and the orphan clean-up delete only files of the copy — never
 * one the table names, never one of the original — and a training set's pinned files are the
 * copy's. A table moved twice, or moved back, still maps every file. Before, every URI of the old
 * place was refused, and the orphan clean-up took all of them for orphans.
 */
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { LocalObjectStore } from '../../../adapters/object-store/local/local-object-store.ts'
import {
  appendFiles,
  compactPartitions,
  createTable,
  currentSnapshot,
  dataFilesOf,
  dayPartitionSpec,
  expireSnapshots,
  loadTable,
  readRows,
  writeDataFiles,
  type IcebergTable,
} from '../../../adapters/offline/iceberg/index.ts'
import { removeOrphanFiles } from '../../../adapters/offline/iceberg/orphan-files.ts'
import { pinTable } from '../../../adapters/offline/iceberg/pinned-files.ts'
import { manifestsOf } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import {
  FORMER_LOCATIONS_PROPERTY,
  keyOfTableUri,
  recordedLocations,
  relocated,
} from '../../../adapters/offline/iceberg/table-locations.ts'
import type { TableMetadata } from '../../../adapters/offline/iceberg/table-metadata.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { fileHashes } from '../../support/data-folder-outcome.ts'
import { clicksSchema } from './clicks-table.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 15)
const PATH = 'warehouse/features/t_v1'
const root = mkdtempSync(path.join(tmpdir(), 'kfs-relocated-table-'))
after(() => rmSync(root, { recursive: true, force: true }))

const clock = (() => {
  let now = T0 + 30 * DAY
  return { nowMs: () => (now += 10_000), sleep: () => new Promise<void>((r) => setImmediate(r)) }
})()

async function commit(table: IcebergTable, i: number): Promise<IcebergTable> {
  const rows = [{ entity_key: `k${i}`, as_of: T0 + (i % 3) * DAY + i, clicks: i }]
  return (await appendFiles(table, await writeDataFiles(table, rows), { [`kfs.ckpt.g/t/${i % 3}`]: String(i) }, { clock })).table
}

async function rowsOf(table: IcebergTable): Promise<string[]> {
  const out: string[] = []
  for await (const r of readRows(table)) out.push(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))
  return out.sort()
}

/** The keys of the files the table's current snapshot reads: its manifest list, manifests and live data files. */
async function readKeys(table: IcebergTable): Promise<string[]> {
  const snapshot = currentSnapshot(table.metadata)!
  const manifests = await manifestsOf(table, snapshot)
  const uris = [
    snapshot['manifest-list'],
    ...manifests.map((m) => m.manifestPath),
    ...(await dataFilesOf(table)).map((f) => f.filePath),
  ]
  return uris.map((uri) => keyOfTableUri(table, uri))
}

/** A table with history to expire: appends over three days, one compaction. */
async function builtAt(dir: string): Promise<IcebergTable> {
  const store = new LocalObjectStore(dir)
  let table = await createTable(store, PATH, {
    schema: clicksSchema(),
    partitionSpec: dayPartitionSpec(clicksSchema(), 'as_of'),
    clock,
  })
  for (let i = 0; i < 9; i++) table = await commit(table, i)
  await compactPartitions(table, { olderThanDay: Math.floor(T0 / DAY) + 3, clock })
  return loadTable(store, PATH)
}

const meta = (location: string, former?: readonly string[]): Pick<TableMetadata, 'location' | 'properties'> => ({
  location,
  properties: former === undefined ? {} : { [FORMER_LOCATIONS_PROPERTY]: JSON.stringify(former) },
})
const storeAt = (rootUri: string) => ({ rootUri, uriOf: (key: string) => (key === '' ? rootUri : `${rootUri}/${key}`) })

void describe('a table whose folder moved', () => {
  void test('every URI under a location it was recorded at maps to the same key here; one under none is refused naming them', () => {
    const store = storeAt('file:///new/data/objects')
    const cases: readonly {
      name: string
      metadata: Pick<TableMetadata, 'location' | 'properties'>
      uri: string
      key?: string
    }[] = [
      {
        name: 'under the current location',
        metadata: meta('file:///old/data/objects/t'),
        uri: 'file:///new/data/objects/t/data/f.parquet',
        key: 't/data/f.parquet',
      },
      {
        name: 'under the recorded location',
        metadata: meta('file:///old/data/objects/t'),
        uri: 'file:///old/data/objects/t/metadata/m.avro',
        key: 't/metadata/m.avro',
      },
      {
        name: 'under the first of two former locations',
        metadata: meta('file:///b/objects/t', ['file:///a/objects/t', 'file:///c/objects/t']),
        uri: 'file:///a/objects/t/data/d=1/f.parquet',
        key: 't/data/d=1/f.parquet',
      },
      {
        name: 'under the second former location',
        metadata: meta('file:///b/objects/t', ['file:///a/objects/t', 'file:///c/objects/t']),
        uri: 'file:///c/objects/t/data/f.parquet',
        key: 't/data/f.parquet',
      },
      {
        name: 'a recorded location nested in the current one: the longest wins',
        metadata: meta('file:///new/data/objects/t/data/old/t'),
        uri: 'file:///new/data/objects/t/data/old/t/data/f.parquet',
        key: 't/data/f.parquet',
      },
      {
        name: 'a recorded location with a trailing slash',
        metadata: meta('file:///old/objects/t/'),
        uri: 'file:///old/objects/t/data/f.parquet',
        key: 't/data/f.parquet',
      },
      {
        name: 'elsewhere in the current store (a hand-written table)',
        metadata: meta('file:///old/objects/t'),
        uri: 'file:///new/data/objects/elsewhere/f.parquet',
        key: 'elsewhere/f.parquet',
      },
      {
        name: 'a sibling whose name extends the recorded one',
        metadata: meta('file:///old/objects/t'),
        uri: 'file:///old/objects/t2/data/f.parquet',
      },
      { name: 'the recorded location itself, no file', metadata: meta('file:///old/objects/t'), uri: 'file:///old/objects/t' },
      {
        name: 'another folder altogether',
        metadata: meta('file:///old/objects/t', ['file:///older/objects/t']),
        uri: 'file:///other/objects/t/data/f.parquet',
      },
    ]
    for (const c of cases) {
      const table = { store, path: 't', metadata: c.metadata }
      if (c.key !== undefined) {
        assert.equal(keyOfTableUri(table, c.uri), c.key, c.name)
        continue
      }
      assert.throws(
        () => keyOfTableUri(table, c.uri),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          err.code === 'SINK_REJECTED' &&
          err.message.includes(c.uri) &&
          err.message.includes('file:///new/data/objects/t') &&
          recordedLocations(c.metadata).every((l) => err.message.includes(l)) &&
          err.message.includes('KFS_DATA_DIR'),
        c.name,
      )
    }
    assert.throws(
      () =>
        keyOfTableUri(
          {
            store,
            path: 't',
            metadata: { location: 'file:///old/t', properties: { [FORMER_LOCATIONS_PROPERTY]: '{"not":"a list"}' } },
          },
          'file:///old/t/f',
        ),
      (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT',
    )
  })

  void test('a commit records a move once: the old location joins the former ones, a move back drops the current one', () => {
    const base = { ...meta('file:///a/t'), 'format-version': 2 } as unknown as TableMetadata
    assert.equal(relocated(base, 'file:///a/t'), base, 'not moved: the same metadata')
    const atB = relocated(base, 'file:///b/t')
    assert.equal(atB.location, 'file:///b/t')
    assert.deepEqual(recordedLocations(atB), ['file:///b/t', 'file:///a/t'])
    const atC = relocated(atB, 'file:///c/t')
    assert.deepEqual(recordedLocations(atC), ['file:///c/t', 'file:///b/t', 'file:///a/t'])
    assert.deepEqual(recordedLocations(relocated(atC, 'file:///a/t')), ['file:///a/t', 'file:///c/t', 'file:///b/t'])
  })

  void test('a copy reads, commits, expires and cleans up in itself alone; the original keeps every byte', async () => {
    const original = path.join(root, 'original', 'objects')
    const copy = path.join(root, 'copy', 'objects')
    const before = await rowsOf(await builtAt(original))
    cpSync(original, copy, { recursive: true, preserveTimestamps: true })
    const originalBytes = fileHashes(original)

    let table = await loadTable(new LocalObjectStore(copy), PATH)
    assert.deepEqual(await rowsOf(table), before, 'the copy reads the rows the original holds')
    table = await commit(table, 9)
    assert.equal(table.metadata.location, table.store.uriOf(PATH), 'the commit recorded the copy as the table location')
    assert.deepEqual(recordedLocations(table.metadata).slice(1), [new LocalObjectStore(original).uriOf(PATH)])

    const expired = await expireSnapshots(table, { maxAgeMs: 0, minSnapshots: 1 }, { clock })
    assert.ok(expired.deletedFiles > 0, 'the expiry deleted the files only expired snapshots named')
    writeFileSync(path.join(copy, PATH, 'data', 'left-behind.parquet'), 'an orphan')
    const orphans = await removeOrphanFiles(table.store, PATH, { minAgeMs: 0, clock: { nowMs: () => Date.now() + 1_000 } })
    assert.deepEqual(
      orphans.orphans.map((o) => o.key),
      [`${PATH}/data/left-behind.parquet`],
      'only the file no metadata names',
    )

    table = await loadTable(table.store, PATH)
    assert.equal((await rowsOf(table)).length, before.length + 1, 'every row still reads, the new one too')
    for (const key of await readKeys(table))
      assert.ok(existsSync(path.join(copy, ...key.split('/'))), `${key}: read, still there`)
    const pinned = await pinTable(table.store, PATH, undefined, path.join(root, 'pin'))
    assert.ok(pinned.files.length > 0)
    for (const file of pinned.files) assert.ok(file.startsWith(`${copy}/`), `${file}: a file of the copy, not of the original`)
    assert.deepEqual(fileHashes(original), originalBytes, 'the original: not a byte written, added or deleted')
  })

  void test('moved twice, committed at each place, then moved back: every file still maps and reads', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((p) => path.join(root, 'moves', p, 'objects')) as [string, string, string]
    let table = await builtAt(a)
    const rows = await rowsOf(table)
    const moves: readonly (readonly [string, string])[] = [
      [a, b],
      [b, c],
      [c, a],
    ]
    for (const [i, [from, to]] of moves.entries()) {
      renameSync(path.dirname(from), path.dirname(to))
      table = await loadTable(new LocalObjectStore(to), PATH)
      assert.deepEqual(await rowsOf(table), rows, `after move ${i + 1}: the rows before it`)
      table = await commit(table, 20 + i)
      rows.push(...(await rowsOf(table)).filter((r) => !rows.includes(r)))
      rows.sort()
      for (const key of await readKeys(table))
        assert.ok(existsSync(path.join(to, ...key.split('/'))), `after move ${i + 1}: ${key} is here`)
      const orphans = await removeOrphanFiles(table.store, PATH, {
        minAgeMs: 0,
        dryRun: true,
        clock: { nowMs: () => Date.now() + 1_000 },
      })
      assert.deepEqual(orphans.orphans, [], `after move ${i + 1}: no named file taken for an orphan`)
    }
    assert.equal(rows.length, 12)
    assert.deepEqual(
      recordedLocations(table.metadata),
      [a, c, b].map((p) => new LocalObjectStore(p).uriOf(PATH)),
    )
  })
})
