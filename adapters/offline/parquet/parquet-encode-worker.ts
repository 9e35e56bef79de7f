/**
 * Worker thread side of `parquet-encoder.ts`: Arrow IPC stream in, Parquet file (and its per-column
 * compressed sizes) out. The wasm writer is the costly, synchronous part of staging a data file;
 * here it runs beside the engine's event loop instead of stalling it.
 */
import { parentPort } from 'node:worker_threads'
import { writeParquetBytes, type WasmWriteRequest } from './parquet-wasm-write.ts'

if (parentPort === null) throw new Error('parquet-encode-worker.ts runs only as a worker thread')
const port = parentPort

port.on('message', (message: { id: number; request: WasmWriteRequest }) => {
  writeParquetBytes(message.request).then(
    (result) => port.postMessage({ id: message.id, result }, [result.bytes.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) }),
  )
})
