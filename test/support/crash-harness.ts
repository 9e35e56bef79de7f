/**
 * A crash, in process: everything an engine reaches the outside world through (event log, object
 * store, online store) goes through a Freezer. `crash()` freezes it — from then on no call of the
 * dead engine starts, and no answer reaches it (a call in flight may still land: "written, answer
 * lost") —, removes its consumers from their groups without running its revoke handlers, and
 * stops its timer. Nothing is closed or flushed: what the process kept only in memory is gone, as
 * after SIGKILL; what it had in flight to its own files (the embedded online store's) lands before
 * the next generation starts, as a process's writes stop when it dies. The event log itself is shared by every generation (it outlives the engine, as
 * Kafka or the embedded log's fsynced appends do); the online store must be reopened from its file.
 */
import type { EventLog, LogConsumer, ProduceRecord } from '../../ports/event-log.ts'
import type { LogTransaction, TransactionalEventLog } from '../../ports/event-log-transaction.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { OnlineStore } from '../../ports/online-store.ts'

export class Freezer {
  #frozen = false
  #thaw: () => void = () => {}
  /** Settles when the freezer freezes. */
  readonly frozen: Promise<void> = new Promise((resolve) => (this.#thaw = resolve))
  readonly #consumers: LogConsumer[] = []
  /** Calls in flight on what dies with the process (its online store's file): a crash waits them out. */
  readonly #inProcess = new Set<Promise<unknown>>()

  get isFrozen(): boolean {
    return this.#frozen
  }

  /** `fn()`, unless frozen; a frozen caller never hears back. */
  guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#frozen) return NEVER as Promise<T>
    return fn().then(
      (v) => (this.#frozen ? (NEVER as Promise<T>) : v),
      (err: unknown) => (this.#frozen ? (NEVER as Promise<T>) : Promise.reject(err)),
    )
  }

  /**
   * `guard(fn)` for a resource that lives and dies with the process (the embedded online store
   * writing its file). The next generation stands for a process started after this one died, so
   * whatever this one had in flight has landed (or not started) by then — never a write of the
   * dead one landing in a file the next one has opened: `crash()` waits for these calls to settle.
   */
  inProcess<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#frozen) return NEVER as Promise<T>
    const call = fn()
    const settled = call.then(
      () => undefined,
      () => undefined,
    )
    this.#inProcess.add(settled)
    void settled.then(() => this.#inProcess.delete(settled))
    return call.then(
      (v) => (this.#frozen ? (NEVER as Promise<T>) : v),
      (err: unknown) => (this.#frozen ? (NEVER as Promise<T>) : Promise.reject(err)),
    )
  }

  /** `fn()`'s promise, resolved early (with undefined) once frozen: the log stops waiting for a dead handler. */
  detach<T>(fn: () => Promise<T>): Promise<T | undefined> {
    if (this.#frozen) return Promise.resolve(undefined)
    const p = fn()
    return Promise.race([
      p.catch((err: unknown) => (this.#frozen ? undefined : Promise.reject(err))),
      this.frozen.then(() => undefined),
    ])
  }

  track(consumer: LogConsumer): void {
    this.#consumers.push(consumer)
  }

  /** Freezes and takes the dead engine's consumers out of their groups (their handlers are detached). */
  async crash(stopTimer: () => void): Promise<void> {
    this.#frozen = true
    this.#thaw()
    stopTimer()
    await Promise.all(this.#consumers.map((c) => c.stop()))
    await Promise.all([...this.#inProcess])
  }
}

const NEVER: Promise<never> = new Promise(() => {})

export function frozenStore(inner: ObjectStore, f: Freezer): ObjectStore {
  return {
    rootUri: inner.rootUri,
    uriOf: (key) => inner.uriOf(key),
    get: (key) => f.guard(() => inner.get(key)),
    put: (key, body) => f.guard(() => inner.put(key, body)),
    putIfAbsent: (key, body) => f.guard(() => inner.putIfAbsent(key, body)),
    delete: (key) => f.guard(() => inner.delete(key)),
    list: (prefix) => f.guard(() => inner.list(prefix)),
    listWithTimes: (prefix) => f.guard(() => inner.listWithTimes(prefix)),
  }
}

/**
 * The online store through `f`. `inProcess`: the store writes a file of this process (the embedded
 * store reopened by the next generation), so a crash waits for its calls in flight (Freezer.inProcess).
 * Not for a store behind a fault board whose "dies" faults never answer: the crash would wait forever.
 */
export function frozenOnline(inner: OnlineStore, f: Freezer, options: { readonly inProcess?: boolean } = {}): OnlineStore {
  const call = <T>(fn: () => Promise<T>): Promise<T> => (options.inProcess === true ? f.inProcess(fn) : f.guard(fn))
  return {
    writeRows: (view, rows) => call(() => inner.writeRows(view, rows)),
    readRows: (lookups, nowMs) => call(() => inner.readRows(lookups, nowMs)),
    close: () => call(() => inner.close()),
    ...('sync' in inner && typeof inner.sync === 'function'
      ? { sync: () => call(() => (inner.sync as () => Promise<void>).call(inner)) }
      : {}),
  } as OnlineStore
}

function frozenTransaction(inner: LogTransaction, f: Freezer): LogTransaction {
  return {
    produce: (topic, records) => f.guard(() => inner.produce(topic, records)),
    sendOffsets: (groupId, offsets) => f.guard(() => inner.sendOffsets(groupId, offsets)),
    commit: () => f.guard(() => inner.commit()),
    abort: () => f.guard(() => inner.abort()),
  }
}

export function frozenLog(inner: TransactionalEventLog, f: Freezer): TransactionalEventLog {
  const log: TransactionalEventLog = {
    createTopic: (topic, partitions) => f.guard(() => inner.createTopic(topic, partitions)),
    partitionCount: (topic) => f.guard(() => inner.partitionCount(topic)),
    produce: (topic, records: readonly ProduceRecord[]) => f.guard(() => inner.produce(topic, records)),
    endOffsets: (topic) => f.guard(() => inner.endOffsets(topic)),
    startOffsets: (topic) => f.guard(() => inner.startOffsets(topic)),
    committedOffsets: (groupId, topic) => f.guard(() => inner.committedOffsets(groupId, topic)),
    transaction: async (id) => frozenTransaction(await f.guard(() => inner.transaction(id)), f),
    consumer(options) {
      const consumer = inner.consumer({ ...options, onCrash: (err) => (f.isFrozen ? undefined : options.onCrash?.(err)) })
      f.track(consumer)
      const wrapped: LogConsumer = {
        run: (handlers) =>
          consumer.run({
            eachBatch: async (batch) => (await f.detach(() => handlers.eachBatch(batch))) ?? undefined,
            onAssigned: async (partitions) => void (await f.detach(() => handlers.onAssigned?.(partitions) ?? Promise.resolve())),
            onRevoked: async (partitions) => void (await f.detach(() => handlers.onRevoked?.(partitions) ?? Promise.resolve())),
            onPosition: (notice) => (f.isFrozen ? undefined : handlers.onPosition?.(notice)),
          }),
        commit: (offsets) => f.guard(() => consumer.commit(offsets)),
        seek: (position) => (f.isFrozen ? undefined : consumer.seek(position)),
        pause: (partitions) => (f.isFrozen ? undefined : consumer.pause(partitions)),
        resume: (partitions) => (f.isFrozen ? undefined : consumer.resume(partitions)),
        stop: () => consumer.stop(),
      }
      return wrapped
    },
    close: () => Promise.resolve(),
  }
  return log satisfies EventLog
}

/**
 * `inner`, each call in flight kept in `calls` until it settles: a dead engine's calls still in
 * flight land (or fail) before the next process starts, or before an operator restores files under it.
 */
export function settling(inner: ObjectStore, calls: Set<Promise<unknown>>): ObjectStore {
  const track = <T>(call: Promise<T>): Promise<T> => {
    const settled: Promise<unknown> = call.then(
      () => calls.delete(settled),
      () => calls.delete(settled),
    )
    calls.add(settled)
    return call
  }
  return {
    rootUri: inner.rootUri,
    uriOf: (key) => inner.uriOf(key),
    get: (key) => track(inner.get(key)),
    list: (prefix) => track(inner.list(prefix)),
    listWithTimes: (prefix) => track(inner.listWithTimes(prefix)),
    put: (key, body) => track(inner.put(key, body)),
    putIfAbsent: (key, body) => track(inner.putIfAbsent(key, body)),
    delete: (key) => track(inner.delete(key)),
  }
}
