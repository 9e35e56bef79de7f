/**
 * Faults by call number, for one process: every call a process makes through the ports it is given
 * (object store, online store, dead-letter sink) is numbered in the order it starts, and call `k`
 * can be faulted — it throws before doing anything, or does its work and then throws (written, the
 * answer lost), or the process dies there (before the call, or after it landed). A dead process is a
 * Freezer (crash-harness.ts): none of its later calls start and no answer reaches it, and nothing it
 * kept in memory is flushed, as after SIGKILL. A clean run with nothing armed lists the calls, so a
 * test can fault each of them in turn. The thrown error is faulty-object-store.ts's InjectedFault.
 */
import { FeatureStoreError } from '../../core/errors.ts'
import type { DeadLetterSink } from '../../ports/dead-letters.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { OnlineStore } from '../../ports/online-store.ts'
import type { SchemaRegistry } from '../../ports/schema-registry.ts'
import { Freezer } from './crash-harness.ts'
import { InjectedFault, type Fault, type StoreOperation } from './faulty-object-store.ts'

/** What call `k` does: `when` as in faulty-object-store.ts (before: nothing done; after: done, answer lost). */
export const CALL_FAULT_KINDS = {
  'throws before the call': { when: 'before', dies: false },
  'throws after the call landed': { when: 'after', dies: false },
  'process dies before the call': { when: 'before', dies: true },
  'process dies after the call landed': { when: 'after', dies: true },
} as const satisfies Record<string, { when: Fault['when']; dies: boolean }>

export type CallFaultKind = keyof typeof CALL_FAULT_KINDS

export type CallOperation =
  | StoreOperation
  | 'online.writeRows'
  | 'online.readRows'
  | 'online.sync'
  | 'deadLetters.write'
  | 'deadLetters.flush'
  | 'schemas.getById'
  | 'schemas.latest'

/**
 * Faults by kind of call, not by number: the calls of `operation` whose key matches `key` (the
 * first `skip` of them let through) fail `times` in a row — each attempt of a retried read is a
 * call of its own, so `times` below a retry's bound is a fault it absorbs, Infinity one that
 * outlasts any. `transient` throws what a port throws for a passing fault (SINK_UNAVAILABLE,
 * SOURCE_UNAVAILABLE for the schema registry: retriable), `permanent` what it throws for a refusal
 * (SINK_REJECTED, SOURCE_REJECTED: never retried); `when` as for CALL_FAULT_KINDS.
 */
export interface KindFault {
  readonly operation: CallOperation
  readonly key: RegExp
  readonly skip?: number
  readonly times: number
  readonly error: 'transient' | 'permanent'
  readonly when?: Fault['when']
}

/** An injected port error (a FeatureStoreError, retriable or not as the port's own would be). */
export class InjectedPortFault extends FeatureStoreError {}

function portFault(fault: KindFault, key: string): InjectedPortFault {
  const schemas = fault.operation.startsWith('schemas.')
  const codes = schemas ? (['SOURCE_UNAVAILABLE', 'SOURCE_REJECTED'] as const) : (['SINK_UNAVAILABLE', 'SINK_REJECTED'] as const)
  const what = fault.when === 'after' ? 'lost answer' : 'failure'
  const code = codes[fault.error === 'transient' ? 0 : 1]
  return new InjectedPortFault(code, `injected ${fault.error} ${what} of ${fault.operation} ${key}`)
}

export interface RecordedCall {
  readonly operation: CallOperation
  /** The object key or prefix; empty for the other ports. */
  readonly key: string
  /** Another call was in flight when this one started (then dying before it is not dying after the one before). */
  readonly overlaps: boolean
}

/** Reads change nothing a later process sees: their `after` kinds are their `before` kinds. */
export function isRead(call: Pick<RecordedCall, 'operation'>): boolean {
  return ['get', 'list', 'online.readRows', 'schemas.getById', 'schemas.latest'].includes(call.operation)
}

/**
 * Whether faulting `calls[index]` this way is a case of its own. A read leaves nothing behind, so
 * "after it landed" is "before it". A death before a call that started alone (none other in flight)
 * leaves the storage as the last write before it did, so the death after that write landed (or,
 * before any, the death before call 0) is the same case.
 */
export function isDistinctCase(calls: readonly RecordedCall[], index: number, kind: CallFaultKind): boolean {
  const call = calls[index]!
  const { when, dies } = CALL_FAULT_KINDS[kind]
  if (isRead(call) && when === 'after') return false
  return !(dies && when === 'before' && index > 0 && !call.overlaps)
}

