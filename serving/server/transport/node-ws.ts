/**
 * WebSockets of the node:http transport, on the `ws` package, with uWS's semantics (types.ts):
 *
 * - `end` and every other close run the behavior's `close` at once, exactly once — a close the
 *   peer starts too, as soon as its close frame arrives (ws's own 'close' waits for the TCP close,
 *   so `ClosingWebSocket` hears ws start its half of the handshake); messages that arrive after
 *   it are dropped (ws would still emit the frames it had buffered);
 * - `send` drops a message while more than `maxBackpressure` bytes are unsent (2), and with
 *   `closeOnBackpressureLimit` closes the socket (1006, no close frame, as uWS);
 * - a message over `maxPayloadLength` closes the socket with 1009 (ws's `maxPayload`);
 * - a socket silent for `idleTimeout` seconds is closed (1006); half-way it is pinged, and any
 *   frame, a pong included, counts as heard — uWS's automatic pings;
 * - topics are kept per app (`Topics`): `publish` reaches every subscriber across routes.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import type { TransportSocket, TransportSocketBehavior } from './types.ts'

const EMPTY = new ArrayBuffer(0)
/** uWS's defaults. */
const DEFAULT_MAX_PAYLOAD = 16 * 1024
const DEFAULT_MAX_BACKPRESSURE = 64 * 1024
const DEFAULT_IDLE_TIMEOUT_S = 120
const ABNORMAL_CLOSURE = 1006

/**
 * ws's WebSocket, telling when ws starts closing on its own: ws answers the peer's close frame,
 * and a frame it refuses (1009 over maxPayload, 1002), by calling `close` on the socket.
 */
class ClosingWebSocket extends WebSocket {
  onClosing: ((code: number, reason: Buffer) => void) | undefined

  override close(code?: number, data?: string | Buffer): void {
    this.onClosing?.(code ?? 1005, typeof data === 'string' ? Buffer.from(data) : (data ?? Buffer.alloc(0)))
    super.close(code, data)
  }
}

/** A ws server for handshakes only: no listening, no client list, no compression (uWS's default). */
function webSocketServer(maxPayload: number) {
  return new WebSocketServer({
    WebSocket: ClosingWebSocket,
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload,
  })
}

/** Topic → its subscribers, across the app's WebSocket routes. */
export class Topics {
  readonly #subscribers = new Map<string, Set<NodeSocket<unknown>>>()

  add(topic: string, socket: NodeSocket<unknown>): void {
    let set = this.#subscribers.get(topic)
    if (set === undefined) this.#subscribers.set(topic, (set = new Set()))
    set.add(socket)
  }

  remove(topic: string, socket: NodeSocket<unknown>): void {
    const set = this.#subscribers.get(topic)
    if (set === undefined) return
    set.delete(socket)
    if (set.size === 0) this.#subscribers.delete(topic)
  }

  count(topic: string): number {
    return this.#subscribers.get(topic)?.size ?? 0
  }

  publish(topic: string, message: string): boolean {
    const set = this.#subscribers.get(topic)
    if (set === undefined) return false
    for (const socket of set) socket.send(message)
    return true
  }
}

/** One WebSocket route: its ws server (which holds its `maxPayload`), its behavior, its open sockets. */
export class SocketRoute<S> {
  readonly behavior: TransportSocketBehavior<S>
  readonly topics: Topics
  /** Where an exception from a behavior's callback goes (it must not reach ws's event emitter). */
  readonly report: (err: unknown, where: string) => void
  readonly #server: ReturnType<typeof webSocketServer>
  readonly #sockets = new Set<NodeSocket<S>>()
  readonly #idleMs: number
  #sweeper: NodeJS.Timeout | undefined

  constructor(behavior: TransportSocketBehavior<S>, topics: Topics, report: (err: unknown, where: string) => void) {
    this.behavior = behavior
    this.topics = topics
    this.report = report
    this.#idleMs = (behavior.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_S) * 1000
    this.#server = webSocketServer(behavior.maxPayloadLength ?? DEFAULT_MAX_PAYLOAD)
  }

  /** Completes the handshake of an admitted upgrade; the socket carries `userData`. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, userData: S): void {
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      const wrapped = new NodeSocket(ws, userData, this)
      this.#sockets.add(wrapped)
      if (this.#idleMs > 0) this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(4000, this.#idleMs / 4)).unref()
      this.call('open', () => this.behavior.open?.(wrapped))
    })
  }

  /** Runs a behavior callback; what it throws is reported, never thrown into ws. */
  call(where: string, callback: () => void): void {
    try {
      callback()
    } catch (err: unknown) {
      this.report(err, where)
    }
  }

