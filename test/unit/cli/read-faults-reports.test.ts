/**
 * The read-side commands that report (`kfs verify-parity`, `kfs skew-report`) or list (`kfs tables`,
 * `kfs dead-letters list|show`, `kfs registry list|show|lineage|diff`), with every read they make of the object store and the schema
 * registry faulted every way a read fails (test/support/read-command-faults.ts): a passing fault
 * gives the clean run's output, byte for byte; one that outlasts the read bound, or a refusal,
 * exits 1 with one line naming what could not be read — never a listing short of a table, a match
 * found by checking nothing, or a skew report over fewer lookups that passes. Before, their reads
 * had no retry: one passing fault of the store failed the whole command. skew-report reads the
 * served log through the command's ports (training/skew-report.ts), retried where main/ builds them.
 * (The dead letters themselves are read from the event log, not faulted here.) `kfs registry`'s
 * subcommands (list, show, lineage, diff) read only the registry, retried as these are.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import {
  assertFaultedRun,
  buildReadBaseline,
  FEATURES,
  readFaultCases,
  REGISTRY_STEPS,
  SERVED_TOPIC,
  tableReadSteps,
  runReadCommand,
  stepsOf,
  type CommandRun,
  type ReadBaseline,
} from '../../support/read-command-faults.ts'

const REGISTRY = REGISTRY_STEPS
const COMMANDS: readonly {
  name: string
  command: string
  args: readonly string[]
  steps: readonly string[]
  checks: (stdout: string) => void
}[] = [
  {
    name: 'verify-parity',
    command: 'verify-parity',
    args: ['verify-parity', ...FEATURES, '--views', 'user_purchases', '--json'],
    steps: [
      ...REGISTRY,
      'checkpoints: a listing',
      ...tableReadSteps('feature table'),
      ...tableReadSteps('archive'),
      'schema registry: a writer schema',
    ],
    checks: (stdout) => {
      const [report] = JSON.parse(stdout) as { status: string; liveRows: number; matchingRows: number }[]
      assert.equal(report?.status, 'match')
      assert.ok(report.liveRows > 0 && report.matchingRows === report.liveRows, stdout)
    },
  },
  {
    name: 'skew-report',
    command: 'skew-report',
    args: ['skew-report', '--topic', SERVED_TOPIC, '--min-match', '0', '--json'],
    steps: [...REGISTRY, ...tableReadSteps('feature table'), ...tableReadSteps('archive'), 'schema registry: a writer schema'],
    checks: (stdout) => {
      const report = JSON.parse(stdout) as {
        ok: boolean
        records: number
        features: { compared: number }[]
        snapshots: Record<string, string | null>
      }
      assert.equal(report.ok, true)
      assert.equal(report.records, 12, 'every served lookup compared')
      // Compared with the view's rows at a snapshot, not with a table read as empty.
      assert.match(String(report.snapshots['user_purchases@1']), /^\d+$/, stdout)
      assert.ok(report.features.length > 0 && report.features.every((f) => f.compared === 12), stdout)
    },
  },
  {
    name: 'tables',
    command: 'tables',
    args: ['tables', '--json'],
    steps: [
      'tables: the warehouse listing',
      'feature table: version hint',
      'feature table: table metadata',
      'archive: version hint',
      'archive: table metadata',
    ],
    checks: (stdout) =>
      assert.deepEqual((JSON.parse(stdout) as { name: string }[]).map((t) => t.name).sort(), [
        'archive_purchases',
        'archive_served_features',
        'user_purchases_v1',
      ]),
  },
  {
    name: 'dead-letters list',
    command: 'dead-letters',
    args: ['dead-letters', 'list', ...FEATURES, '--json'],
    steps: REGISTRY,
    checks: (stdout) => assert.equal((JSON.parse(stdout) as { total: number }).total, 1),
  },
  {
    name: 'dead-letters show',
    command: 'dead-letters',
    args: ['dead-letters', 'show', '0', ...FEATURES, '--json'],
    steps: [...REGISTRY, 'schema registry: a writer schema'],
    checks: (stdout) => assert.equal((JSON.parse(stdout) as { decodesNow?: unknown }).decodesNow, true, stdout),
  },
  {
    name: 'registry list',
    command: 'registry',
    args: ['registry', 'list', '--json'],
    steps: REGISTRY,
    checks: (stdout) =>
      assert.deepEqual((JSON.parse(stdout) as { views: { name: string }[] }).views.map((v) => v.name).sort(), [
        'user_big_spends',
        'user_purchases',
      ]),
  },
  {
    name: 'registry show',
    command: 'registry',
    args: ['registry', 'show', 'user_purchases', '--json'],
    steps: REGISTRY,
    checks: (stdout) => assert.deepEqual((JSON.parse(stdout) as { versions: number[] }).versions, [1], stdout),
  },
  {
    name: 'registry lineage',
    command: 'registry',
    args: ['registry', 'lineage', 'user_purchases', '--json'],
    steps: REGISTRY,
    checks: (stdout) => assert.ok((JSON.parse(stdout) as { nodes: unknown[] }).nodes.length > 1, stdout),
  },
  {
    name: 'registry diff',
    command: 'registry',
    args: ['registry', 'diff', ...FEATURES, '--json'],
    steps: REGISTRY,
    checks: (stdout) => assert.ok((JSON.parse(stdout) as { views: unknown[] }).views.length > 0, stdout),
  },
]

let baseline: ReadBaseline
const clean = new Map<string, CommandRun>()
before(async () => {
  baseline = await buildReadBaseline()
  for (const c of COMMANDS) clean.set(c.name, await runReadCommand(baseline, c.args))
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

void test('report and listing read faults: the clean runs report and list what there is, and make every read step', () => {
  for (const c of COMMANDS) {
    const run = clean.get(c.name)!
    assert.equal(run.code, 0, `${c.name}: ${run.stderr}`)
    c.checks(run.stdout)
    assert.deepEqual(stepsOf(run.calls), { made: c.steps, uncovered: [] }, c.name)
  }
})

void test('report and listing read faults: every read step × every way a read fails', async (t) => {
  for (const c of COMMANDS) {
    for (const { what, fault, expect, times, named } of readFaultCases(c.steps)) {
      await t.test(`${c.name}: ${what}`, async () => {
        const got = await runReadCommand(baseline, c.args, fault)
        assertFaultedRun(got, clean.get(c.name)!, { expect, times, named, command: c.command }, `${c.name}: ${what}`)
      })
    }
  }
})
