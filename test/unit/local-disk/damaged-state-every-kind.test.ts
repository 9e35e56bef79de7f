/**
 * Every kind of state file the embedded defaults keep under KFS_DATA_DIR × every kind of damage
 * (garbage bytes, cut short, emptied, a directory where the file belongs): reopening through the
 * adapter a user's command opens fails with a FeatureStoreError that is not retriable and names the
 * file — never a bare SyntaxError/EISDIR, never a retry loop on damage that cannot pass — and no
 * other file is deleted or changed by the failed read.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { ERROR_CODES } from '../../../core/error-codes.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { movePendingRecords, pendingText } from '../../../adapters/event-log/embedded/pending-records.ts'
import { silentLogger } from '../../../core/logger.ts'
import { EmbeddedLogReader } from '../../../adapters/event-log/embedded/embedded-log-reader.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { LocalObjectStore } from '../../../adapters/object-store/local/local-object-store.ts'
import { featureView } from '../../../features/index.ts'
import { collectDefinitions, createRegistry } from '../../../registry/index.ts'
import { clicks, user, viewBase } from '../define/fixtures.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import type { AvroSchema } from '../../../ports/schema-registry.ts'
import { unlockedStoreFiles } from '../../support/unlocked-store-files.ts'
import { feature, row, view } from '../../contracts/online-store.ts'

const SCHEMA: AvroSchema = { type: 'record', name: 'E', fields: [{ name: 'id', type: 'string' }] }
const clock = { nowMs: () => 1_000_000, sleep: async () => {} }
const V = view('persisted', [feature('x', 'double')], { ttlMs: 10_000 })

/** The state every kind of file below is part of, written through the adapters. */
async function writeState(dir: string): Promise<void> {
  const log = new EmbeddedEventLog({ dir: join(dir, 'log') })
  await log.createTopic('t', 1)
  await log.produce('t', [{ key: 'a', value: Buffer.from('1') }])
  const consumer = log.consumer({ groupId: 'g', topics: ['t'] })
  await consumer.run({ eachBatch: async () => {} })
  await consumer.commit([{ topic: 't', partition: 0, offset: '1' }])
  await log.close()
  await new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') }).register('t-value', SCHEMA)
  const store = await EmbeddedOnlineStore.open({ clock, path: join(dir, 'online.json') })
  await store.writeRows(V, [row('a', 999_000, [1.5])])
  await store.close()
  await createRegistry({ store: new LocalObjectStore(join(dir, 'objects')), clock }).apply(definitions())
  // A store with a journal beside its file, as a killed writer leaves it (no close folds it in).
  mkdirSync(join(dir, 'journaled'))
  const journaled = await EmbeddedOnlineStore.open({
    clock,
    path: join(dir, 'journaled', 'online.json'),
    files: unlockedStoreFiles,
  })
  await journaled.writeRows(V, [row('a', 999_000, [1.5])])
  await journaled.sync()
  await journaled.writeRows(V, [row('b', 999_000, [2.5])])
  await journaled.sync()
}

/** Opens the journaled store as its next writer does; left open (a close would fold the journal away). */
async function readJournaled(dir: string): Promise<unknown> {
  await EmbeddedOnlineStore.open({ clock, path: join(dir, 'journaled', 'online.json'), files: unlockedStoreFiles })
  return undefined
}

interface Kind {
  readonly name: string
  /** The file, relative to the data dir (a function: some names are found on disk). */
  readonly file: (dir: string) => string
  /** What a user's command reads of it, through the adapter. */
  readonly read: (dir: string) => Promise<unknown>
  /** Damages this file is documented to recover from: the read then returns what it did undamaged. */
  readonly recovers?: readonly string[]
  /** Recovered damages that set the file aside as `<file>.damaged` (kept, never dropped). */
  readonly setAside?: readonly string[]
  /** Damages this kind is not put through, and why (the table says so rather than skipping silently). */
  readonly notApplicable?: readonly string[]
  /** What the error names instead of the file's path (a registry object: its key in the store). */
  readonly named?: string
  /** The error may name the file's directory instead (a segment missing records: its partition, restored whole). */
  readonly namedByDir?: boolean
  /** Writes the file where the state above does not leave one (a commit journal, present only mid-commit). */
  readonly place?: (path: string) => void
}

/** As `kfs serve` reads the log beside its writer (nothing written), then as its owner opens it. */
async function readLog(dir: string): Promise<unknown> {
  const reader = new EmbeddedLogReader({ dir: join(dir, 'log') })
  const beside = await (async () => {
    try {
      return [await reader.endOffsets('t'), await reader.committedOffsets('g', 't')]
    } finally {
      await reader.close().catch(() => {})
    }
  })()
  const log = new EmbeddedEventLog({ dir: join(dir, 'log') })
  try {
    return [beside, await log.endOffsets('t'), await log.committedOffsets('g', 't')]
  } finally {
    await log.close().catch(() => {})
  }
}

