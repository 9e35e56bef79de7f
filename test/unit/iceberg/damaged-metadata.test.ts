/**
 * An offline table's newest metadata JSON that parses but is not valid format-v2 metadata — not an
 * object, another format version, required fields missing or of another type, a current snapshot
 * id naming no snapshot, a snapshot without its manifest list — is refused naming the file and
 * what is wrong, by every path replay and the engine take (the archive's ends and rows, the
 * snapshots list verify-parity cuts at, a commit). Before, most crashed with a TypeError, and a
 * file without its snapshots read as an empty table ("the archive holds no records").
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { archiveRows as rows } from '../../support/archive-rows.ts'

const TOPIC = 'purchases'
type Meta = Record<string, unknown>
type Snap = Record<string, unknown>

/** An archive of two commits whose newest metadata file is replaced by `edit` of it; the key of that file. */
async function archiveWithMetadata(
  edit: (meta: Meta) => unknown,
): Promise<{ sink: IcebergOfflineSink; table: string; file: string }> {
  const store = new MemoryObjectStore()
  const writer = new IcebergOfflineSink(store, { parquetWorker: false })
  const table = writer.tableId({ kind: 'archive', topic: TOPIC })
  await writer.commit(table, [await writer.stageArchiveRows(TOPIC, rows(0, 10))], { 'g/purchases/0': 1 }, {})
  await writer.commit(table, [await writer.stageArchiveRows(TOPIC, rows(10, 20))], { 'g/purchases/0': 2 }, {})
  const key = `${table}/metadata/v3.metadata.json`
  // Ids as strings, so JSON.parse keeps them exact (the spec allows both spellings of a long).
  const text = new TextDecoder().decode(await store.get(key)).replace(/("(?:current-|parent-)?snapshot-id"): (\d+)/g, '$1: "$2"')
  await store.put(key, new TextEncoder().encode(JSON.stringify(edit(JSON.parse(text) as Meta))))
  return { sink: new IcebergOfflineSink(store, { parquetWorker: false }), table, file: store.uriOf(key) }
}

const snapshotsOf = (m: Meta): Snap[] => m.snapshots as Snap[]
const withSnapshots = (m: Meta, f: (s: Snap) => Snap): Meta => ({ ...m, snapshots: snapshotsOf(m).map(f) })
const without = (o: Record<string, unknown>, key: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([k]) => k !== key))

const DAMAGED: readonly [string, (m: Meta) => unknown, RegExp][] = [
  ['null', () => null, /is not a JSON object/],
  ['an array', () => [], /is not a JSON object/],
  ['a bare format-version', () => ({ 'format-version': 2 }), /schemas is not a list of schemas/],
  ['no schemas', (m) => without(m, 'schemas'), /schemas is not a list of schemas/],
  ['current-schema-id a string', (m) => ({ ...m, 'current-schema-id': 'zero' }), /current-schema-id is not an integer/],
  ['partition-specs an object', (m) => ({ ...m, 'partition-specs': {} }), /partition-specs is not a list of specs/],
  ['no default-spec-id', (m) => without(m, 'default-spec-id'), /default-spec-id is not an integer/],
  ['properties a list', (m) => ({ ...m, properties: [] }), /properties is not an object/],
  ['snapshots a string', (m) => ({ ...m, snapshots: 'x' }), /snapshots is not a list/],
  ['a snapshot that is a number', (m) => ({ ...m, snapshots: [1] }), /snapshots\[0\] is not an object/],
  [
    'a snapshot id that is no integer',
    (m) => withSnapshots(m, (s) => ({ ...s, 'snapshot-id': 'abc' })),
    /snapshots\[0\] has no integer snapshot-id/,
  ],
  [
    'a snapshot without its manifest list',
    (m) => withSnapshots(m, (s) => without(s, 'manifest-list')),
    /snapshot \d+ has no manifest-list/,
  ],
  [
    'a summary that is a string',
    (m) => withSnapshots(m, (s) => ({ ...s, summary: 'append' })),
    /snapshot \d+ has a summary that is not an object/,
  ],
  [
    'current-snapshot-id naming no snapshot',
    (m) => ({ ...m, 'current-snapshot-id': 42 }),
    /current-snapshot-id 42 names no snapshot of the table/,
  ],
  ['current-snapshot-id a word', (m) => ({ ...m, 'current-snapshot-id': 'latest' }), /current-snapshot-id is not an integer/],
  ['refs a list', (m) => ({ ...m, refs: [] }), /refs is not a map of snapshot references/],
  ['snapshot-log an object', (m) => ({ ...m, 'snapshot-log': {} }), /snapshot-log is not a list of entries/],
  ['metadata-log entries strings', (m) => ({ ...m, 'metadata-log': ['v1'] }), /metadata-log is not a list of entries/],
  [
    'a snapshot-log entry without its id',
    (m) => ({ ...m, 'snapshot-log': [{ 'timestamp-ms': 1 }] }),
    /snapshot-log has an entry without an integer snapshot-id/,
  ],
]

