/**
 * `kfs ingest` of an Iceberg table whose object store fails one read: each object the reader
 * fetches (the metadata, the manifest list, each manifest, each data file) — in turn, for the first
 * ingest of the table and for its newer snapshot after the older one was ingested — is answered
 * every bad way a store or a damaged table answers: the read throws (a network error), the object
 * is gone, its bytes are cut short, or one of them is flipped. The run must fail with an error
 * naming the table (or the store's own error), never a TypeError or a RangeError; append nothing
 * (the snapshot is read whole before anything is appended), so what was ingested before stays as
 * it was; and the next run, the store healthy again, must leave the log a clean run leaves.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { createIcebergTableSnapshotReader } from '../../../adapters/offline/iceberg/table-snapshot-reader.ts'
import { createParquetCodec } from '../../../adapters/offline/parquet/parquet-codec.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { FeatureStoreError, InvariantViolation } from '../../../core/errors.ts'
import { ingestSnapshot } from '../../../ingest/ingest-snapshot.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'
import { ACCOUNTS_TABLE, writeAccountsTable } from './accounts-iceberg.ts'
import { accountsIceberg } from './corpus-sources.ts'
import { decodedPartitions } from './memory-snapshots.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-iceberg-read-faults-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const source = accountsIceberg
const location = { format: 'iceberg' as const, table: ACCOUNTS_TABLE }
const parquet = createParquetCodec({ worker: false })
const DAY = 86_400_000
const T0 = Date.UTC(2024, 0, 15)

const acct = (id: number, day: number, balance: number) => ({
  account_id: `a${id}`,
  updated_at: T0 + day * DAY + id,
  balance,
  tier: id % 2 ? 'gold' : null,
  visits: id,
})

/** Two snapshots of the table, each of two days' data files, in `root`'s object store: the older one's id. */
async function accountsTable(root: string): Promise<string> {
  const { ids } = await writeAccountsTable(root, [
    Array.from({ length: 12 }, (_, i) => acct(i, i % 2, i)),
    Array.from({ length: 12 }, (_, i) => acct(i + 6, 2 + (i % 2), i + 0.5)),
  ])
  return ids[0]!
}

// One table for every case (snapshot ids are random: a table per case would log other ids).
const template = join(dir, 'template')
const older = await accountsTable(template)

/** How one read goes wrong. */
const FAULTS: Readonly<Record<string, (key: string, bytes: Uint8Array | undefined) => Uint8Array | undefined>> = {
  'the read throws': () => {
    throw new Error('injected: connection reset')
  },
  'the object is gone': () => undefined,
  'its bytes are cut short': (_k, b) => b?.subarray(0, Math.floor(b.length / 2)),
  'a byte in its middle flipped': (_k, b) => {
    if (b === undefined) return b
    const c = Uint8Array.from(b)
    c[c.length >> 1]! ^= 0xff
    return c
  },
}

/** `store` with its `n`th get answered as `fault` says (none: every read as it is); the keys read, in order. */
function faultyStore(
  store: ObjectStore,
  n: number | undefined,
  fault?: (key: string, bytes: Uint8Array | undefined) => Uint8Array | undefined,
): { store: ObjectStore; reads: string[] } {
  const reads: string[] = []
  return {
    reads,
    store: {
      ...forwardingStore(store),
      get: async (key) => {
        const bytes = await store.get(key)
        return reads.push(key) - 1 === n && fault !== undefined ? fault(key, bytes) : bytes
      },
    },
  }
}

async function harness(name: string) {
  const root = join(dir, name)
  // The table is only read: every case reads the one table (its metadata names its files by absolute URI).
  const store = new LocalObjectStore(join(template, 'objects'))
  const log = new EmbeddedEventLog({ dir: join(root, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(root, 'schemas') })
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const decoder = createDecoder({ registry, readerSchema: source.schema })
  const run = (on: ObjectStore, at?: string) =>
    ingestSnapshot(
      { log, reader: createIcebergTableSnapshotReader({ store: on, parquet }), encoder, decoder },
      { source, ...(at === undefined ? {} : { at }), chunkRecords: 5 },
    )
  const partitions = async (): Promise<string[][]> =>
    (await log.endOffsets(source.topic).catch(() => [])).length === 0
      ? []
      : decodedPartitions(log, decoder, source.topic, { partitions: source.partitions, offsets: true })
  return { store, log, run, partitions }
}

/** Rejections the user can act on: the store's own error, or kfs's naming the table or its file. */
const isClear = (err: unknown): boolean =>
  (err instanceof Error && err.message.startsWith('injected:')) ||
  (err instanceof FeatureStoreError && !(err instanceof InvariantViolation) && err.message.includes(location.table))

void describe('kfs ingest of an Iceberg table: one read of the store fails, every way', async () => {
  for (const scenario of ['the first ingest', 'the newer snapshot after the older one'] as const) {
    // A clean run's reads and the log it leaves.
    const clean = await harness(`clean-${scenario.replace(/\W+/g, '-')}`)
    if (scenario !== 'the first ingest') await clean.run(clean.store, older)
    const before = await clean.partitions()
    const listing = faultyStore(clean.store, undefined)
    await clean.run(listing.store)
    const cleanLog = await clean.partitions()
    await clean.log.close()

    void it(`${scenario}: each of its ${listing.reads.length} reads failed every way, then a clean re-run`, async () => {
      assert.ok(listing.reads.some((k) => k.endsWith('.parquet')) && listing.reads.some((k) => k.endsWith('.avro')))
      const problems: string[] = []
      let cases = 0
      for (const [n, key] of listing.reads.entries()) {
        for (const [how, fault] of Object.entries(FAULTS)) {
          const what = `read ${n} (${key.slice(key.lastIndexOf('/') + 1)}): ${how}`
          const h = await harness(`${scenario.replace(/\W+/g, '-')}-${cases++}`)
          if (scenario !== 'the first ingest') await h.run(h.store, older)
          const faulted = await h.run(faultyStore(h.store, n, fault).store).then(
            () => undefined,
            (err: unknown) => err,
          )
          // A flipped byte may fall where it changes nothing a reader checks (a value, padding): then the run may succeed.
          if (faulted === undefined && how !== 'a byte in its middle flipped') problems.push(`${what}: the run succeeded`)
          if (faulted !== undefined) {
            if (!isClear(faulted))
              problems.push(
                `${what}: unclear failure ${faulted instanceof Error ? `${faulted.name}: ${faulted.message}` : String(faulted)}`,
              )
            // Its topic may be made (before the table is read), empty: no record may be added.
            if (JSON.stringify((await h.partitions()).flat()) !== JSON.stringify(before.flat()))
              problems.push(`${what}: the failed run changed the log`)
          }
          const rerun = await h.run(h.store).catch((err: unknown) => err as Error)
          if (rerun instanceof Error) problems.push(`${what}: the clean re-run failed: ${rerun.message}`)
          else if (faulted === undefined && JSON.stringify(await h.partitions()) !== JSON.stringify(cleanLog))
            problems.push(`${what}: the run succeeded, logging other rows than a clean run`)
          else if (faulted !== undefined && JSON.stringify(await h.partitions()) !== JSON.stringify(cleanLog))
            problems.push(`${what}: the re-run's log is not a clean run's`)
          await h.log.close()
        }
      }
      assert.deepEqual(problems.slice(0, 12), [], `${problems.length} of ${cases} cases went wrong`)
    })
  }
})
