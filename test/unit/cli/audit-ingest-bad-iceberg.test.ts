/**
 * `kfs ingest` of an Iceberg table source on the audit corpus of bad tables (docs/design.md §11),
 * the table written into the embedded object store by kfs's own Iceberg writer (day-partitioned)
 * and then edited as foreign writers leave it: refused with one line naming the table (exit 1,
 * nothing appended) — no table, no snapshot yet, a snapshot without rows, metadata that is not
 * Iceberg's, a snapshot id that does not exist, live merge-on-read delete files — or ingested,
 * the good rows once: the
 * current snapshot, an older one by id, a renamed column, one whose summary claims a trillion
 * rows (the planner was sized for them up front: a crash with a stack trace). A snapshot id that
 * is not one is a usage error (exit 2).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import {
  appendFiles,
  createTable,
  dayPartitionSpec,
  metadataKey,
  writeDataFiles,
  type IcebergSchema,
} from '../../../adapters/offline/iceberg/index.ts'
import { parseJson, stringifyJson } from '../../../adapters/offline/iceberg/lossless-json.ts'
import { decodeManifestList, encodeManifestList } from '../../../adapters/offline/iceberg/manifests.ts'
import { checkIngest, dataDirIn, type Outcome } from './ingest-corpus.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-bad-iceberg-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const PATH = 'warehouse/db/accounts'
const T0 = Date.UTC(2024, 0, 15)
const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'account_id', required: true, type: 'string' },
    { id: 2, name: 'updated_at', required: true, type: 'timestamptz' },
    { id: 3, name: 'balance', required: true, type: 'double' },
    { id: 4, name: 'tier', required: false, type: 'string' },
    { id: 5, name: 'visits', required: false, type: 'long' },
  ],
}
type Json = Record<string, unknown>
const acct = (id: string, day: number) => ({
  account_id: id,
  updated_at: T0 + day * 86_400_000,
  balance: 1.5,
  tier: `t-${id}`,
  visits: day,
})

/** The accounts table in `dataDir`'s object store: one snapshot per batch of rows; the store, the snapshot ids and the last metadata key. */
async function accountsTable(dataDir: string, batches: readonly (readonly Json[])[]) {
  const store = new LocalObjectStore(join(dataDir, 'objects'))
  let table = await createTable(store, PATH, { schema, partitionSpec: dayPartitionSpec(schema, 'updated_at') })
  const ids: string[] = []
  for (const rows of batches) {
    const res = await appendFiles(table, await writeDataFiles(table, rows, { parquetWorker: false }))
    table = res.table
    ids.push(String(res.snapshotId))
  }
  return { store, ids, key: metadataKey(PATH, table.version) }
}
const readJson = async (store: LocalObjectStore, key: string): Promise<Json> =>
  parseJson(new TextDecoder().decode((await store.get(key))!)) as Json
const writeJson = (store: LocalObjectStore, key: string, value: unknown): Promise<void> =>
  store.put(key, new TextEncoder().encode(stringifyJson(value)))

/** A case: the table made in a data directory, then `kfs ingest` with these arguments and its outcome. */
interface Case {
  readonly make: (dataDir: string) => Promise<string | undefined>
  readonly want: Outcome
}
const TWO_SNAPSHOTS = [[acct('a', 0), acct('b', 1)], [acct('c', 2)]] as const

