/**
 * A TCP proxy in front of a Redis that reads the RESP stream both ways, so a test can fault one
 * command at a time: answer it with an error reply of its choosing (never sent on), drop the
 * connection before it reaches Redis or after Redis ran it (the reply lost), or hold its reply past
 * the client's command timeout. Replies go back in command order, synthetic ones in their place.
 * Started and stopped by the test that uses it; it never touches the Redis behind it otherwise.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

/** What happens to one command: sent on, or one of the faults. */
export type CommandFault =
  | { readonly kind: 'forward' }
  | { readonly kind: 'error'; readonly reply: string }
  | { readonly kind: 'drop-before' }
  | { readonly kind: 'drop-after' }
  | { readonly kind: 'late'; readonly delayMs: number }
  /** Redis flushes its script cache just before it runs the command (a real NOSCRIPT for EVALSHA). */
  | { readonly kind: 'flush-scripts-first' }

/** Decides each command's fate from its name and arguments (as text). */
export type FaultPlan = (command: readonly string[]) => CommandFault

export interface RedisFaultProxy {
  readonly url: string
  /** Commands seen, by upper-case name. */
  readonly seen: Map<string, number>
  setPlan(plan: FaultPlan): void
  close(): Promise<void>
}

/** Bytes of one complete RESP value at `from`, or -1 while it is incomplete. */
function respLength(buf: Buffer, from: number): number {
  if (from >= buf.length) return -1
  const lineEnd = buf.indexOf('\r\n', from)
  if (lineEnd === -1) return -1
  const type = String.fromCharCode(buf[from]!)
  const head = lineEnd + 2 - from
  if (type === '+' || type === '-' || type === ':') return head
  const n = Number(buf.toString('latin1', from + 1, lineEnd))
  if (type === '$') {
    if (n < 0) return head
    return buf.length >= lineEnd + 2 + n + 2 ? head + n + 2 : -1
  }
  if (type === '*') {
    let at = lineEnd + 2
    for (let i = 0; i < n; i++) {
      const len = respLength(buf, at)
      if (len === -1) return -1
      at += len
    }
    return at - from
  }
  throw new Error(`redis-fault-proxy: unexpected RESP type ${JSON.stringify(type)}`)
}

/** A client command (an array of bulk strings) as text parts. */
function commandParts(buf: Buffer): string[] {
  const parts: string[] = []
  let at = buf.indexOf('\r\n') + 2
  while (at < buf.length) {
    const lineEnd = buf.indexOf('\r\n', at)
    const n = Number(buf.toString('latin1', at + 1, lineEnd))
    parts.push(buf.toString('utf8', lineEnd + 2, lineEnd + 2 + n))
    at = lineEnd + 2 + n + 2
  }
  return parts
}

type Pending =
  | { readonly from: 'server'; readonly delayMs: number; readonly dropAfter: boolean; readonly swallow?: true }
  | { readonly from: 'proxy'; readonly reply: string }

const SCRIPT_FLUSH = '*2\r\n$6\r\nSCRIPT\r\n$5\r\nFLUSH\r\n'

export async function startRedisFaultProxy(upstreamPort: number): Promise<RedisFaultProxy> {
  let plan: FaultPlan = () => ({ kind: 'forward' })
  const seen = new Map<string, number>()
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    let fromClient = Buffer.alloc(0)
    let fromServer = Buffer.alloc(0)
    const pending: Pending[] = []
    let closed = false
    /** Replies are written in command order; a late one holds back those behind it. */
    let writing = Promise.resolve()
    const close = (): void => {
      if (closed) return
      closed = true
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    const send = (bytes: Buffer | string, delayMs = 0, dropAfter = false): void => {
      writing = writing.then(async () => {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
        if (closed) return
        if (dropAfter) return close()
        client.write(bytes)
      })
    }
    /** Synthetic replies at the head of the queue go out at once. */
    const flushProxyReplies = (): void => {
      while (pending[0]?.from === 'proxy') send((pending.shift() as { reply: string }).reply)
    }
    client.on('data', (chunk: Buffer) => {
      fromClient = Buffer.concat([fromClient, chunk])
      for (;;) {
        const len = respLength(fromClient, 0)
        if (len === -1) break
        const bytes = fromClient.subarray(0, len)
        fromClient = fromClient.subarray(len)
        const parts = commandParts(bytes)
        const name = (parts[0] ?? '').toUpperCase()
        seen.set(name, (seen.get(name) ?? 0) + 1)
        const fault = plan(parts)
        if (fault.kind === 'drop-before') return close()
        if (fault.kind === 'error') {
          pending.push({ from: 'proxy', reply: `-${fault.reply}\r\n` })
          if (pending.length === 1) flushProxyReplies()
          continue
        }
        if (fault.kind === 'flush-scripts-first') {
          pending.push({ from: 'server', delayMs: 0, dropAfter: false, swallow: true })
          upstream.write(SCRIPT_FLUSH)
        }
        pending.push({
          from: 'server',
          delayMs: fault.kind === 'late' ? fault.delayMs : 0,
          dropAfter: fault.kind === 'drop-after',
        })
        upstream.write(bytes)
      }
    })
    upstream.on('data', (chunk: Buffer) => {
      fromServer = Buffer.concat([fromServer, chunk])
      for (;;) {
        const len = respLength(fromServer, 0)
        if (len === -1) break
        const reply = fromServer.subarray(0, len)
        fromServer = fromServer.subarray(len)
        const head = pending.shift()
        if (head?.from !== 'server') throw new Error('redis-fault-proxy: a reply with no command waiting for it')
        if (head.swallow !== true) send(Buffer.from(reply), head.delayMs, head.dropAfter)
        flushProxyReplies()
      }
    })
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${port}`,
    seen,
    setPlan(next) {
      plan = next
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
