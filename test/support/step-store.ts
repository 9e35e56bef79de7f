/**
 * An object store whose calls, while armed, are numbered; the `at`-th fails as `fault` (before it
 * happened, after it happened with its answer lost, or a create answered "already exists"), or
 * first awaits `race` (another writer's commit, whose own calls are not numbered). The step-fault
 * loops of the automatic compaction tests (test/unit/iceberg/automatic-*compaction-faults.test.ts).
 */
import assert from 'node:assert/strict'
import type { ListedObject, ObjectStore } from '../../ports/object-store.ts'
import { forwardingStore } from './forwarding-store.ts'

export type Fault = 'before' | 'after' | 'lost-create'

export class InjectedFault extends Error {
  override readonly name = 'InjectedFault'
}

/** Numbers the calls made while armed; the `at`-th fails as `fault`, or first awaits `race`. */
export class StepStore {
  armed = false
  calls: string[] = []
  at = -1
  fault: Fault | undefined
  race: (() => Promise<void>) | undefined
  readonly store: ObjectStore

  constructor(inner: ObjectStore) {
    const step = async <T>(call: string, key: string, apply: () => Promise<T>, lostCreate?: () => T): Promise<T> => {
      if (!this.armed) return apply()
      const n = this.calls.push(`${call} ${key}`) - 1
      if (n !== this.at) return apply()
      if (this.race !== undefined) {
        // The engine's checkpoint commits while this call waits: its own calls are not numbered.
        this.armed = false
        await this.race()
        this.armed = true
        return apply()
      }
      if (this.fault === 'before') throw new InjectedFault(`${call} ${key} failed`)
      await apply()
      if (this.fault === 'lost-create' && lostCreate !== undefined) return lostCreate()
      throw new InjectedFault(`${call} ${key}: answer lost`)
    }
    this.store = {
      ...forwardingStore(inner),
      get: (k) => step('get', k, () => inner.get(k)),
      put: (k, b) => step('put', k, () => inner.put(k, b)),
      putIfAbsent: (k, b) =>
        step(
          'putIfAbsent',
          k,
          () => inner.putIfAbsent(k, b),
          () => false,
        ),
      delete: (k) => step('delete', k, () => inner.delete(k)),
      list: (p) => step('list', p, () => inner.list(p)),
      listWithTimes: (p): Promise<ListedObject[]> => step('listWithTimes', p, () => inner.listWithTimes(p)),
    }
  }
}

/** What one run of a compaction under a StepStore did: the calls it numbered, whether it committed, the errors reported. */
export interface StepOutcome {
  readonly calls: readonly string[]
  readonly compacted: boolean
  readonly errors: readonly unknown[]
}

/**
 * The step-fault loop: an unfaulted run must read data files, write its files and commit; then
 * each of its calls fails each way (a create also answered "exists") — more than half of those
 * runs must not commit, or the faults missed — and, in turn at each call, another writer commits
 * first, after which the run still commits with no error.
 */
export async function everyStepFaultedOrRaced(
  run: (at: number, fault: Fault | undefined, race: boolean) => Promise<StepOutcome>,
): Promise<void> {
  const clean = await run(-1, undefined, false)
  assert.ok(clean.compacted && clean.errors.length === 0, 'the compaction unfaulted commits')
  const calls = clean.calls
  // Not vacuous: the compaction read data files, wrote its files and committed.
  for (const kind of [/^get .*\.parquet$/, /^put .*\.parquet$/, /^put .*-m0\.avro$/, /^putIfAbsent .*metadata\.json$/])
    assert.ok(
      calls.some((c) => kind.test(c)),
      `no ${String(kind)} among ${calls.join(', ')}`,
    )
  let failed = 0
  for (let at = 0; at < calls.length; at++) {
    for (const fault of calls[at]!.startsWith('putIfAbsent')
      ? (['before', 'after', 'lost-create'] as const)
      : (['before', 'after'] as const)) {
      const outcome = await run(at, fault, false)
      if (!outcome.compacted) failed++
    }
    // Raced at any step, the compaction is rebuilt on the other writer's commit and still commits.
    const raced = await run(at, undefined, true)
    assert.ok(
      raced.compacted && raced.errors.length === 0,
      `raced at call ${at} (${calls[at]}): ${raced.errors.map(String).join('; ')}`,
    )
  }
  assert.ok(failed > calls.length / 2, `only ${failed} faulted compactions failed: the faults did not reach them`)
}
