/**
 * A partition's online writes and dead letters, delivered in the background behind processing.
 *
 * One flush is in flight at a time. Outputs enqueued meanwhile wait and go together in the next
 * flush, so a busy online store is handed larger batches — which coalesce to fewer rows (only the
 * newest row per key is written, online-semantics.ts) — instead of a longer queue: the write
 * rate adapts to the store, and freshness suffers by at most one flush. Order is kept: a flush
 * starts only after the previous one finished, and within one the later row of a key wins.
 *
 * Backpressure: `enqueue` resolves at once while fewer than `maxQueuedRows` rows wait, else when
 * the in-flight flush is done. `landed()` resolves once everything enqueued so far is delivered
 * (a checkpoint publishes only after that); a failed flush rejects it and every later call.
 */
import type { SlotOutput } from './partition-slot.ts'

export interface DeliveryQueueOptions {
  /** Delivers the outputs, oldest first; rejects only when the engine must stop. */
  readonly flush: (outputs: readonly SlotOutput[]) => Promise<void>
  readonly maxQueuedRows: number
}

interface Deferred {
  readonly promise: Promise<void>
  resolve(): void
  reject(err: unknown): void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A rejection is reported through the promise of whoever awaits it, not as unhandled.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

export class DeliveryQueue {
  readonly #options: DeliveryQueueOptions
  #queued: SlotOutput[] = []
  #queuedRows = 0
  /** Settles when the queued outputs are delivered (by the flush after the in-flight one). */
  #next = deferred()
  /** The in-flight flush: settles when its outputs are delivered. */
  #current: Deferred | undefined
  #failure: { err: unknown } | undefined

  constructor(options: DeliveryQueueOptions) {
    this.#options = options
  }

  async enqueue(output: SlotOutput): Promise<void> {
    this.#throwIfFailed()
    let rows = 0
    for (const r of output.rows) rows += r.length
    if (rows === 0 && output.deadLetters.length === 0) return
    this.#queued.push(output)
    this.#queuedRows += rows
    if (this.#current === undefined) this.#start()
    else if (this.#queuedRows >= this.#options.maxQueuedRows) {
      await this.#current.promise.catch(() => undefined)
      this.#throwIfFailed()
    }
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.err
  }

  /** Resolves when everything enqueued so far is delivered. */
  landed(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure.err)
    if (this.#queued.length > 0) return this.#next.promise
    return this.#current?.promise ?? Promise.resolve()
  }

  #start(): void {
    const outputs = this.#queued
    const done = this.#next
    this.#queued = []
    this.#queuedRows = 0
    this.#next = deferred()
    this.#current = done
    this.#options.flush(outputs).then(
      () => {
        this.#current = undefined
        done.resolve()
        if (this.#queued.length > 0) this.#start()
      },
      (err: unknown) => {
        this.#failure = { err }
        done.reject(err)
        this.#next.reject(err)
      },
    )
  }
}
