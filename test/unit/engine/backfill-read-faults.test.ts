/**
 * Every kind of read a backfill makes — of the registry, the archive's Iceberg table (version hint,
 * metadata, manifest list, manifests, data files), its checkpoints, the feature table it writes,
 * the schema registry — faulted by kind (test/support/call-faults.ts KindFault) every way a read
 * fails: a passing fault once, a passing fault for every attempt but the last of the read retry's
 * bound, one that outlasts the bound, and a refusal (access denied). Within the bound the backfill
 * completes in its first process and everything ends as in the clean run; past it, or refused,
 * the first process fails at once with an error naming what it read (never a retried refusal),
 * leaves the view not complete, and a re-run completes and ends as in the clean run
 * (test/support/backfill-fault-scenario.ts). The reads only a resumed backfill makes (its
 * checkpoint record and state) are faulted the same ways in the process resuming one killed after
 * its first checkpoint. The registry status writes are faulted too: one whose answer is lost after
 * it landed is a success (read-your-write), one that never landed a failure.
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

/**
 * One faulted backfill process ended as `expect` says: within the bound it completed
 * (`absorbed`); past it (`exhausted`) or refused it failed with a kfs error (exit 1, its message
 * printed) naming the read, the port's error its cause, and left the view not complete.
 */
function assertProcessOutcome(
  outcome: CaseOutcome['first'],
  injected: number,
  statusAfter: CaseOutcome['statusAfterFirst'],
  fault: { readonly times: number; readonly expect: Expectation; readonly named: RegExp },
  what: string,
): void {
  if (fault.expect === 'absorbed') {
    assert.equal(outcome, 'done', `${what}: ${typeof outcome === 'object' ? String(outcome.err) : outcome}`)
    assert.equal(injected, fault.times, `${what}: faults injected`)
    return
  }
  assert.ok(typeof outcome === 'object', `${what}: the process failed (got ${String(outcome)})`)
  const err = outcome.err
  assert.ok(err instanceof FeatureStoreError, `${what}: a kfs error (exit 1, its message printed), not ${String(err)}`)
  assert.match(err.message, fault.named, `${what}: the error names what was read`)
  assert.ok(
    causes(err).some((e) => e instanceof InjectedPortFault),
    `${what}: the port's error is its cause`,
  )
  if (fault.expect === 'exhausted') {
    assert.ok(err instanceof RetriesExhaustedError, `${what}: ${err.name}`)
    assert.match(err.message, new RegExp(`gave up after ${BACKFILL_READ_ATTEMPTS} attempts`), what)
    assert.ok(injected >= BACKFILL_READ_ATTEMPTS, `${what}: retried to the bound (${injected})`)
  } else {
    assert.equal(err.retriable, false, `${what}: a refusal stays not retriable`)
    assert.match(err.code, /^(SINK|SOURCE)_REJECTED$/, what)
    assert.equal(injected, 1, `${what}: a refusal is not asked again`)
  }
  assert.notEqual(statusAfter?.state, 'complete', `${what}: nothing marked complete by the failed process`)
}

void test('backfill read faults: every read step × every way a read fails', async (t) => {
  for (const { step, operation, key, named } of READ_STEPS) {
    for (const { kind, times, error, expect } of READ_FAULTS) {
      const what = `${step}, ${kind}`
      await t.test(what, async () => {
        const got = await runBackfillFaultCase(baseline, { process: 'backfill', calls: { operation, key, times, error } })
        assertProcessOutcome(got.first, got.injected, got.statusAfterFirst, { times, expect, named }, what)
        assert.equal(got.processes, expect === 'absorbed' ? 1 : 2, `${what}: processes to complete it`)
        assertEndsAsClean(got, clean, what)
      })
    }
  }
})

/** The reads only a resumed backfill makes: its checkpoint (the record, the state it names). */
const RESUME_READ_STEPS: readonly { step: string; operation: CallOperation; key: RegExp; named: RegExp }[] = [
  {
    step: 'resumed: checkpoint record',
    operation: 'get',
    key: /^checkpoints\/.*\/ckpt-[^/]*\.json$/,
    named: /the checkpoint object checkpoints\/kfs-engine\.backfill\.user_big_spends%401\/purchases\/0\/ckpt-/,
  },
  {
    step: 'resumed: checkpoint state',
    operation: 'get',
    key: /^checkpoints\/.*\/state-[^/]*\.bin$/,
    named: /the checkpoint object checkpoints\/kfs-engine\.backfill\.user_big_spends%401\/purchases\/0\/state-/,
  },
]

void test('backfill read faults: a backfill killed after its first checkpoint, resumed with every checkpoint read faulted every way', async (t) => {
  // The first process dies right after its first checkpoint record landed; the second resumes from it.
  const death = clean.calls.findIndex((c) => c.operation === 'putIfAbsent' && /\/ckpt-/.test(c.key))
  assert.ok(death > 0, 'the clean run publishes a checkpoint')
  for (const { step, operation, key, named } of RESUME_READ_STEPS) {
    for (const { kind, times, error, expect } of READ_FAULTS) {
      const what = `${step}, ${kind}`
      await t.test(what, async () => {
        const got = await runBackfillFaultCase(
          baseline,
          { process: 'backfill', index: death, kind: 'process dies after the call landed' },
          { operation, key, times, error },
        )
        assert.equal(got.first, 'died', `${what}: the first process died`)
        assert.ok(got.second !== undefined, `${what}: a second process resumed`)
        assertProcessOutcome(got.second.outcome, got.second.injected, got.second.statusAfter, { times, expect, named }, what)
        assert.equal(got.processes, expect === 'absorbed' ? 2 : 3, `${what}: processes to complete it`)
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
