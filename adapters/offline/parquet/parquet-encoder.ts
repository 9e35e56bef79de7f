/**
 * Runs the wasm Parquet writer on one worker thread shared by the process, so staging data files
 * (at every checkpoint of every partition) does not stall the event loop that feeds Redis: on this
 * 2-core machine a checkpoint of four partitions used to block it for 200–700 ms.
 *
 * One worker, requests in order; it is referenced only while a request is pending, so it never
 * keeps a finished process alive. If the worker cannot start (or dies), every later request is
 * written in-process — the same function, so the same bytes (training-set rebuilds compare them).
 * A caller turns the worker off per request (`worker: false`); main/ wires that from the
 * configuration (`KFS_PARQUET_WORKER=0`), library code never reads the environment.
 */
import { Worker } from 'node:worker_threads'
import { transferablesOf, writeParquetBytes, type WasmWriteRequest, type WasmWriteResult } from './parquet-wasm-write.ts'

interface Pending {
  readonly resolve: (result: WasmWriteResult) => void
  readonly reject: (err: Error) => void
}

let worker: Worker | undefined
/** Set once the worker failed to start or died: every later request is written in-process. */
let disabled = false
const pending = new Map<number, Pending>()
let nextId = 0

function failAll(err: Error): void {
  for (const p of pending.values()) p.reject(err)
  pending.clear()
}

function startWorker(): Worker | undefined {
  if (disabled) return undefined
  if (worker !== undefined) return worker
  try {
    const w = new Worker(new URL('./parquet-encode-worker.mjs', import.meta.url))
    w.unref()
    w.on('message', (message: { id: number; result?: WasmWriteResult; error?: string }) => {
      const p = pending.get(message.id)
      if (p === undefined) return
      pending.delete(message.id)
      if (pending.size === 0) w.unref()
      if (message.result !== undefined) p.resolve({ bytes: new Uint8Array(message.result.bytes), columnSizes: message.result.columnSizes })
      else p.reject(new Error(message.error ?? 'parquet worker failed'))
    })
    // A worker that fails or exits is not restarted: the in-process path is always there.
    const retire = (err: Error) => {
      disabled = true
      worker = undefined
      failAll(err)
    }
    w.on('error', (err) => retire(err))
    w.on('exit', (code) => retire(new Error(`parquet worker exited with code ${code}`)))
    worker = w
    return w
  } catch {
    disabled = true
    return undefined
  }
}

export interface WriteParquetOptions {
  /** Write on the shared worker thread (default true); false writes in-process, same bytes. */
  readonly worker?: boolean
}

/** Writes the Parquet file for an Arrow IPC stream, off the main thread when it can. */
export async function writeParquet(request: WasmWriteRequest, options: WriteParquetOptions = {}): Promise<WasmWriteResult> {
  const w = options.worker === false ? undefined : startWorker()
  if (w === undefined) return writeParquetBytes(request)
  const id = nextId++
  return new Promise<WasmWriteResult>((resolve, reject) => {
    pending.set(id, { resolve, reject })
    if (pending.size === 1) w.ref()
    w.postMessage({ id, request }, transferablesOf(request))
  })
}

/** Whether files are being written on the worker thread (false before the first file, or after a fallback). */
export function parquetWorkerActive(): boolean {
  return worker !== undefined && !disabled
}