/** What each path replay or the engine takes ends with: undefined when it succeeds. */
function pathsOf(sink: IcebergOfflineSink, table: string): [string, () => Promise<unknown>][] {
  return [
    ['archiveEnd', () => sink.archiveEnd(TOPIC)],
    ['snapshots', () => sink.snapshots(table)],
    [
      'readArchive',
      async () => {
        for await (const _ of sink.readArchive(TOPIC, 0));
      },
    ],
    ['commit', async () => sink.commit(table, [await sink.stageArchiveRows(TOPIC, rows(20, 30))], { 'g/purchases/0': 3 }, {})],
  ]
}

async function failureOf(run: () => Promise<unknown>): Promise<unknown> {
  return run().then(
    () => undefined,
    (err: unknown) => err,
  )
}

void describe('offline tables > damaged table metadata', () => {
  void test('metadata that parses but is not valid v2: DATA_CORRUPT naming the file and the field, on every path', async () => {
    for (const [what, edit, detail] of DAMAGED) {
      const { sink, table, file } = await archiveWithMetadata(edit)
      for (const [path, run] of pathsOf(sink, table)) {
        const err = await failureOf(run)
        assert.ok(err instanceof FeatureStoreError, `${what}, ${path}: ${err === undefined ? 'succeeded' : String(err)}`)
        assert.equal(err.code, 'DATA_CORRUPT', `${what}, ${path}: ${err.message}`)
        assert.ok(err.message.startsWith(`table metadata ${file} is `), `${what}, ${path}: ${err.message}`)
        assert.match(err.message, detail, `${what}, ${path}`)
        assert.equal(err.context?.file, file, `${what}, ${path}`)
      }
    }
  })

  void test('another format version (older or newer) is refused as such, naming the file and the version', async () => {
    for (const [version, shown] of [
      [1, 'format-version 1'],
      [3, 'format-version 3'],
      ['2', 'format-version "2"'],
      [undefined, 'no format-version'],
    ] as const) {
      const { sink, table, file } = await archiveWithMetadata((m) => ({ ...m, 'format-version': version }))
      for (const [path, run] of pathsOf(sink, table)) {
        const err = await failureOf(run)
        assert.ok(err instanceof FeatureStoreError, `${shown}, ${path}: ${String(err)}`)
        assert.equal(err.code, 'SINK_REJECTED', `${shown}, ${path}`)
        assert.equal(
          err.message,
          `not Iceberg format-v2 table metadata ${file} (${shown}); kfs reads and writes format v2 only`,
          `${shown}, ${path}`,
        )
      }
    }
  })

  void test('a manifest list outside the store is refused naming it; the untouched metadata still reads', async () => {
    const { sink, table } = await archiveWithMetadata((m) =>
      withSnapshots(m, (s) => ({ ...s, 'manifest-list': 'file:///elsewhere/snap.avro' })),
    )
    const err = await failureOf(() => sink.archiveEnd(TOPIC))
    assert.ok(err instanceof FeatureStoreError && err.code === 'SINK_REJECTED', String(err))
    assert.match(
      err.message,
      /^table warehouse\/archive\/purchases: file:\/\/\/elsewhere\/snap\.avro, a file its metadata or a checkpoint record names, lies neither under the table's location here \(memory:\/\/kfs\/warehouse\/archive\/purchases\)/,
    )
    assert.equal((await sink.snapshots(table)).length, 2, 'the snapshots list needs no manifest')

    const intact = await archiveWithMetadata((m) => m)
    for (const [path, run] of pathsOf(intact.sink, intact.table)) assert.equal(await failureOf(run), undefined, path)
    assert.deepEqual((await intact.sink.archiveEnd(TOPIC)).nextOffsets, { 0: '30' }, 'the commit landed after the two before')
  })
})
