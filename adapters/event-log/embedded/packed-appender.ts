/**
 * Packed records appended by one worker thread shared by the process (./packed-append-worker.ts):
 * the routing, framing and CRC of a batch, its write and its fsync run there, while the caller's
 * thread prepares its next batch (`kfs ingest` assembles chunk k+1 meanwhile).
 *
 * The worker starts on the first request and takes requests once it is running; until then, and
 * for good once it failed to start or died, `appendPackedOffThread` answers undefined and the
 * caller appends in-process (the same bytes: the same encodePackedByPartition). It is referenced
 * only while a request is pending, so it never keeps a finished process alive.
 */
import { Worker } from 'node:worker_threads'
import type { PackedRecords } from '../../../ports/event-log.ts'
import type { PartitionLog } from './partition-log.ts'

export interface PackedAppendRequest {
  readonly id: number
  readonly count: number
  readonly bytes: Uint8Array
  readonly bounds: Uint32Array
  readonly baseOffsets: readonly number[]
  readonly timestampMs: number
  /** Where each partition's batch goes (PartitionLog.beginAppend). */
  readonly targets: readonly { readonly fd: number; readonly position: number }[]
  readonly fsync: boolean
}

export interface PackedAppendReply {
  readonly id: number
  /** Per partition: the batch's size and its records' positions in it; undefined: no records. */
  readonly written: readonly ({ readonly bytes: number; readonly starts: Uint32Array } | undefined)[]
  readonly error?: string
}

let worker: Worker | undefined
let ready = false
/** Set once the worker failed to start or died: every later append is made in-process. */
let disabled = false
const pending = new Map<number, (reply: PackedAppendReply) => void>()
const readyWaiters: ((ready: boolean) => void)[] = []
let nextId = 0

/** Starts the worker (once); resolves true once it takes requests, false when it cannot (the process is kept alive meanwhile). */
export function startPackedAppender(): Promise<boolean> {
  startWorker()
  if (ready || disabled) return Promise.resolve(ready)
  worker?.ref()
  return new Promise((resolve) => readyWaiters.push(resolve))
}

function tellWaiters(): void {
  if (pending.size === 0) worker?.unref()
  for (const resolve of readyWaiters.splice(0)) resolve(ready)
}

/** Starts the worker (once) without waiting for it, nor keeping the process alive for it: appends take it once it runs. */
export function warmPackedAppender(): void {
  startWorker()
}

function startWorker(): void {
  if (disabled || worker !== undefined) return
  try {
    const w = new Worker(new URL('./packed-append-worker.mjs', import.meta.url))
    w.on('message', (reply: PackedAppendReply | { ready: true }) => {
      if ('ready' in reply) {
        ready = true
        tellWaiters()
        return
      }
      const settle = pending.get(reply.id)
      if (settle === undefined) return
      pending.delete(reply.id)
      if (pending.size === 0) w.unref()
      settle(reply)
    })
    // A worker that fails or exits is not restarted: the in-process path is always there.
    const retire = (err: Error): void => {
      disabled = true
      ready = false
      worker = undefined
      for (const [id, settle] of pending) settle({ id, written: [], error: err.message })
      pending.clear()
      tellWaiters()
    }
    w.on('error', (err) => retire(err))
    w.on('exit', (code) => retire(new Error(`packed append worker exited with code ${code}`)))
    // After the listeners: attaching one references the worker again.
    w.unref()
    worker = w
  } catch {
    disabled = true
    tellWaiters()
  }
}

/**
 * Appends `packed` to `partitions` (routed by key as produce does) on the worker; undefined when
 * the worker is not running (yet): append in-process then. `packed` is copied before this returns.
 * On failure no partition indexes any of the batch.
 */
export function appendPackedOffThread(
  partitions: readonly PartitionLog[],
  packed: PackedRecords,
  timestampMs: number,
  fsync: boolean,
): Promise<void> | undefined {
  startWorker()
  const w = worker
  if (!ready || w === undefined) return undefined
  const id = nextId++
  const targets = partitions.map((p) => p.beginAppend())
  // Copies of their own (a Buffer's slice is a view, of a buffer that may be shared): transferred, not cloned again.
  const bytes = Uint8Array.prototype.slice.call(packed.bytes)
  const bounds = packed.bounds.slice(0, 2 * packed.count + 1)
  const request: PackedAppendRequest = {
    id,
    count: packed.count,
    bytes,
    bounds,
    baseOffsets: partitions.map((p) => p.endOffset),
    timestampMs,
    targets,
    fsync,
  }
  return new Promise<void>((resolve, reject) => {
    pending.set(id, (reply) => {
      if (reply.error !== undefined) {
        for (const p of partitions) p.abandonAppend()
        reject(new Error(`embedded log append failed: ${reply.error}`))
        return
      }
      partitions.forEach((p, i) => {
        const written = reply.written[i]
        if (written === undefined) p.abandonAppend()
        else p.finishAppend(written.bytes, written.starts)
      })
      resolve()
    })
    if (pending.size === 1) w.ref()
    try {
      w.postMessage(request, [bytes.buffer, bounds.buffer])
    } catch (err: unknown) {
      pending.get(id)?.({ id, written: [], error: err instanceof Error ? err.message : String(err) })
      pending.delete(id)
      if (pending.size === 0) w.unref()
    }
  })
}
