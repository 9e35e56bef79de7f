/**
 * Holds the reads of one poll phase in the client's socket buffer and writes them in one system
 * call when the phase ends (setImmediate runs right after it), instead of one `write` per command.
 * A busy server answers many requests in one poll phase, and those writes were ~30 % of its CPU
 * (docs/performance.md, Serving). Unlike ioredis's auto-pipelining, no command waits for a later
 * turn of the loop. The socket is ioredis's `stream`, which its typings leave out: where it is
 * missing (a stand-in client), the reads go out as before.
 */
import type { Socket } from 'node:net'
import type { Redis } from 'ioredis'

type Corkable = Pick<Socket, 'cork' | 'uncork'>

/** Sockets corked until the end of the current poll phase. */
const corked = new WeakSet<Corkable>()

export function corkUntilPollEnds(client: Redis): void {
  const stream = (client as unknown as { stream?: Partial<Corkable> }).stream
  if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return
  const socket = stream as Corkable
  if (corked.has(socket)) return
  corked.add(socket)
  socket.cork()
  setImmediate(() => {
    corked.delete(socket)
    socket.uncork()
  })
}
