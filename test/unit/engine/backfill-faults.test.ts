/**
 * Every call a backfill makes (object store — the offline tables, its checkpoints, the registry —,
 * online store, dead-letter sink), faulted every way (test/support/call-faults.ts), one call per
 * case: the backfill re-run as a new process completes, the live engine takes the view over and
 * consumes more events, and everything ends as in the clean run — the same offline rows (as
 * multisets of full rows), the same online rows right after the backfill and at the end, the same
 * dead letters, the status complete through the same offsets, verify-parity agreeing
 * (test/support/backfill-fault-scenario.ts runs a case).
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { assertSameRows, expectedRowsByEntity } from '../../support/scenario.ts'
import { InjectedFault } from '../../support/faulty-object-store.ts'
import { CALL_FAULT_KINDS, isDistinctCase, isRead, type CallFaultKind, type RecordedCall } from '../../support/call-faults.ts'
import {
  assertEndsAsClean,
  BACKFILLED_VIEW,
  buildBaseline,
  runBackfillFaultCase,
  type Baseline,
  type CaseOutcome,
} from '../../support/backfill-fault-scenario.ts'
import { purchases } from '../../../examples/with-new-view.ts'

let baseline: Baseline
let clean: CaseOutcome

before(async () => {
  baseline = await buildBaseline()
  clean = await runBackfillFaultCase(baseline)
})
after(() => rm(baseline.dir, { recursive: true, force: true }))

/** The call without what changes from run to run (uuids, snapshot ids): the same call of another run. */
const shape = (call: RecordedCall) => `${call.operation} ${call.key.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\d{6,}/g, '#')}`

/** The error and its causes: a fault must surface as itself (or wrapped), never as a TypeError of the code it hit. */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = []
  for (let e: unknown = err; e !== undefined && chain.length < 10; e = e instanceof Error ? e.cause : undefined) chain.push(e)
  return chain
}

void test('backfill faults: the clean run is right on its own (the reference model, parity, a complete status)', () => {
  assert.equal(clean.first, 'done')
  assert.equal(clean.status?.state, 'complete')
  assert.equal(clean.parityOk, true, clean.parityDetail)
  const expected = expectedRowsByEntity([BACKFILLED_VIEW], purchases, baseline.produced).get(BACKFILLED_VIEW.name)!
  assertSameRows(clean.viewRows, expected, 'the view has the reference rows over every event, once each')
  assert.ok(
    clean.deadLetters.some((l) => l.endsWith(`${BACKFILLED_VIEW.name}@1`)),
    'the view refuses some records (its dead letters are compared)',
  )
  assert.equal(new Set(clean.deadLetters).size, clean.deadLetters.length, 'a clean run writes each dead letter once')
  const writes = clean.calls.filter((c) => !isRead(c))
  for (const operation of ['put', 'putIfAbsent', 'delete', 'online.writeRows', 'deadLetters.write'])
    assert.ok(
      writes.some((c) => c.operation === operation),
      `the backfill makes ${operation} calls`,
    )
  assert.ok(
    clean.calls.filter((c) => c.operation === 'putIfAbsent' && /ckpt-/.test(c.key)).length >= 3,
    'the backfill publishes several checkpoints',
  )
})

void test('backfill faults: every call × every kind', async (t) => {
  const calls = clean.calls
  assert.ok(calls.length > 50, `${calls.length} calls`)
  for (const [index, call] of calls.entries()) {
    for (const kind of Object.keys(CALL_FAULT_KINDS) as CallFaultKind[]) {
      if (!isDistinctCase(calls, index, kind)) continue
      await t.test(`${kind} at call ${index}: ${shape(call)}`, async () => {
        const got = await runBackfillFaultCase(baseline, { process: 'backfill', index, kind })
        const what = `${kind} at call ${index} (${shape(call)})`
        assert.equal(got.injected, 1, `${what}: the fault fired`)
        assert.deepEqual(
          got.calls.slice(0, index + 1).map(shape),
          calls.slice(0, index + 1).map(shape),
          `${what}: the faulted call is the clean run's call ${index}`,
        )
        // A death is a death; a thrown fault ends the process (no retry outlasts) or is absorbed by a retry.
        assert.equal(
          got.first === 'died',
          CALL_FAULT_KINDS[kind].dies,
          `${what}: the first process ${typeof got.first === 'object' ? 'failed' : got.first}`,
        )
        if (typeof got.first === 'object') {
          const chain = causes(got.first.err)
          assert.ok(
            chain.some((e) => e instanceof InjectedFault),
            `${what}: the backfill failed with the fault, not ${String(got.first.err)}`,
          )
          assert.ok(
            !(
              got.first.err instanceof TypeError ||
              got.first.err instanceof RangeError ||
              got.first.err instanceof ReferenceError
            ),
            `${what}: ${String(got.first.err)}`,
          )
        }
        assertEndsAsClean(got, clean, what)
      })
    }
  }
})
