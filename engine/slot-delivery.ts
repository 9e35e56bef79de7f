/**
 * Where a partition slot's output goes once processed: online rows to the online store, dead
 * letters to their sink — per slot through a DeliveryQueue (delivery-queue.ts), so writes run
 * behind processing, one in flight, and what queues meanwhile goes together (coalesced) in the
 * next write. A checkpoint of the slot waits for `landed(slot)` before it publishes.
 */
import type { Clock } from '../core/clock.ts'
import { retry, type RetryOptions } from '../core/retry.ts'
import type { FeatureRow } from '../features/types.ts'
import type { DeadLetterSink } from '../ports/dead-letters.ts'
import type { OnlineStore } from '../ports/online-store.ts'
import { DeliveryQueue } from './delivery-queue.ts'
import { countDeadLetters, type EngineStats } from './engine-stats.ts'
import type { PartitionSlot, SlotOutput } from './partition-slot.ts'

export interface SlotDeliveryOptions {
  readonly online: OnlineStore
  readonly deadLetters: DeadLetterSink
  readonly stats: EngineStats
  readonly clock: Clock
  /** Retries of one write; a write that still fails stops the engine through `fail`. */
  readonly retry: RetryOptions
  readonly maxQueuedRows: number
  readonly fail: (err: Error) => void
}

export interface SlotDelivery {
  /** Queues the output; resolves at once unless the slot's queue is over its bound. */
  enqueue(slot: PartitionSlot, output: SlotOutput): Promise<void>
  /** Delivers now and waits (backfill hand-off, before the slot takes live records). */
  deliverNow(slot: PartitionSlot, output: SlotOutput): Promise<void>
  /**
   * Settles once everything queued for the slot so far is delivered — and, for a store that must
   * be told to (`OnlineStore.sync`), is durable (undefined: nothing ever was, and nothing to sync).
   */
  landed(slot: PartitionSlot): Promise<void> | undefined
}

export function createSlotDelivery(options: SlotDeliveryOptions): SlotDelivery {
  const { online, deadLetters, stats, clock, fail } = options
  const queues = new WeakMap<PartitionSlot, DeliveryQueue>()

  async function deliver(slot: PartitionSlot, batch: SlotOutput): Promise<void> {
    const started = clock.nowMs()
    let wroteOnline = false
    for (let v = 0; v < slot.options.views.length; v++) {
      const view = slot.options.views[v]!
      const rows = batch.rows[v] as FeatureRow[]
      if (rows.length === 0) continue
      stats.emittedRows += rows.length
      if (view.online) {
        await retry(() => online.writeRows(view, rows), options.retry)
        wroteOnline = true
        const newest = rows.reduce((m, r) => Math.max(m, r.asOfMs), stats.newestOnlineAsOfMs[view.name] ?? 0)
        stats.newestOnlineAsOfMs[view.name] = newest
      }
    }
    const writeMs = clock.nowMs() - started
    stats.onlineWriteMs += writeMs
    // Batches with nothing to write online would pile up at zero and hide the real write times.
    if (wroteOnline) stats.timings.onlineWriteBatch(writeMs)
    if (batch.deadLetters.length > 0) {
      countDeadLetters(stats, batch.deadLetters)
      await retry(() => deadLetters.write(batch.deadLetters), options.retry)
    }
  }

  function queueOf(slot: PartitionSlot): DeliveryQueue {
    let queue = queues.get(slot)
    if (queue === undefined) {
      queue = new DeliveryQueue({
        maxQueuedRows: options.maxQueuedRows,
        flush: async (outputs) => {
          try {
            await deliver(slot, outputs.length === 1 ? outputs[0]! : mergeOutputs(outputs))
          } catch (err: unknown) {
            fail(err instanceof Error ? err : new Error(String(err)))
            throw err
          }
        },
      })
      queues.set(slot, queue)
    }
    return queue
  }

  return {
    enqueue: (slot, output) => queueOf(slot).enqueue(output),
    deliverNow: deliver,
    landed: (slot) => {
      const delivered = queues.get(slot)?.landed()
      if (online.sync === undefined) return delivered
      // Also rows delivered outside the queue (the backfill hand-off's deliverNow). A sync is asked
      // again like a write: a failed one leaves its rows to the next (embedded-online-store.ts).
      const synced = (delivered ?? Promise.resolve()).then(() => retry(() => online.sync!(), options.retry))
      // Awaited by the publish, which may first wait for staging: a failure must not go unhandled meanwhile.
      synced.catch(() => undefined)
      return synced
    },
  }
}

/** One output holding `outputs` in order (rows per view concatenated). */
function mergeOutputs(outputs: readonly SlotOutput[]): SlotOutput {
  const rows = outputs[0]!.rows.map(() => [] as SlotOutput['rows'][number])
  const deadLetters: SlotOutput['deadLetters'][number][] = []
  let records = 0
  for (const o of outputs) {
    for (let v = 0; v < rows.length; v++) for (const r of o.rows[v]!) rows[v]!.push(r)
    for (const d of o.deadLetters) deadLetters.push(d)
    records += o.records
  }
  return { rows, deadLetters, records }
}
