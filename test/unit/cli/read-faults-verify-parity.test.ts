/**
 * `kfs verify-parity` with every read it makes of the object store and the schema registry
 * faulted every way a read fails (test/support/read-command-faults.ts): a passing fault gives the
 * clean run's report, byte for byte; one that outlasts the read bound, or a refusal, exits 1 with
 * one line naming what could not be read — never a match found by checking nothing. Before, its
 * reads had no retry: one passing fault of the store failed the whole check.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import {
  assertFaultedRun,
  buildReadBaseline,
  FEATURES,
  readFaultCases,
  runReadCommand,
  stepsOf,
  type CommandRun,
  type ReadBaseline,
} from '../../support/read-command-faults.ts'

const ARGS = ['verify-parity', ...FEATURES, '--views', 'user_purchases', '--json']
const STEPS = [
  'registry: an object',
  'registry: a listing',
  'checkpoints: a listing',
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

void test('verify-parity read faults: the clean run compares rows, and makes every read step', () => {
  assert.equal(clean.code, 0, clean.stderr)
  const [report] = JSON.parse(clean.stdout) as { status: string; liveRows: number; matchingRows: number }[]
  assert.equal(report?.status, 'match')
  assert.ok(report.liveRows > 0 && report.matchingRows === report.liveRows, clean.stdout)
  assert.deepEqual(stepsOf(clean.calls), { made: STEPS, uncovered: [] })
})

void test('verify-parity read faults: every read step × every way a read fails', async (t) => {
  for (const { what, fault, expect, times, named } of readFaultCases(STEPS)) {
    await t.test(what, async () => {
      const got = await runReadCommand(baseline, ARGS, fault)
      assertFaultedRun(got, clean, { expect, times, named, command: 'verify-parity' }, what)
    })
  }
})
