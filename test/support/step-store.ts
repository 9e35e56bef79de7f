/**
 * An object store whose calls, while armed, are numbered; the `at`-th fails as `fault` (before it
 * happened, after it happened with its answer lost, or a create answered "already exists"), or
 * first awaits `race` (another writer's commit, whose own calls are not numbered). The step-fault
 * loops of the automatic compaction tests (test/unit/iceberg/automatic-*compaction-faults.test.ts).
 */
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
