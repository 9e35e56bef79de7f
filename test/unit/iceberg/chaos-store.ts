/**
 * An object store that faults the calls a schedule names (the n-th call of a method): a chaos loop
 * picks them at random, so over its runs each kind of call (get, put, putIfAbsent,
 * delete, list, listWithTimes) is faulted each way a real store fails:
 * - `before`: the call fails and nothing happened;
 * - `after`: the call happened, then failed (its answer was lost: a timeout);
 * - `lost-create` (putIfAbsent): the object was created, and the answer is "it already existed" —
 *   what S3 answers an SDK retry of a create whose first answer was lost (412 on its own write);
 * - `after-then-outage`: the call happened, its answer was lost, and the store then fails the next
 *   `OUTAGE_CALLS` calls of every kind: a writer's retries run out with its outcome unknown.
 */
import type { ListedObject, ObjectStore } from '../../../ports/object-store.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'

export type FaultKind = 'before' | 'after' | 'lost-create' | 'after-then-outage'
export type StoreCall = 'get' | 'put' | 'putIfAbsent' | 'delete' | 'list' | 'listWithTimes'

/** Calls an outage fails: more than a commit's attempts (12), each of which reads first. */
export const OUTAGE_CALLS = 30

export class ChaosFault extends Error {
  override readonly name = 'ChaosFault'
}

export class ChaosStore {
  readonly store: ObjectStore
  /** `<method>:<n>` (its n-th call, from 0) → how that call fails. */
  schedule = new Map<string, FaultKind>()
  enabled = false
  /** Faults injected so far, by `call:kind`: the loop checks every kind was reached. */
  readonly injected = new Map<string, number>()
  readonly #calls = new Map<StoreCall, number>()
  #inflight = 0
  #outage = 0

  readonly #run: <T>(call: StoreCall, key: string, apply: () => Promise<T>, lostCreate?: () => T) => Promise<T>

  constructor(inner: ObjectStore) {
    const run = async <T>(call: StoreCall, key: string, apply: () => Promise<T>, lostCreate?: () => T): Promise<T> => {
      this.#inflight++
      try {
        return await this.#run(call, key, apply, lostCreate)
      } finally {
        this.#inflight--
      }
    }
    this.#run = async <T>(call: StoreCall, key: string, apply: () => Promise<T>, lostCreate?: () => T): Promise<T> => {
      if (!this.enabled) return apply()
      if (this.#outage > 0) {
        this.#outage--
        throw new ChaosFault(`injected outage: ${call} ${key}`)
      }
      const n = this.#calls.get(call) ?? 0
      this.#calls.set(call, n + 1)
      const kind = this.schedule.get(`${call}:${n}`)
      if (kind === undefined) return apply()
      const effective = kind === 'lost-create' && lostCreate === undefined ? 'after' : kind
      this.injected.set(`${call}:${effective}`, (this.injected.get(`${call}:${effective}`) ?? 0) + 1)
      if (effective === 'before') throw new ChaosFault(`injected failure of ${call} ${key}`)
      await apply()
      if (effective === 'lost-create') return lostCreate!()
      if (effective === 'after-then-outage') this.#outage = OUTAGE_CALLS
      throw new ChaosFault(`injected lost answer of ${call} ${key}`)
    }
    this.store = {
      ...forwardingStore(inner),
      get: (k) => run('get', k, () => inner.get(k)),
      put: (k, b) => run('put', k, () => inner.put(k, b)),
      putIfAbsent: (k, b) =>
        run(
          'putIfAbsent',
          k,
          () => inner.putIfAbsent(k, b),
          () => false,
        ),
      delete: (k) => run('delete', k, () => inner.delete(k)),
      list: (p) => run('list', p, () => inner.list(p)),
      listWithTimes: (p): Promise<ListedObject[]> => run('listWithTimes', p, () => inner.listWithTimes(p)),
    }
  }

  /**
   * Resolves once no call has been in flight for a while: work a caller does not wait for (the
   * sink's automatic expiry, queued after a commit) has finished, and the table can be checked.
   */
  async settled(): Promise<void> {
    for (let quiet = 0; quiet < 20;) {
      await new Promise((resolve) => setImmediate(resolve))
      quiet = this.#inflight === 0 ? quiet + 1 : 0
    }
  }
}
