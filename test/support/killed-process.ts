/**
 * A process killed at one of its calls, for the backfill fault loops (test/unit/replay/*-fault-loop):
 * every call of the object store, the online store and the dead-letter sink goes through one
 * `KilledProcess`, which counts them, and at call `killAt` dies — after the call did its work when
 * `landed` and the call mutates. From then on nothing it calls answers, and nothing retries.
 */
import type { Clock } from '../../core/clock.ts'
import { FeatureStoreError } from '../../core/errors.ts'
import type { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import type { DeadLetter, DeadLetterSink } from '../../ports/dead-letters.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { OnlineStore } from '../../ports/online-store.ts'

/** The process died: nothing it calls answers any more, and nothing retries (a dead process waits for nothing). */
export class Killed extends FeatureStoreError {
  constructor(message: string) {
    super('INVARIANT_VIOLATED', message)
  }
}

/** Counts the calls of one process; at call `killAt` the process dies (`landed`: after the call did its work). */
export class KilledProcess {
  calls = 0
  dead = false
  /** What each call was (method and key), for choosing where to kill. */
  readonly trace: string[] = []
  constructor(
    readonly killAt: number,
    readonly landed: boolean,
  ) {}
  async step<T>(mutates: boolean, call: () => Promise<T>, what: string): Promise<T> {
    if (this.dead) throw new Killed('the process is dead')
    this.calls++
    this.trace.push(what)
    if (this.calls !== this.killAt) return call()
    this.dead = true
    if (this.landed && mutates) await call()
    throw new Killed(`killed at call ${this.calls}`)
  }
}

export function storeOf(p: KilledProcess, inner: ObjectStore): ObjectStore {
  return {
    rootUri: inner.rootUri,
    uriOf: (key) => inner.uriOf(key),
    get: (key) => p.step(false, () => inner.get(key), 'get ' + key),
    list: (prefix) => p.step(false, () => inner.list(prefix), 'list ' + prefix),
    listWithTimes: (prefix) => p.step(false, () => inner.listWithTimes(prefix), 'listWithTimes ' + prefix),
    put: (key, body) => p.step(true, () => inner.put(key, body), 'put ' + key),
    putIfAbsent: (key, body) => p.step(true, () => inner.putIfAbsent(key, body), 'putIfAbsent ' + key),
    delete: (key) => p.step(true, () => inner.delete(key), 'delete ' + key),
  }
}

export function onlineOf(p: KilledProcess, inner: EmbeddedOnlineStore): OnlineStore {
  return {
    writeRows: (view, rows) => p.step(true, () => inner.writeRows(view, rows), 'online.writeRows'),
    readRows: (lookups, nowMs) => inner.readRows(lookups, nowMs),
    sync: () => p.step(true, () => inner.sync(), 'online.sync'),
    close: async () => {},
  }
}

/** The dead-letter topic: what landed stays; deduplicated by origin when read (docs/semantics.md §15). */
export function lettersOf(p: KilledProcess, landed: DeadLetter[]): DeadLetterSink {
  return {
    write: (letters) => p.step(true, async () => void landed.push(...letters), 'letters.write'),
    flush: () => p.step(false, async () => {}, 'letters.flush'),
  }
}

/** Retries back off on this clock: a dead process's calls fail at once, whatever they wait. */
export const noWait: Clock = { nowMs: () => Date.now(), sleep: async () => {} }
