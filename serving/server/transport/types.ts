/**
 * The transport seam: exactly the part of the uWebSockets.js API that kfs's server uses, so the
 * router, the request lifecycle and the subscriptions are written once and run on either
 * transport. uWS's own objects satisfy these types, so the uWS transport (uws.ts) hands them
 * through untouched — no wrapper on the hot path; node-app.ts emulates the same semantics on
 * node:http + ws, for where no native uWS build loads (select.ts chooses).
 *
 * The uWS rules hold for both: read everything from a request before the first await, register
 * `onAborted` before any await and never write to an aborted response, write after an await inside
 * `cork`; a WebSocket is valid from its `open` to its `close` callback.
 */
import { FeatureStoreError } from '../../../core/errors.ts'

/** The transports kfs serves on: native uWebSockets.js, or node:http + ws. */
export type TransportName = 'uws' | 'node'

/** An HTTP request as handlers see it; valid only until the handler returns (uWS rule). */
export interface TransportRequest {
  /** The header's value, '' when absent; the name in lower case. */
  getHeader(lowerCaseKey: string): string
  /** The route pattern's `:parameter` at `index`, as sent (not percent-decoded); '' past the last. */
  getParameter(index: number): string
  /** The path, without the query. */
  getUrl(): string
  /** The method in lower case. */
  getMethod(): string
  /** The method as the client sent it. */
  getCaseSensitiveMethod(): string
  /** The query string without its '?'. */
  getQuery(): string | undefined
  /** Every header as sent, a repeated one once per time (the name in lower case). */
  forEach(cb: (key: string, value: string) => void): void
}

/** The answer to one request; each write returns the response so calls chain as on uWS. */
export interface TransportResponse {
  /** A status line such as '200 OK' (serving/errors.ts `statusLine`). */
  writeStatus(status: string): TransportResponse
  writeHeader(key: string, value: string): TransportResponse
  /** Ends the response with `body`; `closeConnection` closes the connection after it. */
  end(body?: string, closeConnection?: boolean): TransportResponse
  /**
   * Ends the response without a body and without a Content-Length of its own, keeping the
   * connection: a HEAD answer writes its GET body's length as a header first (request-lifecycle.ts).
   * Called without arguments on purpose — in the pinned uWS build, a `reportedContentLength` leaves
   * the response unfinished (it waits for that many body bytes: the connection is never closed nor
   * its next request answered), and an explicit `undefined` garbles the head.
   */
  endWithoutBody(): TransportResponse
  /** Called once when the client goes away before the response ended. */
  onAborted(handler: () => void): TransportResponse
  /** The request body in chunks; the last has `isLast`. A chunk is valid only during the call. */
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): TransportResponse
  /** Runs `cb` with the writes batched into one send. */
  cork(cb: () => void): TransportResponse
  /** Turns an upgrade request into a WebSocket carrying `userData` (inside a behavior's `upgrade`). */
  upgrade<S>(
    userData: S,
    secWebSocketKey: string,
    secWebSocketProtocol: string,
    secWebSocketExtensions: string,
    context: UpgradeContext,
  ): void
}

/** What the transport gives a behavior's `upgrade` to pass back to `res.upgrade`; opaque to the server. */
export type UpgradeContext = object

/** One WebSocket, from its `open` to its `close` callback. */
export interface TransportSocket<S> {
  /** 1 sent, 0 sent but backpressure built up, 2 dropped at the backpressure limit. */
  send(message: string, isBinary?: boolean): number
  /** Closes with a close frame; the behavior's `close` runs at once. */
  end(code?: number, shortMessage?: string): void
  /** Bytes accepted by `send` and not yet written to the network. */
  getBufferedAmount(): number
  subscribe(topic: string): boolean
  unsubscribe(topic: string): boolean
  isSubscribed(topic: string): boolean
  cork(cb: () => void): TransportSocket<S>
  getUserData(): S
}

/** A WebSocket route's limits and callbacks (method syntax: a route over its own state still fits). */
export interface TransportSocketBehavior<S> {
  /** Largest message accepted; a larger one closes the socket (1009). */
  maxPayloadLength?: number
  /** Seconds a socket may stay silent (pings are sent meanwhile) before it is closed. */
  idleTimeout?: number
  /** Unsent bytes a socket may hold; a send past it is dropped. */
  maxBackpressure?: number
  /** Non-zero: a send dropped at `maxBackpressure` closes the socket. */
  closeOnBackpressureLimit?: number
  upgrade?(res: TransportResponse, req: TransportRequest, context: UpgradeContext): void
  open?(ws: TransportSocket<S>): void
  message?(ws: TransportSocket<S>, message: ArrayBuffer, isBinary: boolean): void
  close?(ws: TransportSocket<S>, code: number, message: ArrayBuffer): void
}

export type HttpHandler = (res: TransportResponse, req: TransportRequest) => void

/**
 * The route table and pub/sub. A method route wins over `any`; among patterns, a static segment
 * wins over a `:parameter`, which wins over `*` (uWS's order).
 */
export interface TransportApp {
  get(pattern: string, handler: HttpHandler): unknown
  head(pattern: string, handler: HttpHandler): unknown
  post(pattern: string, handler: HttpHandler): unknown
  any(pattern: string, handler: HttpHandler): unknown
  ws<S>(pattern: string, behavior: TransportSocketBehavior<S>): unknown
  /** Sends `message` to every socket subscribed to `topic`. */
  publish(topic: string, message: string): boolean
  numSubscribers(topic: string): number
}

/**
 * Why `listen` failed, as kfs's error: a port that cannot be bound is the operator's setting
 * (`--port`, KFS_SERVE_PORT), told in one line — not an "unexpected error" with a stack trace.
 */
export function listenError(host: string, port: number, reason: string, cause?: unknown): FeatureStoreError {
  return new FeatureStoreError('CONFIG_INVALID', `cannot listen on ${host}:${port} (${reason}); choose another with --port or KFS_SERVE_PORT`, {
    cause,
    context: { host, port },
  })
}

/** A transport: its app, and the listening socket's lifecycle. */
export interface Transport {
  readonly name: TransportName
  readonly app: TransportApp
  /** Binds (port 0 = any free port) and resolves with the bound port; rejects when it cannot. */
  listen(host: string, port: number): Promise<number>
  /** Stops accepting connections; open ones go on. */
  stopListening(): void
  /** Closes every connection, idle keep-alive ones and WebSockets included. */
  closeAll(): void
}
