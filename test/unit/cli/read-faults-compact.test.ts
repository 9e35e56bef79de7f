/**
 * `kfs compact` with every read it makes of the object store — the registry, the feature table's
 * metadata, manifests and the data files it rewrites — faulted every way a read fails
 * (test/support/read-command-faults.ts). A passing fault: the clean run's compaction, the same
 * rows in one file. One that outlasts the read bound, or a refusal: exit 1 with one line naming
 * what could not be read, and nothing committed — the table's current snapshot is the one before,
 * with the same rows. Its writes — the data file, the manifests, the manifest list, the table
 * metadata, the version hint — faulted the same ways, and "landed, its answer lost": a passing
 * fault is ridden out (the same output), one that outlasts the bound or a refusal fails naming
 * what was written, and either way the compaction is committed whole or not at all.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { userPurchases } from '../../../examples/with-new-view.ts'
import { COMMAND_READ_ATTEMPTS } from '../../../main/read-retry.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import {
  assertFaultedRun,
  buildReadBaseline,
  type CommandRun,
  FEATURES,
  type ReadBaseline,
  readFaultCases,
  REGISTRY_STEPS,
  runReadCommand,
  stepsOf,
  tableReadSteps,
  WRITE_STEPS,
  writeFaultCases,
  writeStepsOf,
} from '../../support/read-command-faults.ts'

// The feature table's compaction; the archive's has its own fault loop (test/unit/iceberg/archive-compaction-faults.test.ts).
const ARGS = ['compact', ...FEATURES, '--views', 'user_purchases', '--no-archive', '--json']
// After compacting, snapshot expiry reads the feature table again and the topic's archive (the
// baseline's tables are too young to expire anything: it writes nothing).
const ARCHIVE_STEPS = ['archive: version hint', 'archive: table metadata']
const STEPS = [...REGISTRY_STEPS, ...tableReadSteps('feature table'), ...ARCHIVE_STEPS]

interface TableState {
  readonly snapshots: readonly string[]
  readonly rows: string
}

async function tableState(store: ObjectStore): Promise<TableState> {
  const sink = new IcebergOfflineSink(store, { parquetWorker: false })
  const snapshots = (await sink.snapshots(sink.tableId({ kind: 'feature', view: userPurchases }))).map((s) => s.snapshotId)
  const rows = [...(await sink.readFeatureRows(userPurchases))].sort(([a], [b]) => (a < b ? -1 : 1))
  return { snapshots, rows: JSON.stringify(rows) }
}

let baseline: ReadBaseline
let before_: TableState
let clean: CommandRun
let compacted: TableState
before(async () => {
  baseline = await buildReadBaseline()
  const store = new MemoryObjectStore()
  for (const [key, body] of baseline.objects) await store.put(key, body)
  before_ = await tableState(store)
  clean = await runReadCommand(baseline, ARGS)
  compacted = await tableState(clean.storage)
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

void test('compact read faults: the clean run rewrites the files, rows unchanged, and makes every read step', () => {
  assert.equal(clean.code, 0, clean.stderr)
  const [result] = JSON.parse(clean.stdout) as { removedFiles: number; addedFiles: number; status: string }[]
  assert.ok(
    result !== undefined && result.removedFiles > 1 && result.addedFiles === 1 && result.status === 'committed',
    clean.stdout,
  )
  assert.equal(compacted.snapshots.length, before_.snapshots.length + 1, 'one replace snapshot committed')
  assert.equal(compacted.rows, before_.rows, 'the same rows')
  assert.deepEqual(stepsOf(clean.calls), { made: STEPS, uncovered: [] })
})

void test('compact read faults: every read step × every way a read fails', async (t) => {
  for (const { what, fault, expect, times, named } of readFaultCases(STEPS)) {
    await t.test(what, async () => {
      const got = await runReadCommand(baseline, ARGS, fault)
      assertFaultedRun(got, clean, { expect, times, named, command: 'compact' }, what)
      const state = await tableState(got.storage)
      assert.equal(state.rows, before_.rows, `${what}: the table reads the same rows`)
      // Everything (one replace snapshot on top of the ones before) or nothing; the archive is read
      // only once the compaction committed, so a failure there fails the command after it.
      const committed = expect === 'absorbed' || ARCHIVE_STEPS.some((step) => what.startsWith(step)) ? 1 : 0
      assert.equal(state.snapshots.length, before_.snapshots.length + committed, `${what}: snapshots committed`)
      assert.deepEqual(state.snapshots.slice(0, before_.snapshots.length), before_.snapshots, `${what}: the snapshots before`)
    })
  }
})

const WRITES = WRITE_STEPS.map((s) => s.step)

void test('compact write faults: the clean run makes every write step, and no other write', () => {
  assert.deepEqual(writeStepsOf(clean.calls), { made: WRITES, uncovered: [] })
})

void test('compact write faults: every write step × every way a write fails, landed or not', async (t) => {
  for (const { what, fault, expect, times, named } of writeFaultCases(WRITES)) {
    await t.test(what, async () => {
      const got = await runReadCommand(baseline, ARGS, fault)
      // Byte-identical output when absorbed: a metadata write found landed reports "committed" too.
      assertFaultedRun(got, clean, { expect, times, named, command: 'compact' }, what)
      // A write that ran out of its retries inside the commit ends it: the bound, not bound × bound.
      if (expect === 'exhausted') assert.equal(got.injected, COMMAND_READ_ATTEMPTS, `${what}: asked to the bound, once`)
      const state = await tableState(got.storage)
      // All or nothing: the rows as before (read through the snapshot committed, if any), and one
      // replace snapshot on top of the ones before exactly when the command reported success.
      assert.equal(state.rows, before_.rows, `${what}: the table reads the same rows`)
      const committed = expect === 'absorbed' ? 1 : 0
      assert.equal(state.snapshots.length, before_.snapshots.length + committed, `${what}: snapshots committed`)
      assert.deepEqual(state.snapshots.slice(0, before_.snapshots.length), before_.snapshots, `${what}: the snapshots before`)
    })
  }
})