export class CallFaults {
  readonly calls: RecordedCall[] = []
  readonly freezer = new Freezer()
  readonly #armed: { readonly index: number; readonly kind: CallFaultKind } | undefined
  #byKind: KindFault | undefined
  #injected = 0
  #matched = 0

  /**
   * `armed`: the call to fault (its number from 0) and how, or the kind of call to fault
   * (KindFault); none for a clean or a healthy process.
   */
  constructor(armed?: { readonly index: number; readonly kind: CallFaultKind } | KindFault) {
    if (armed !== undefined && 'index' in armed) this.#armed = armed
    else this.#byKind = armed
  }

  /**
   * Faults calls of `fault`'s kind from now on, in place of any kind armed before (its count of
   * matching calls starts again): a long-running process's calls after its start-up, say.
   */
  armFromNow(fault: KindFault): void {
    this.#byKind = fault
    this.#matched = 0
  }

  /** How many calls were faulted (0: the armed call was never made, and the case checked nothing). */
  get injected(): number {
    return this.#injected
  }

  get died(): boolean {
    return this.freezer.isFrozen
  }

  #inFlight = 0

  call<T>(operation: CallOperation, key: string, run: () => Promise<T>): Promise<T> {
    const index = this.calls.length
    this.calls.push({ operation, key, overlaps: this.#inFlight > 0 })
    this.#inFlight++
    return this.#faulted(index, operation, key, run).finally(() => this.#inFlight--)
  }

  #faulted<T>(index: number, operation: CallOperation, key: string, run: () => Promise<T>): Promise<T> {
    const byKind = this.#byKind
    if (byKind !== undefined) {
      const matches = byKind.operation === operation && byKind.key.test(key)
      if (!matches || this.#matched++ < (byKind.skip ?? 0) || this.#injected >= byKind.times) return run()
      this.#injected++
      const fault = portFault(byKind, key)
      return (async () => {
        if (byKind.when === 'after') await run()
        throw fault
      })()
    }
    const armed = this.#armed
    if (armed === undefined || armed.index !== index || this.died) return this.freezer.guard(run)
    this.#injected++
    const { when, dies } = CALL_FAULT_KINDS[armed.kind]
    const fault = new InjectedFault(`injected ${armed.kind}: call ${index}, ${operation} ${key}`)
    return this.freezer.guard(async () => {
      if (when === 'after') await run()
      // A dead process hears nothing back: the guard turns the throw into silence once frozen.
      if (dies) await this.freezer.crash(() => {})
      throw fault
    })
  }

  store(inner: ObjectStore): ObjectStore {
    return {
      rootUri: inner.rootUri,
      uriOf: (key) => inner.uriOf(key),
      get: (key) => this.call('get', key, () => inner.get(key)),
      put: (key, body) => this.call('put', key, () => inner.put(key, body)),
      putIfAbsent: (key, body) => this.call('putIfAbsent', key, () => inner.putIfAbsent(key, body)),
      delete: (key) => this.call('delete', key, () => inner.delete(key)),
      list: (prefix) => this.call('list', prefix, () => inner.list(prefix)),
      listWithTimes: (prefix) => this.call('list', prefix, () => inner.listWithTimes(prefix)),
    }
  }

  /** `close` is the process's own shutdown, not a call of the work under test: it is not numbered. */
  online(inner: OnlineStore): OnlineStore {
    const sync = inner.sync?.bind(inner)
    return {
      writeRows: (view, rows) => this.call('online.writeRows', '', () => inner.writeRows(view, rows)),
      readRows: (lookups, nowMs) => this.call('online.readRows', '', () => inner.readRows(lookups, nowMs)),
      ...(sync === undefined ? {} : { sync: () => this.call('online.sync', '', sync) }),
      close: () => inner.close(),
    }
  }

  /** `register` is the producer's, not a call of the work under test: it is not numbered. */
  schemas(inner: SchemaRegistry): SchemaRegistry {
    return {
      getById: (id) => this.call('schemas.getById', String(id), () => inner.getById(id)),
      latest: (subject) => this.call('schemas.latest', subject, () => inner.latest(subject)),
      register: (subject, schema) => inner.register(subject, schema),
    }
  }

  deadLetters(inner: DeadLetterSink): DeadLetterSink {
    return {
      write: (letters) => this.call('deadLetters.write', '', () => inner.write(letters)),
      flush: () => this.call('deadLetters.flush', '', () => inner.flush()),
    }
  }
}
