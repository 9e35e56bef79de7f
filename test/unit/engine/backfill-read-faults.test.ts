/**
 * Every kind of read a backfill makes — of the registry, the archive's Iceberg table (version hint,
 * metadata, manifest list, manifests, data files), its checkpoints, the feature table it writes,
 * the schema registry — faulted by kind (test/support/call-faults.ts KindFault) every way a read
 * fails: a passing fault once, a passing fault for every attempt but the last of the read retry's
 * bound, one that outlasts the bound, and a refusal (access denied). Within the bound the backfill
 * completes in its first process and everything ends as in the clean run; past it, or refused,
 * the first process fails at once with an error naming what it read (never a retried refusal),
 * leaves the view not complete, and a re-run completes and ends as in the clean run
 * (test/support/backfill-fault-scenario.ts). The registry status writes are faulted too: one whose
 * answer is lost after it landed is a success (read-your-write), one that never landed a failure.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { FeatureStoreError, RetriesExhaustedError } from '../../../core/errors.ts'
import { BACKFILL_READ_ATTEMPTS } from '../../../replay/backfill-before-live.ts'
import { InjectedPortFault, type CallOperation, type KindFault } from '../../support/call-faults.ts'
import {
  assertEndsAsClean,
  buildBaseline,
  runBackfillFaultCase,
  type Baseline,
  type CaseOutcome,
} from '../../support/backfill-fault-scenario.ts'

let baseline: Baseline
let clean: CaseOutcome

before(async () => {
  baseline = await buildBaseline()
  clean = await runBackfillFaultCase(baseline)
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

/** Every read step of a backfill: the calls of one operation whose key matches, and how the failure must name them. */
const READ_STEPS: readonly { step: string; operation: CallOperation; key: RegExp; named: RegExp }[] = [
  {
    step: 'registry: the backfill status',
    operation: 'get',
    key: /^registry\/views\/.*\.backfill\.json$/,
    named: /the registry object registry\/views\/user_big_spends\/v1\.backfill\.json/,
  },
  {
    step: 'registry: the view',
    operation: 'get',
    key: /^registry\/views\/[^/]+\/v\d+\.json$/,
    named: /the registry object registry\/views\/user_big_spends\/v1\.json/,
  },
  {
    step: 'archive: version hint',
    operation: 'get',
    key: /^warehouse\/archive\/.*\/version-hint\.text$/,
    named: /the Iceberg version hint warehouse\/archive\/purchases\//,
  },
  {
    step: 'archive: table metadata',
    operation: 'get',
    key: /^warehouse\/archive\/.*\.metadata\.json$/,
    named: /the Iceberg table metadata warehouse\/archive\/purchases\/metadata\/v\d+\.metadata\.json/,
  },
  {
    step: 'archive: manifest list',
    operation: 'get',
    key: /^warehouse\/archive\/.*\/snap-[^/]*\.avro$/,
    named: /the Iceberg manifest list warehouse\/archive\/purchases\/metadata\/snap-/,
  },
  {
    step: 'archive: manifest',
    operation: 'get',
    key: /^warehouse\/archive\/.*-m\d+\.avro$/,
    named: /the Iceberg manifest warehouse\/archive\/purchases\/metadata\/[^ ]*-m\d+\.avro/,
  },
  {
    step: 'archive: data file',
    operation: 'get',
    key: /^warehouse\/archive\/.*\.parquet$/,
    named: /the Iceberg data file warehouse\/archive\/purchases\/data\/kafka_partition=\d+\/[^ ]*\.parquet/,
  },
  {
    step: 'checkpoints: listing',
    operation: 'list',
    key: /^checkpoints\//,
    named: /the keys under checkpoints\/kfs-engine\.backfill\.user_big_spends%401\/purchases\/\d+\//,
  },
  {
    step: 'feature table: version hint',
    operation: 'get',
    key: /^warehouse\/features\/.*\/version-hint\.text$/,
    named: /the Iceberg version hint warehouse\/features\/user_big_spends_v1\//,
  },
  {
    step: 'feature table: metadata listing',
    operation: 'list',
    key: /^warehouse\/features\//,
    named: /the keys under warehouse\/features\/user_big_spends_v1\/metadata\//,
  },
  {
    step: 'feature table: metadata',
    operation: 'get',
    key: /^warehouse\/features\/.*\.metadata\.json$/,
    named: /the Iceberg table metadata warehouse\/features\/user_big_spends_v1\/metadata\/v\d+\.metadata\.json/,
  },
  {
    step: 'schema registry: writer schema',
    operation: 'schemas.getById',
    key: /^\d+$/,
    named: /writer schema id \d+ from the schema registry/,
  },
]

type Expectation = 'absorbed' | 'exhausted' | 'refused'