async function readSchemas(dir: string): Promise<unknown> {
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  return [await registry.getById(1), await registry.latest('t-value')]
}

async function readOnline(dir: string): Promise<unknown> {
  const store = await EmbeddedOnlineStore.open({ clock, path: join(dir, 'online.json') })
  await store.close()
  return undefined
}

const only = (sub: string, prefix: string) => (dir: string) => {
  const names = readdirSync(join(dir, sub)).filter((n) => n.startsWith(prefix) && !n.endsWith('.tmp'))
  assert.equal(names.length, 1, `${sub}: ${names.join(', ')}`)
  return join(sub, names[0]!)
}

const definitions = () =>
  collectDefinitions({ view: featureView({ ...viewBase, aggregations: [{ op: 'count', windows: ['1h'] }] }), clicks, user })

async function readRegistry(dir: string): Promise<unknown> {
  return createRegistry({ store: new LocalObjectStore(join(dir, 'objects')), clock }).snapshot()
}

// A directory where an object's file belongs is, to an object store, a prefix holding other keys
// with the object itself absent (S3 has both): not damage the store could tell from a deletion.
const OBJECT_STORE_DIRECTORY = ['a directory in its place']

const PENDING_FILE = 'log.pending/2147483646-1-1.ready.jsonl'

/** As `kfs run` moves what kfs serve handed over into the log it opens (main/runtime.ts). */
async function movePending(dir: string): Promise<unknown> {
  const log = new EmbeddedEventLog({ dir: join(dir, 'log') })
  try {
    await movePendingRecords(join(dir, 'log'), log, silentLogger)
  } finally {
    await log.close()
  }
  return undefined
}

const STALE_LOCK = ['garbage bytes', 'cut short', 'emptied']
/** A LOCK of a process that no longer runs (no pid is this high). */
const placeStaleLock = (path: string) => writeFileSync(path, '2147483646 1\n')

let registrations = 0
/** A registration of a version not registered before: it takes register.lock. */
async function registerAgain(dir: string): Promise<unknown> {
  const field = { name: `n${++registrations}`, type: ['null', 'string'], default: null }
  const next = { type: 'record', name: 'E', fields: [{ name: 'id', type: 'string' }, field] }
  await new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') }).register('t-value', next)
  return undefined
}

const KINDS: readonly Kind[] = [
  {
    name: 'registry view record',
    file: () => 'objects/registry/views/user_stats/v1.json',
    read: readRegistry,
    named: 'registry/views/user_stats/v1.json',
    notApplicable: OBJECT_STORE_DIRECTORY,
  },
  {
    name: 'registry entity record',
    file: () => 'objects/registry/entities/user.json',
    read: readRegistry,
    named: 'registry/entities/user.json',
    notApplicable: OBJECT_STORE_DIRECTORY,
  },
  { name: 'event log topic metadata', file: () => 'log/topics/t/topic.json', read: readLog },
  { name: 'event log group offsets', file: only('log/groups', ''), read: readLog },
  { name: 'schema registry id file', file: () => 'schemas/ids/1.json', read: readSchemas },
  { name: 'schema registry subject file', file: () => 'schemas/subjects/t-value.json', read: readSchemas },
  { name: 'online store file', file: () => 'online.json', read: readOnline },
  {
    name: 'online store journal',
    file: only('journaled', 'online.json.journal-'),
    // Its two appends were acknowledged: the recorded end (journal-acked-end.ts) tells any cut or
    // overwrite of them from a torn final append. Before, each of these damages silently dropped rows.
    read: readJournaled,
  },
  ...([0, 1] as const).map((slot) => ({
    name: `online store acknowledged-end slot ${slot}`,
    file: () => `journaled/online.json.acked-${slot}`,
    read: readJournaled,
    // One slot that does not read (a torn write) leaves the other's record, which claims less — never
    // more — so the journal reads whole; a directory is no torn write.
    recovers: ['garbage bytes', 'cut short', 'emptied'],
  })),
  { name: 'event log segment', file: () => 'log/topics/t/0/00000000000000000000.log', read: readLog, namedByDir: true },
  {
    name: 'event log acknowledged end',
    file: () => 'log/topics/t/0/acked-end',
    read: readLog,
    // A 12-byte file failing its CRC claims nothing (adapters/event-log/embedded/acked-end.ts).
    recovers: ['garbage bytes', 'cut short', 'emptied'],
  },
  // A lock's text no live process holds is a stale lock, taken over (adapters/local-disk/directory-lock.ts).
  { name: 'event log directory lock', file: () => 'log/LOCK', read: readLog, place: placeStaleLock, recovers: STALE_LOCK },
  {
    name: 'schema registry register lock',
    file: () => 'schemas/register.lock',
    read: registerAgain,
    place: placeStaleLock,
    recovers: STALE_LOCK,
  },
  {
    // Records kfs serve hands over to the log's owner: a file that does not read is set aside as
    // `.damaged` and logged, never dropped (a ready file cut short too: it was renamed after its last append).
    name: 'event log pending hand-over file',
    file: () => PENDING_FILE,
    read: movePending,
    place: (path) => {
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, pendingText('t', [{ key: 'p', value: Buffer.from('2') }], 1_000))
    },
    recovers: ['garbage bytes', 'cut short', 'emptied', 'a directory in its place'],
    setAside: ['garbage bytes', 'cut short', 'a directory in its place'],
  },
  {
    name: 'event log commit journal',
    file: () => 'log/txn/tx.json',
    read: readLog,
    place: (path) => {
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, JSON.stringify({ partitions: [], offsets: [] }))
    },
  },
]

