/**
 * `kfs ingest` of an Iceberg table source on the audit corpus of bad tables (docs/design.md §11),
 * the table written into the embedded object store by kfs's own Iceberg writer (day-partitioned)
 * and then edited as foreign writers leave it: refused with one line naming the table (exit 1,
 * nothing appended) — no table, no snapshot yet, a snapshot without rows, metadata that is not
 * Iceberg's, a snapshot id that does not exist, live merge-on-read delete files, a data file
 * missing or cut short, a column whose type the snapshot's schema changed — or ingested, the good
 * rows once and the bad ones rejected with their reasons (no key, no event time): the
 * current snapshot, an older one by id, a renamed column, one whose summary claims a trillion
 * rows (the planner was sized for them up front: a crash with a stack trace). A snapshot id that
 * is not one is a usage error (exit 2).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import type { IcebergSchema } from '../../../adapters/offline/iceberg/index.ts'
import { parseJson, stringifyJson } from '../../../adapters/offline/iceberg/lossless-json.ts'
import { decodeManifestList, encodeManifestList } from '../../../adapters/offline/iceberg/manifests.ts'
import { ACCOUNTS_TABLE, accountsIcebergSchema, writeAccountsTable } from '../ingest/accounts-iceberg.ts'
import { checkIngest, dataDirIn, type Outcome } from './ingest-corpus.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-bad-iceberg-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const T0 = Date.UTC(2024, 0, 15)
const schema = accountsIcebergSchema
type Json = Record<string, unknown>
const acct = (id: string, day: number) => ({
  account_id: id,
  updated_at: T0 + day * 86_400_000,
  balance: 1.5,
  tier: `t-${id}`,
  visits: day,
})

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
    make: async (d) => (await writeAccountsTable(d, TWO_SNAPSHOTS), undefined),
    want: { logged: [`a@${T0}`, `b@${T0 + 86_400_000}`, `c@${T0 + 2 * 86_400_000}`] },
  },
  'an older snapshot by id': {
    make: async (d) => (await writeAccountsTable(d, TWO_SNAPSHOTS)).ids[0],
    want: { logged: [`a@${T0}`, `b@${T0 + 86_400_000}`] },
  },
  'a column renamed since the files were written (the row schema names the new name)': {
    make: async (d) => {
      const { store, key } = await writeAccountsTable(d, [[{ ...acct('a', 0), account_id: 'a' }]])
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
      const { store, key } = await writeAccountsTable(d, [[acct('a', 0)]])
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
  'bad rows (no key, an empty one, no event time, a time past year 9999) rejected; NaN, -Infinity, -0, a long past 2^53 and times before 1970 logged once':
    {
      make: async (d) => {
        const optional: IcebergSchema = { ...schema, fields: schema.fields.map((f) => ({ ...f, required: false })) }
        await writeAccountsTable(
          d,
          [
            [
              { ...acct('nullkey', 0), account_id: null },
              { ...acct('', 0) },
              { ...acct('notime', 0), updated_at: null },
              { ...acct('nan', 0), balance: Number.NaN },
              { ...acct('inf', 0), balance: -Infinity },
              { ...acct('negz', 0), balance: -0, visits: 2n ** 53n + 1n },
              { ...acct('old', 0), updated_at: -86_400_000 * 365 },
              { ...acct('far', 0), updated_at: 8_000_000_000_000_000 },
            ],
          ],
          optional,
        )
        return undefined
      },
      // Rows in file order: the writer groups them by day, the day without an event time after the first.
      want: {
        logged: [`nan@${T0}`, `inf@${T0}`, `negz@${T0}`, `old@${-86_400_000 * 365}`],
        rejected: ['1:missing_key', '2:missing_key', '6:missing_event_time', '8:invalid_event_time'],
        detail: /primary-key column account_id is null/,
      },
    },
  'a data file that is missing': {
    make: async (d) => {
      const { store } = await writeAccountsTable(d, TWO_SNAPSHOTS)
      const keys = await store.list(`${ACCOUNTS_TABLE}/data/`)
      await store.delete(keys[0]!)
      return undefined
    },
    want: { refused: /metadata\/v3\.metadata\.json: data file .*\/data\/updated_at_day=.*\.parquet is missing$/ },
  },
  'a data file cut short': {
    make: async (d) => {
      const { store } = await writeAccountsTable(d, TWO_SNAPSHOTS)
      const keys = await store.list(`${ACCOUNTS_TABLE}/data/`)
      const bytes = (await store.get(keys[0]!))!
      await store.put(keys[0]!, bytes.subarray(0, bytes.length - 20))
      return undefined
    },
    want: { refused: /: data file .*\.parquet is not a Parquet file kfs can read \(/ },
  },
  'a column of another type in the schema of the snapshot ingested (double, then string)': {
    make: async (d) => {
      const { store, key } = await writeAccountsTable(d, TWO_SNAPSHOTS)
      const meta = await readJson(store, key)
      const changed = { ...schema, 'schema-id': 1, fields: schema.fields.map((f) => (f.id === 3 ? { ...f, type: 'string' } : f)) }
      await writeJson(store, key, {
        ...meta,
        schemas: [schema, changed],
        'current-schema-id': 1,
        snapshots: (meta.snapshots as Json[]).map((s, i) => (i === 1 ? { ...s, 'schema-id': 1 } : s)),
      })
      return undefined
    },
    want: { refused: /does not have the source's row schema: column balance is string, declared double; nothing was appended/ },
  },
  'a snapshot without data files (every row deleted)': {
    make: async (d) => (await writeAccountsTable(d, [[]]), undefined),
    want: { refused: /nothing to ingest: the snapshot at .*v2\.metadata\.json holds no rows; nothing was appended/ },
  },
  'no table at the location': { make: async () => undefined, want: { refused: /no Iceberg table at warehouse\/db\/accounts/ } },
  'a table without a snapshot yet': {
    make: async (d) => (await writeAccountsTable(d, []), undefined),
    want: { refused: /Iceberg table .*warehouse\/db\/accounts\/metadata\/v1\.metadata\.json has no snapshot yet/ },
  },
  'a snapshot id that does not exist': {
    make: async (d) => (await writeAccountsTable(d, TWO_SNAPSHOTS), '42'),
    want: { refused: /Iceberg table .* has no snapshot 42 \(latest: -?\d+, -?\d+\)/ },
  },
  'a snapshot id that is not a number': {
    make: async (d) => (await writeAccountsTable(d, TWO_SNAPSHOTS), 'latest'),
    want: { refused: /--snapshot latest: an Iceberg snapshot id is an integer/, code: 2 },
  },
  'metadata that is not JSON': {
    make: async (d) => {
      const { store, key } = await writeAccountsTable(d, TWO_SNAPSHOTS)
      await store.put(key, new TextEncoder().encode('{"format-version": 2, '))
      return undefined
    },
    want: { refused: /metadata\/v3\.metadata\.json is not Iceberg format-v2 table metadata/ },
  },
  'a manifest list that is missing': {
    make: async (d) => {
      const { store, key } = await writeAccountsTable(d, TWO_SNAPSHOTS)
      const current = (await readJson(store, key)).snapshots as Json[]
      await store.delete(String(current.at(-1)!['manifest-list']).replace(/^file:\/\/.*?\/objects\//, ''))
      return undefined
    },
    want: { refused: /: manifest list .*snap-.*\.avro is missing/ },
  },
  'live merge-on-read delete files (v2 position or equality deletes)': {
    make: async (d) => {
      const { store, key } = await writeAccountsTable(d, TWO_SNAPSHOTS)
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
