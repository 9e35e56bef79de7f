/**
 * Frames packed records into each partition's segment bytes (`encodePackedByPartition`) on a
 * worker thread shared by the process, so that `kfs ingest`'s main thread assembles the next chunk
 * meanwhile (on 2 cores the framing and CRC of a million records are ~400 ms of one core).
 *
 * A chunk crosses to the worker as ONE copy of its bytes and bounds, transferred (no structured
 * clone of values), and comes back as one transferred buffer per partition. Until the worker has
 * loaded (it starts at the first chunk of 10,000 records or more, or when a producer says many are
 * coming: TypeScript through tsx costs a few hundred ms), or if it cannot start or dies, chunks are framed in-process — the same
 * function, so the same bytes. Once loaded, the worker is referenced only while a chunk is on it,
 * so it never keeps a finished process alive.
 */
import { Worker } from 'node:worker_threads'
import type { PackedRecords } from '../../../ports/event-log.ts'
import { encodePackedByPartition, type PartitionShare } from './packed-records.ts'

export interface FrameRequest {
  readonly id: number
  readonly count: number
  readonly bytes: Uint8Array
  readonly bounds: Uint32Array
  readonly baseOffsets: readonly number[]
  readonly timestampMs: number
}

export type FrameResponse =
  | {
      readonly id: number
      readonly shares: ({ bytes: Uint8Array; starts: Uint32Array } | undefined)[]
      readonly error?: undefined
    }
  | { readonly id: number; readonly error: string; readonly shares?: undefined }

/** A chunk's records, copied: the caller's buffers may be reused once `takePacked` returns. */
export function takePacked(records: PackedRecords): PackedRecords {
  const end = records.bounds[2 * records.count] ?? 0
  const bytes = new Uint8Array(end)
  bytes.set(records.bytes.subarray(0, end))
  return { count: records.count, bytes, bounds: records.bounds.slice(0, 2 * records.count + 1) }
}

interface Pending {
  readonly resolve: (shares: (PartitionShare | undefined)[]) => void
  readonly reject: (err: Error) => void
}

let worker: Worker | undefined
let ready = false
/** Set once the worker failed to start or died: every later chunk is framed in-process. */
let disabled = false
const pending = new Map<number, Pending>()
let nextId = 0
const whenReady: ((ready: boolean) => void)[] = []
/** Chunks smaller than this are framed in-process and do not start the worker (not worth a thread). */
const WORKER_FROM_RECORDS = 10_000

/** Starts the worker (if not started): chunks go to it once it has loaded. */
export function startPackedFramer(): void {
  if (disabled || worker !== undefined) return
  try {
    // Referenced until loaded: a process exiting while the worker is still loading tsx hangs.
    const w = new Worker(new URL('./packed-framing-worker.mjs', import.meta.url))
    w.on('message', (message: FrameResponse | { ready: true }) => {
      if ('ready' in message) {
        ready = true
        if (pending.size === 0) w.unref()
        for (const wake of whenReady.splice(0)) wake(true)
        return
      }
      const p = pending.get(message.id)
      if (p === undefined) return
      pending.delete(message.id)
      if (pending.size === 0) w.unref()
      if (message.shares !== undefined)
        p.resolve(
          message.shares.map(
            (s) => s && { buf: Buffer.from(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength), starts: s.starts },
          ),
        )
      else p.reject(new Error(message.error))
    })
    // A worker that fails or exits is not restarted: the in-process path is always there. The
    // chunks on it fail (their bytes went with them); the log fails the appends queued behind.
    const retire = (err: Error): void => {
      disabled = true
      ready = false
      worker = undefined
      for (const wake of whenReady.splice(0)) wake(false)
      for (const p of pending.values()) p.reject(err)
      pending.clear()
    }
    w.on('error', (err) => retire(err))
    w.on('exit', (code) => retire(new Error(`packed framing worker exited with code ${code}`)))
    worker = w
  } catch {
    disabled = true
  }
}

/**
 * `encodePackedByPartition` of `records` (a `takePacked` copy: on the worker its buffers are
 * transferred, so gone from here).
 */
export function framePacked(
  records: PackedRecords,
  baseOffsets: readonly number[],
  timestampMs: number,
): Promise<(PartitionShare | undefined)[]> {
  if (records.count >= WORKER_FROM_RECORDS) startPackedFramer()
  const w = worker
  if (w === undefined || !ready) return Promise.resolve(encodePackedByPartition(records, baseOffsets, timestampMs))
  const id = nextId++
  const request: FrameRequest = {
    id,
    count: records.count,
    bytes: records.bytes,
    bounds: records.bounds,
    baseOffsets,
    timestampMs,
  }
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject })
    if (pending.size === 1) w.ref()
    w.postMessage(request, [records.bytes.buffer as ArrayBuffer, records.bounds.buffer as ArrayBuffer])
  })
}

/** Starts the framing worker; resolves once it takes chunks (true) or cannot (false). For tests. */
export function packedFramerReady(): Promise<boolean> {
  startPackedFramer()
  if (ready || worker === undefined) return Promise.resolve(ready)
  return new Promise((resolve) => whenReady.push(resolve))
}