const DAMAGES: readonly { readonly name: string; readonly apply: (path: string) => void }[] = [
  { name: 'garbage bytes', apply: (p) => writeFileSync(p, Buffer.from([0xff, 0xfe, 0x00, 0x8f, 0x7b, 0x22, 0xc3])) },
  { name: 'cut short', apply: (p) => writeFileSync(p, readFileSync(p).subarray(0, statSync(p).size >> 1)) },
  { name: 'emptied', apply: (p) => writeFileSync(p, '') },
  {
    name: 'a directory in its place',
    apply: (p) => {
      rmSync(p)
      mkdirSync(p)
    },
  },
]

/** Every file under `dir` (but `except`) with its bytes, to show a failed read touched nothing else. */
function snapshot(dir: string, except: string): Map<string, string> {
  const files = new Map<string, string>()
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, name)
    if (path === except || path.startsWith(`${except}/`) || !statSync(path).isFile()) continue
    if (name.endsWith('.lock')) continue
    files.set(relative(dir, path), readFileSync(path).toString('base64'))
  }
  return files
}

void describe('embedded defaults > every kind of state file × every kind of damage', () => {
  for (const kind of KINDS) {
    for (const damage of DAMAGES.filter((d) => kind.notApplicable?.includes(d.name) !== true)) {
      void test(`${kind.name}, ${damage.name}: a non-retriable error naming the file; nothing else touched`, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'kfs-every-damage-'))
        try {
          await writeState(dir)
          const path = join(dir, kind.file(dir))
          kind.place?.(path)
          const undamaged = await kind.read(dir)
          kind.place?.(path)
          damage.apply(path)
          const before = snapshot(dir, path)
          const failure = await kind.read(dir).then(
            (value) => ({ value }),
            (err: unknown) => err,
          )
          if (kind.recovers?.includes(damage.name) === true) {
            assert.deepEqual(failure, { value: undamaged })
            // A recovered read may write (a registration), never delete.
            const after = snapshot(dir, path)
            assert.deepEqual(
              [...before.keys()].filter((name) => !after.has(name)),
              [],
            )
            if (kind.setAside?.includes(damage.name) === true) assert.ok(existsSync(`${path}.damaged`), 'set aside')
            return
          }
          assert.ok(failure instanceof FeatureStoreError, `${String(failure)} ${(failure as Error).stack ?? ''}`)
          const named = kind.named ?? (kind.namedByDir === true ? dirname(path) : path)
          assert.ok(failure.message.includes(named), failure.message)
          assert.ok(!ERROR_CODES[failure.code].retriable, `${failure.code}: ${failure.message}`)
          assert.deepEqual(snapshot(dir, path), before)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      })
    }
  }

  void test('schema registry id file whose schema text is not JSON: the read names the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-every-damage-'))
    try {
      await writeState(dir)
      const path = join(dir, 'schemas/ids/1.json')
      const entry = JSON.parse(readFileSync(path, 'utf8')) as { id: number; schema: string }
      for (const schema of [entry.schema.slice(0, entry.schema.length >> 1), '', 'not json', '{"type":"nope"}']) {
        writeFileSync(path, JSON.stringify({ id: 1, schema }))
        const failure = await readSchemas(dir).then(
          (value) => ({ value }),
          (err: unknown) => err,
        )
        assert.ok(failure instanceof FeatureStoreError, `schema ${JSON.stringify(schema)}: ${String(failure)}`)
        assert.equal(failure.code, 'DATA_CORRUPT', failure.message)
        assert.ok(failure.message.includes(path), failure.message)
        // As `kfs run` meets it: the decoder of a record naming id 1 (magic 0, id 1, the string "a").
        const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
        const decoding = createDecoder({ registry, readerSchema: SCHEMA }).decode(Buffer.from([0, 0, 0, 0, 1, 2, 0x61]))
        await assert.rejects(
          decoding,
          (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT' && err.message.includes(path),
        )
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
