/**
 * Worker thread side of ./packed-appender.ts: packed records in, laid out per partition in the
 * segment format (./packed-records.ts: routing, framing, CRC), written where each partition's
 * batch goes and fsynced; each partition's record positions out. The framing costs about what
 * assembling the records costs the caller: here the two run side by side.
 */
import { fsyncSync, writeSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'
import { encodePackedByPartition } from './packed-records.ts'
import type { PackedAppendReply, PackedAppendRequest } from './packed-appender.ts'

if (parentPort === null) throw new Error('packed-append-worker.ts runs only as a worker thread')
const port = parentPort

port.on('message', (request: PackedAppendRequest) => {
  try {
    const { id, count, bytes, bounds, baseOffsets, timestampMs, targets, fsync } = request
    const shares = encodePackedByPartition({ count, bytes, bounds }, baseOffsets, timestampMs)
    const written: PackedAppendReply['written'] = shares.map((share, p) => {
      if (share === undefined) return undefined
      const { fd, position } = targets[p]!
      let done = 0
      while (done < share.buf.length) done += writeSync(fd, share.buf, done, share.buf.length - done, position + done)
      if (fsync) fsyncSync(fd)
      return { bytes: share.buf.length, starts: share.starts }
    })
    const reply: PackedAppendReply = { id, written }
    port.postMessage(
      reply,
      written.flatMap((w) => (w === undefined ? [] : [w.starts.buffer as ArrayBuffer])),
    )
  } catch (err: unknown) {
    port.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) })
  }
})

// Requests posted before this listener existed waited in the port; say it listens now.
port.postMessage({ ready: true })