const CASES: Readonly<Record<string, Case>> = {
  'the current snapshot': {
    make: async (d) => (await accountsTable(d, TWO_SNAPSHOTS), undefined),
    want: { logged: [`a@${T0}`, `b@${T0 + 86_400_000}`, `c@${T0 + 2 * 86_400_000}`] },
  },
  'an older snapshot by id': {
    make: async (d) => (await accountsTable(d, TWO_SNAPSHOTS)).ids[0],
    want: { logged: [`a@${T0}`, `b@${T0 + 86_400_000}`] },
  },
  'a column renamed since the files were written (the row schema names the new name)': {
    make: async (d) => {
      const { store, key } = await accountsTable(d, [[{ ...acct('a', 0), account_id: 'a' }]])
      const meta = await readJson(store, key)
      // The table's key column was `id` when written; ALTER TABLE renamed it to account_id.
      const written = { ...schema, fields: schema.fields.map((f) => (f.id === 1 ? { ...f, name: 'id' } : f)) }
      const fields = schema.fields
      await writeJson(store, key, {
        ...meta,
        schemas: [written, { ...schema, 'schema-id': 1, fields }],
        'current-schema-id': 1,
        snapshots: (meta.snapshots as Json[]).map((s) => ({ ...s, 'schema-id': 1 })),
      })
      return undefined
    },
    want: { logged: [`a@${T0}`] },
  },
  'a snapshot summary claiming far more rows than the table holds (a trillion)': {
    make: async (d) => {
      const { store, key } = await accountsTable(d, [[acct('a', 0)]])
      const meta = await readJson(store, key)
      const snapshots = (meta.snapshots as Json[]).map((s) => ({
        ...s,
        summary: { ...(s.summary as Json), 'total-records': '999999999999' },
      }))
      await writeJson(store, key, { ...meta, snapshots })
      return undefined
    },
    want: { logged: [`a@${T0}`] },
  },
  'a snapshot without data files (every row deleted)': {
    make: async (d) => (await accountsTable(d, [[]]), undefined),
    want: { refused: /nothing to ingest: the snapshot at .*v2\.metadata\.json holds no rows; nothing was appended/ },
  },
  'no table at the location': { make: async () => undefined, want: { refused: /no Iceberg table at warehouse\/db\/accounts/ } },
  'a table without a snapshot yet': {
    make: async (d) => (await accountsTable(d, []), undefined),
    want: { refused: /Iceberg table .*warehouse\/db\/accounts\/metadata\/v1\.metadata\.json has no snapshot yet/ },
  },
  'a snapshot id that does not exist': {
    make: async (d) => (await accountsTable(d, TWO_SNAPSHOTS), '42'),
    want: { refused: /Iceberg table .* has no snapshot 42 \(latest: -?\d+, -?\d+\)/ },
  },
  'a snapshot id that is not a number': {
    make: async (d) => (await accountsTable(d, TWO_SNAPSHOTS), 'latest'),
    want: { refused: /--snapshot latest: an Iceberg snapshot id is an integer/, code: 2 },
  },
  'metadata that is not JSON': {
    make: async (d) => {
      const { store, key } = await accountsTable(d, TWO_SNAPSHOTS)
      await store.put(key, new TextEncoder().encode('{"format-version": 2, '))
      return undefined
    },
    want: { refused: /metadata\/v3\.metadata\.json is not Iceberg format-v2 table metadata/ },
  },
  'a manifest list that is missing': {
    make: async (d) => {
      const { store, key } = await accountsTable(d, TWO_SNAPSHOTS)
      const current = (await readJson(store, key)).snapshots as Json[]
      await store.delete(String(current.at(-1)!['manifest-list']).replace(/^file:\/\/.*?\/objects\//, ''))
      return undefined
    },
    want: { refused: /: manifest list .*snap-.*\.avro is missing/ },
  },
  'live merge-on-read delete files (v2 position or equality deletes)': {
    make: async (d) => {
      const { store, key } = await accountsTable(d, TWO_SNAPSHOTS)
      const meta = await readJson(store, key)
      const current = (meta.snapshots as Json[]).at(-1)!
      const listUri = String(current['manifest-list'])
      const listKey = listUri.replace(/^file:\/\/.*?\/objects\//, '')
      const manifests = decodeManifestList((await store.get(listKey))!)
      const deletes = {
        ...manifests[0]!,
        manifestPath: `${listUri.slice(0, listUri.lastIndexOf('/'))}/deletes-m0.avro`,
        content: 1,
        addedFilesCount: 1,
        existingFilesCount: 0,
      }
      await store.put(
        listKey,
        encodeManifestList([...manifests, deletes], {
          snapshotId: BigInt(String(current['snapshot-id'])),
          parentSnapshotId: undefined,
          sequenceNumber: 3,
        }),
      )
      return undefined
    },
    want: { refused: /snapshot -?\d+: merge-on-read deletes are not supported: compact the table first/ },
  },
}

void describe('kfs ingest: every kind of bad Iceberg table', () => {
  for (const [what, { make, want }] of Object.entries(CASES)) {
    void it(what, async () => {
      const dataDir = dataDirIn(dir, what)
      const snapshot = await make(dataDir)
      await checkIngest('accounts_iceberg', snapshot, dataDir, want, what)
    })
  }
})
