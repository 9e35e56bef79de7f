/**
 * A process killed at one of its calls, for the backfill fault loops (test/unit/replay/*-fault-loop):
 * every call of the object store, the online store and the dead-letter sink goes through one
 * `KilledProcess`, which counts them, and at call `killAt` dies — after the call did its work when
 * `landed` and the call mutates. From then on nothing it calls answers, and nothing retries.
 */
import assert from 'node:assert/strict'
import type { Clock } from '../../core/clock.ts'
import { silentLogger } from '../../core/logger.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../adapters/object-store/index.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { backfillView } from '../../replay/backfill.ts'
import type { Decoder } from '../../schemas/decoder.ts'
import { unlockedStoreFiles } from './unlocked-store-files.ts'
import { FeatureStoreError } from '../../core/errors.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
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
  readonly killAt: number
  readonly landed: boolean
  constructor(killAt: number, landed: boolean) {
    this.killAt = killAt
    this.landed = landed
  }
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

/**
 * A backfill of `view` over the warehouse killed at call `killAt` (0: never; `landed`: after a
 * mutation did its work), then run to the end by a fresh process, as the operator's re-run would.
 * The online store's lock is the process's, so each process opens it unlocked. Returns the
 * processes, the killed one first (its trace names the calls to kill at).
 */
export async function backfillKilledThenRerun(o: {
  readonly warehouse: string
  readonly onlinePath: string
  readonly view: FeatureViewDef
  readonly decoder: Decoder
  readonly letters: DeadLetter[]
  readonly killAt: number
  readonly landed: boolean
  readonly checkpointEveryRecords: number
}): Promise<KilledProcess[]> {
  const processes =
    o.killAt === 0 ? [new KilledProcess(0, false)] : [new KilledProcess(o.killAt, o.landed), new KilledProcess(0, false)]
  for (const p of processes) {
    const store = storeOf(p, new LocalObjectStore(o.warehouse))
    const online = await EmbeddedOnlineStore.open({ path: o.onlinePath, files: unlockedStoreFiles })
    const run = backfillView({
      offline: new IcebergOfflineSink(store),
      stateStore: store,
      decoder: o.decoder,
      view: o.view,
      liveGroupId: 'kfs-engine',
      online: onlineOf(p, online),
      deadLetters: lettersOf(p, o.letters),
      clock: noWait,
      logger: silentLogger,
      checkpointEveryRecords: o.checkpointEveryRecords,
    })
    if (p.killAt === 0) {
      await run
      await online.close()
    } else {
      // Killed in a best-effort step (a version hint, pruning old checkpoints) the backfill may still
      // finish: the process would have, too. Either way the re-run must end the same.
      await run.catch((err: unknown) => {
        if (!p.dead) throw err
      })
      assert.ok(p.dead, `the backfill reached call ${o.killAt}`)
    }
  }
  return processes
}
