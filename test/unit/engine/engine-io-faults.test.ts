/**
 * Every I/O step of the live engine other than the object store's (checkpoint-faults.test.ts
 * covers those), faulted every way: the online store's conditional writes and its sync before a
 * publish, the dead-letter topic's produce, the consumers' batch deliveries and progress commits,
 * the offset reads, and the re-key stage's transaction calls (open, produce, send offsets, commit,
 * abort). A clean run first counts the calls it makes per step (test/support/faulty-engine-io.ts
 * wraps the ports); then each step is faulted once per fault kind — the checkpoint test's five
 * (transient; outlasting the retries, healed before or after the stop; the write landed but its
 * answer lost, healed before or after the stop) and the process dying in the call. The faulted
 * call is a representative k, not every k (a case costs two engines; the whole file must stay near
 * 90 s): the first, middle or last call of the step, rotating with the kind and the step so that
 * each kind meets each position across steps. After the faulted run and a healthy resume
 * (test/support/engine-io-fault-scenario.ts), online and offline rows, the archive, the dead
 * letters and verify-parity must agree with the clean run. The online store port has no deletes,
 * and its TTL is set by the same conditional write, so its steps are the write and the sync. The
 * test's own caught-up polling is exempt (its number of calls depends on timing); the engine's
 * offset reads (resume positions, the re-key stage's) are faulted.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IO_FAULT_KINDS, assertSameOutcome, runIoFaultCase, type IoFaultKind } from '../../support/engine-io-fault-scenario.ts'

const clean = await runIoFaultCase()
const POSITIONS = ['first', 'middle', 'last'] as const
const steps = [...clean.outcome.calls].filter(([step]) => !step.startsWith('log: produce ')).sort(([a], [b]) => (a < b ? -1 : 1))

void test('the clean run makes a call of every step kind the fault table needs', () => {
  const names = steps.map(([step]) => step)
  for (const need of [
    'online: write rows',
    'online: sync',
    'dead letters: produce',
    'log: batch delivery (views)',
    'log: batch delivery (re-key)',
    'log: commit progress (views)',
    'log: end offsets',
    'log: start offsets',
    're-key: produce',
    're-key: send offsets',
    're-key: commit',
    're-key: abort',
  ])
    assert.ok(names.includes(need), `no call of ${need} in a clean run`)
})

void describe('engine I/O faults', () => {
  steps.forEach(([step, count], s) => {
    ;(Object.keys(IO_FAULT_KINDS) as IoFaultKind[]).forEach((kind, i) => {
      const position = POSITIONS[(i + s) % POSITIONS.length]!
      const k = position === 'first' ? 1 : position === 'middle' ? Math.ceil(count / 2) : count
      void test(`${kind} at ${step}, ${position} call (${k} of ${count})`, { timeout: 150_000 }, async () => {
        const result = await runIoFaultCase({ step, k, kind })
        assert.ok(result.injected > 0, 'the fault fired (a case that injected nothing checked nothing)')
        const err = result.firstError
        assert.ok(
          !(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError),
          `the engine crashed on a bug, not the fault: ${String(err)}`,
        )
        // A fault the retries do not absorb fails some checkpoint (the engine, or the stop's own, which
        // makes the stop reject): the next process re-processes from an earlier one and may dead-letter again (§15).
        const mayRepeat = result.died || err !== undefined || IO_FAULT_KINDS[kind].heal !== 'by retries'
        assertSameOutcome(result.outcome, clean.outcome, mayRepeat, `${kind} at ${step} call ${k}`)
      })
    })
  })
})
