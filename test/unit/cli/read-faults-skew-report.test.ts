/**
 * `kfs skew-report` with every read it makes — the registry, the served-feature log's archive,
 * the views' feature tables, the served records' writer schema — faulted every way a read fails
 * (test/support/read-command-faults.ts): a passing fault gives the clean run's report; one that
 * outlasts the read bound, or a refusal, exits 1 with one line naming what could not be read —
 * never a report over fewer lookups that passes. The served log is read through the command's
 * ports (training/skew-report.ts), retried where main/ builds them.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import {
  assertFaultedRun,
  buildReadBaseline,
  readFaultCases,
  runReadCommand,
  SERVED_TOPIC,
  stepsOf,
  type CommandRun,
  type ReadBaseline,
} from '../../support/read-command-faults.ts'

const ARGS = ['skew-report', '--topic', SERVED_TOPIC, '--min-match', '0', '--json']
const STEPS = [
  'registry: an object',
  'registry: a listing',
  'feature table: version hint',
  'feature table: table metadata',
  'feature table: manifest list',
  'feature table: manifest',
  'feature table: data file',
  'archive: version hint',
  'archive: table metadata',
  'archive: manifest list',
  'archive: manifest',
  'archive: data file',
  'schema registry: a writer schema',
]

let baseline: ReadBaseline
let clean: CommandRun
before(async () => {
  baseline = await buildReadBaseline()
  clean = await runReadCommand(baseline, ARGS)
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

void test('skew-report read faults: the clean run compares every served lookup, and makes every read step', () => {
  assert.equal(clean.code, 0, clean.stderr)
  const report = JSON.parse(clean.stdout) as {
    ok: boolean
    records: number
    features: { compared: number }[]
    snapshots: Record<string, string | null>
  }
  assert.equal(report.ok, true)
  assert.equal(report.records, 12, 'every served lookup compared')
  // Compared with the view's rows at a snapshot, not with a table read as empty.
  assert.match(String(report.snapshots['user_purchases@1']), /^\d+$/, clean.stdout)
  assert.ok(report.features.length > 0 && report.features.every((f) => f.compared === 12), clean.stdout)
  assert.deepEqual(stepsOf(clean.calls), { made: STEPS, uncovered: [] })
})

void test('skew-report read faults: every read step × every way a read fails', async (t) => {
  for (const { what, fault, expect, times, named } of readFaultCases(STEPS)) {
    await t.test(what, async () => {
      const got = await runReadCommand(baseline, ARGS, fault)
      assertFaultedRun(got, clean, { expect, times, named, command: 'skew-report' }, what)
    })
  }
})