  /** Forgets a closed socket. */
  closed(socket: NodeSocket<S>): void {
    this.#sockets.delete(socket)
  }

  /** Closes every socket at once (1006), for the app's close. */
  terminateAll(): void {
    for (const socket of this.#sockets) socket.terminate()
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
  }

  #sweep(): void {
    const now = performance.now()
    for (const socket of this.#sockets) socket.checkIdle(now, this.#idleMs)
    if (this.#sockets.size === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
    }
  }
}

export class NodeSocket<S> implements TransportSocket<S> {
  readonly #ws: ClosingWebSocket
  readonly #userData: S
  readonly #route: SocketRoute<S>
  readonly #behavior: TransportSocketBehavior<S>
  readonly #topics: Topics
  readonly #held = new Set<string>()
  #closed = false
  #heardMs = performance.now()
  #pinged = false

  constructor(ws: ClosingWebSocket, userData: S, route: SocketRoute<S>) {
    this.#ws = ws
    this.#userData = userData
    this.#route = route
    this.#behavior = route.behavior
    this.#topics = route.topics
    ws.binaryType = 'arraybuffer'
    ws.on('message', (data: ArrayBuffer, isBinary: boolean) => {
      if (this.#closed) return
      this.#heard()
      route.call('message', () => this.#behavior.message?.(this, data, isBinary))
    })
    ws.on('ping', () => this.#heard())
    ws.on('pong', () => this.#heard())
    // ws closes the socket after an error (1009 for a message over maxPayload, 1002 for a bad frame); 'close' follows.
    ws.on('error', () => {})
    ws.onClosing = (code, reason) => this.#finish(code, reason)
    ws.on('close', (code: number, reason: Buffer) => this.#finish(code, reason))
  }

  send(message: string, isBinary = false): number {
    if (this.#closed) return 2
    const max = this.#behavior.maxBackpressure ?? DEFAULT_MAX_BACKPRESSURE
    if (max > 0 && this.#ws.bufferedAmount > max) {
      if (this.#behavior.closeOnBackpressureLimit) this.terminate()
      return 2
    }
    this.#ws.send(message, { binary: isBinary })
    return this.#ws.bufferedAmount > 0 ? 0 : 1
  }

  end(code?: number, shortMessage?: string): void {
    if (this.#closed) return
    const reason = shortMessage ?? ''
    this.#finish(code ?? 1005, Buffer.from(reason))
    try {
      this.#ws.close(code, reason)
    } catch {
      // A code or reason ws refuses (uWS sends anything): close without the handshake.
      this.#ws.terminate()
    }
  }

  /** Closes without a close frame (uWS's `close()`); the behavior's `close` gets 1006. */
  terminate(): void {
    this.#finish(ABNORMAL_CLOSURE, Buffer.alloc(0))
    this.#ws.terminate()
  }

  getBufferedAmount(): number {
    return this.#ws.bufferedAmount
  }

  subscribe(topic: string): boolean {
    if (this.#closed) return false
    if (!this.#held.has(topic)) {
      this.#held.add(topic)
      this.#topics.add(topic, this as NodeSocket<unknown>)
    }
    return true
  }

  unsubscribe(topic: string): boolean {
    if (!this.#held.delete(topic)) return false
    this.#topics.remove(topic, this as NodeSocket<unknown>)
    return true
  }

  isSubscribed(topic: string): boolean {
    return this.#held.has(topic)
  }

  cork(cb: () => void): TransportSocket<S> {
    cb()
    return this
  }

  getUserData(): S {
    return this.#userData
  }

  /** Pings a socket silent for half of `idleMs`; closes one silent for all of it. */
  checkIdle(now: number, idleMs: number): void {
    const silent = now - this.#heardMs
    if (silent >= idleMs) this.terminate()
    else if (silent >= idleMs / 2 && !this.#pinged && this.#ws.readyState === WebSocket.OPEN) {
      this.#pinged = true
      this.#ws.ping()
    }
  }

  #heard(): void {
    this.#heardMs = performance.now()
    this.#pinged = false
  }

  #finish(code: number, reason: Buffer): void {
    if (this.#closed) return
    this.#closed = true
    for (const topic of this.#held) this.#topics.remove(topic, this as NodeSocket<unknown>)
    this.#held.clear()
    this.#route.closed(this)
    this.#route.call('close', () => this.#behavior.close?.(this, code, exact(reason)))
  }
}

function exact(bytes: Buffer): ArrayBuffer {
  return bytes.length === 0 ? EMPTY : new Uint8Array(bytes).buffer
}
