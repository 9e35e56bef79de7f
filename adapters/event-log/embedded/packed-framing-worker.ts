/**
 * Worker thread side of `packed-framer.ts`: one chunk of packed records in (its bytes and bounds,
 * transferred), each partition's segment bytes out (transferred) — `encodePackedByPartition`, the
 * same function the log runs in-process, so the same bytes.
 */
import { parentPort } from 'node:worker_threads'
import { encodePackedByPartition } from './packed-records.ts'
import type { FrameRequest, FrameResponse } from './packed-framer.ts'

if (parentPort === null) throw new Error('packed-framing-worker.ts runs only as a worker thread')
const port = parentPort

port.on('message', (message: FrameRequest) => {
  try {
    const shares = encodePackedByPartition(
      { count: message.count, bytes: message.bytes, bounds: message.bounds },
      message.baseOffsets,
      message.timestampMs,
    )
    const transfer: ArrayBuffer[] = []
    const out = shares.map((share) => {
      if (share === undefined) return undefined
      // A small Buffer is a slice of Node's shared pool, which must not be transferred: its own copy.
      const bytes =
        share.buf.byteOffset === 0 && share.buf.byteLength === share.buf.buffer.byteLength ? share.buf : new Uint8Array(share.buf)
      transfer.push(bytes.buffer as ArrayBuffer, share.starts.buffer as ArrayBuffer)
      return { bytes, starts: share.starts }
    })
    port.postMessage({ id: message.id, shares: out } satisfies FrameResponse, transfer)
  } catch (err) {
    port.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) } satisfies FrameResponse)
  }
})
port.postMessage({ ready: true })