const READ_FAULTS: readonly { kind: string; times: number; error: KindFault['error']; expect: Expectation }[] = [
  { kind: 'transient once', times: 1, error: 'transient', expect: 'absorbed' },
  {
    kind: `transient ${BACKFILL_READ_ATTEMPTS - 1} times in a row, then ok`,
    times: BACKFILL_READ_ATTEMPTS - 1,
    error: 'transient',
    expect: 'absorbed',
  },
  { kind: 'transient for good (outlasts the bound)', times: Infinity, error: 'transient', expect: 'exhausted' },
  { kind: 'permanent (refused: access denied)', times: 1, error: 'permanent', expect: 'refused' },
]

function causes(err: unknown): unknown[] {
  const chain: unknown[] = []
  for (let e: unknown = err; e !== undefined && chain.length < 10; e = e instanceof Error ? e.cause : undefined) chain.push(e)
  return chain
}

void test('backfill read faults: the clean run makes every read step of the table', () => {
  assert.equal(clean.first, 'done')
  for (const { step, operation, key } of READ_STEPS)
    assert.ok(
      clean.calls.some((c) => c.operation === operation && key.test(c.key)),
      `${step}: the clean backfill makes such a read (${operation} ${key})`,
    )
})

void test('backfill read faults: every read step × every way a read fails', async (t) => {
  for (const { step, operation, key, named } of READ_STEPS) {
    for (const { kind, times, error, expect } of READ_FAULTS) {
      const what = `${step}, ${kind}`
      await t.test(what, async () => {
        const got = await runBackfillFaultCase(baseline, { process: 'backfill', calls: { operation, key, times, error } })
        if (expect === 'absorbed') {
          assert.equal(got.first, 'done', `${what}: ${typeof got.first === 'object' ? String(got.first.err) : got.first}`)
          assert.equal(got.injected, times, `${what}: faults injected`)
          assert.equal(got.processes, 1, `${what}: one process`)
        } else {
          assert.ok(typeof got.first === 'object', `${what}: the first process failed (got ${String(got.first)})`)
          const err = got.first.err
          assert.ok(err instanceof FeatureStoreError, `${what}: a kfs error (exit 1, its message printed), not ${String(err)}`)
          assert.match(err.message, named, `${what}: the error names what was read`)
          assert.ok(
            causes(err).some((e) => e instanceof InjectedPortFault),
            `${what}: the port's error is its cause`,
          )
          if (expect === 'exhausted') {
            assert.ok(err instanceof RetriesExhaustedError, `${what}: ${err.name}`)
            assert.match(err.message, new RegExp(`gave up after ${BACKFILL_READ_ATTEMPTS} attempts`), what)
            assert.ok(got.injected >= BACKFILL_READ_ATTEMPTS, `${what}: retried to the bound (${got.injected})`)
          } else {
            assert.equal(err.retriable, false, `${what}: a refusal stays not retriable`)
            assert.match(err.code, /^(SINK|SOURCE)_REJECTED$/, what)
            assert.equal(got.injected, 1, `${what}: a refusal is not asked again`)
          }
          assert.notEqual(got.statusAfterFirst?.state, 'complete', `${what}: nothing marked complete by the failed process`)
          assert.equal(got.processes, 2, `${what}: a re-run completes`)
        }
        assertEndsAsClean(got, clean, what)
      })
    }
  }
})

const STATUS = /^registry\/views\/.*\.backfill\.json$/

void test('backfill status writes: a lost answer after the write landed is success; a write that never landed fails, and the re-run completes', async (t) => {
  const cases: readonly { what: string; skip: number; when: 'before' | 'after'; succeeds: boolean }[] = [
    { what: 'the running status, answer lost after it landed', skip: 0, when: 'after', succeeds: true },
    { what: 'the running status, never landed', skip: 0, when: 'before', succeeds: false },
    { what: 'the complete status, answer lost after it landed', skip: 1, when: 'after', succeeds: true },
    { what: 'the complete status, never landed', skip: 1, when: 'before', succeeds: false },
  ]
  for (const { what, skip, when, succeeds } of cases) {
    await t.test(what, async () => {
      const got = await runBackfillFaultCase(baseline, {
        process: 'backfill',
        calls: { operation: 'put', key: STATUS, skip, times: 1, error: 'transient', when },
      })
      assert.equal(got.injected, 1, `${what}: the fault fired`)
      if (succeeds) {
        assert.equal(got.first, 'done', `${what}: reported ${typeof got.first === 'object' ? String(got.first.err) : got.first}`)
        assert.equal(got.processes, 1, what)
        assert.equal(got.statusAfterFirst?.state, 'complete', what)
      } else {
        assert.ok(typeof got.first === 'object', `${what}: the first process reported failure`)
        assert.ok(
          causes(got.first.err).some((e) => e instanceof InjectedPortFault),
          `${what}: ${String(got.first.err)}`,
        )
        assert.notEqual(got.statusAfterFirst?.state, 'complete', what)
        assert.equal(got.processes, 2, `${what}: a re-run completes`)
      }
      assertEndsAsClean(got, clean, what)
    })
  }
})
