/**
 * An object store that fails on purpose: the operations whose key matches an armed fault throw,
 * either before reaching the real store (the write never happened) or after it (the write happened
 * and its answer was lost — the case a timeout produces). Every checkpoint step is one kind of
 * write, so arming a fault per key pattern faults one step of a checkpoint on any real store.
 */
import type { ListedObject, ObjectStore } from '../../ports/object-store.ts'

export type StoreOperation = 'put' | 'putIfAbsent' | 'delete' | 'get' | 'list' | 'listWithTimes'

export interface Fault {
  readonly operation: StoreOperation
  readonly key: RegExp
  /** `before`: nothing written; `after`: written, then the call fails anyway. */
  readonly when: 'before' | 'after'
  /** Matching calls let through before the first failure. */
  readonly skip: number
  /** Consecutive failures, then the fault heals. */
  readonly times: number
}

export class InjectedFault extends Error {
  override readonly name = 'InjectedFault'
}

export class FaultyObjectStore implements ObjectStore {
  readonly #inner: ObjectStore
  #fault: Fault | undefined
  #seen = 0
  #failed = 0
  #writes = 0

  constructor(inner: ObjectStore) {
    this.#inner = inner
  }

  get rootUri(): string {
    return this.#inner.rootUri
  }

  /** Arms one fault (replacing any other); counting starts now. */
  arm(fault: Fault): void {
    this.#fault = fault
    this.#seen = 0
    this.#failed = 0
  }

  disarm(): void {
    this.#fault = undefined
  }

  /** How many calls the armed fault failed so far. */
  get failures(): number {
    return this.#failed
  }

  /** Writes asked of the store so far (put, putIfAbsent, delete), failed ones included. */
  get writes(): number {
    return this.#writes
  }

  async #call<T>(operation: StoreOperation, key: string, run: () => Promise<T>): Promise<T> {
    if (operation === 'put' || operation === 'putIfAbsent' || operation === 'delete') this.#writes++
    const fault = this.#fault
    if (fault === undefined || fault.operation !== operation || !fault.key.test(key) || this.#failed >= fault.times) return run()
    if (this.#seen++ < fault.skip) return run()
    this.#failed++
    if (fault.when === 'after') await run()
    throw new InjectedFault(`injected ${fault.when === 'after' ? 'lost answer' : 'failure'} of ${operation} ${key}`)
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#call('get', key, () => this.#inner.get(key))
  }

  put(key: string, body: Uint8Array): Promise<void> {
    return this.#call('put', key, () => this.#inner.put(key, body))
  }

  putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    return this.#call('putIfAbsent', key, () => this.#inner.putIfAbsent(key, body))
  }

  delete(key: string): Promise<void> {
    return this.#call('delete', key, () => this.#inner.delete(key))
  }

  list(prefix: string): Promise<string[]> {
    return this.#call('list', prefix, () => this.#inner.list(prefix))
  }

  listWithTimes(prefix: string): Promise<ListedObject[]> {
    return this.#call('listWithTimes', prefix, () => this.#inner.listWithTimes(prefix))
  }

  uriOf(key: string): string {
    return this.#inner.uriOf(key)
  }
}
