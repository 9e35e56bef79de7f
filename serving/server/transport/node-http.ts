/**
 * Requests and responses of the node:http transport, with uWS's semantics (types.ts):
 *
 * - a response is written whole by `end` (status, the headers in the order written, then
 *   `Connection: close` when asked and `Content-Length`), as uWS frames it;
 * - `onAborted` runs once when the connection closes before `end`; writes after that are dropped
 *   (uWS would throw; the request lifecycle never writes to an aborted response);
 * - `onData` streams the body as it arrives, then an empty last chunk.
 *
 * An upgrade request left its HTTP parser when node:http emitted it, so its answer when it is
 * refused (`UpgradeResponse`) is written by hand on the socket, which is then closed: that
 * connection cannot carry another request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { TransportRequest, TransportResponse, UpgradeContext } from './types.ts'

const EMPTY = new ArrayBuffer(0)

/** The request, its path split from its query; valid beyond the handler (uWS's is not). */
export class NodeRequest implements TransportRequest {
  readonly #message: IncomingMessage
  readonly #method: string
  readonly #path: string
  readonly #query: string | undefined
  readonly #params: readonly string[]

  constructor(message: IncomingMessage, method: string, path: string, query: string | undefined, params: readonly string[]) {
    this.#message = message
    this.#method = method
    this.#path = path
    this.#query = query
    this.#params = params
  }

  getHeader(lowerCaseKey: string): string {
    const value = this.#message.headers[lowerCaseKey]
    return value === undefined ? '' : Array.isArray(value) ? value.join(', ') : value
  }

  getParameter(index: number): string {
    return this.#params[index] ?? ''
  }

  getUrl(): string {
    return this.#path
  }

  getMethod(): string {
    return this.#method
  }

  getCaseSensitiveMethod(): string {
    return this.#message.method ?? ''
  }

  getQuery(): string | undefined {
    return this.#query
  }

  forEach(cb: (key: string, value: string) => void): void {
    const raw = this.#message.rawHeaders
    for (let i = 0; i < raw.length; i += 2) cb(raw[i]!.toLowerCase(), raw[i + 1]!)
  }
}

/** The path and the query (without '?') of a request target. */
export function splitTarget(url: string | undefined): { path: string; query: string | undefined } {
  const target = url ?? '/'
  const mark = target.indexOf('?')
  return mark === -1 ? { path: target, query: undefined } : { path: target.slice(0, mark), query: target.slice(mark + 1) }
}

/** A response buffered until `end`: the status and headers as written, like uWS's. */
abstract class BufferedResponse implements TransportResponse {
  protected status = 200
  protected reason = 'OK'
  protected readonly headers: string[] = []
  protected ended = false

  writeStatus(status: string): TransportResponse {
    const space = status.indexOf(' ')
    this.status = Number(space === -1 ? status : status.slice(0, space))
    this.reason = space === -1 ? '' : status.slice(space + 1)
    return this
  }

  writeHeader(key: string, value: string): TransportResponse {
    this.headers.push(key, value)
    return this
  }

  cork(cb: () => void): TransportResponse {
    cb()
    return this
  }

  abstract end(body?: string, closeConnection?: boolean): TransportResponse
  abstract endWithoutBody(): TransportResponse
  abstract onAborted(handler: () => void): TransportResponse
  abstract onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): TransportResponse
  abstract upgrade<S>(userData: S, key: string, protocol: string, extensions: string, context: UpgradeContext): void
}

/** A response to an ordinary request, over node's ServerResponse. */
export class NodeResponse extends BufferedResponse {
  readonly #req: IncomingMessage
  readonly #res: ServerResponse

  constructor(req: IncomingMessage, res: ServerResponse) {
    super()
    this.#req = req
    this.#res = res
  }

  end(body = '', closeConnection = false): TransportResponse {
    return this.#finish(body, closeConnection)
  }

  endWithoutBody(): TransportResponse {
    return this.#finish(undefined, false)
  }

  /** Writes the head, then `body` with its Content-Length, or (undefined) no body and no length of its own. */
  #finish(body: string | undefined, closeConnection: boolean): TransportResponse {
    if (this.ended) return this
    this.ended = true
    if (this.#res.destroyed) return this
    // Set by hand, node writes `Connection: close` and closes the connection after the response.
    if (closeConnection) this.headers.push('Connection', 'close')
    if (body !== undefined) this.headers.push('Content-Length', String(Buffer.byteLength(body)))
    this.#res.writeHead(this.status, this.reason, this.headers)
    this.#res.end(body)
    return this
  }

  onAborted(handler: () => void): TransportResponse {
    // 'close' follows a finished response too; only one that was not ended is an abort.
    this.#res.once('close', () => {
      if (!this.ended) handler()
    })
    return this
  }

  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): TransportResponse {
    // A body cut short ends in an abort (onAborted), not in an exception.
    this.#req.on('error', () => {})
    this.#req.on('data', (chunk: Buffer) => handler(exactArrayBuffer(chunk), false))
    this.#req.on('end', () => handler(EMPTY, true))
    return this
  }

  upgrade(): void {
    throw new Error('upgrade() is only valid on a WebSocket upgrade request')
  }
}

/** What the node transport passes as a behavior's upgrade context: the way to accept the socket. */
export interface NodeUpgrade {
  accept(userData: unknown): void
}

/** The answer to an upgrade request: a WebSocket (`upgrade`), or a response written on the raw socket, which then closes. */
export class UpgradeResponse extends BufferedResponse {
  readonly #socket: Duplex
  #upgraded = false

  constructor(socket: Duplex) {
    super()
    this.#socket = socket
  }

  end(body = '', _closeConnection = false): TransportResponse {
    return this.#finish(body)
  }

  endWithoutBody(): TransportResponse {
    return this.#finish(undefined)
  }

  #finish(body: string | undefined): TransportResponse {
    if (this.ended || this.#upgraded) return this
    this.ended = true
    if (this.#socket.destroyed) return this
    let head = `HTTP/1.1 ${this.status} ${this.reason}\r\n`
    for (let i = 0; i < this.headers.length; i += 2) head += `${this.headers[i]}: ${this.headers[i + 1]}\r\n`
    head += `Date: ${new Date().toUTCString()}\r\nConnection: close\r\n`
    if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`
    this.#socket.end(`${head}\r\n${body ?? ''}`)
    return this
  }

  onAborted(handler: () => void): TransportResponse {
    this.#socket.once('close', () => {
      if (!this.ended && !this.#upgraded) handler()
    })
    return this
  }

  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): TransportResponse {
    // Only GETs asking for a WebSocket are answered here: no body is read.
    handler(EMPTY, true)
    return this
  }

  upgrade<S>(userData: S, _key: string, _protocol: string, _extensions: string, context: UpgradeContext): void {
    if (this.ended || this.#upgraded) throw new Error('this upgrade request was already answered')
    this.#upgraded = true
    ;(context as NodeUpgrade).accept(userData)
  }
}

/** The chunk's bytes as an ArrayBuffer of exactly its length (a copy only when the chunk is a view into a larger one). */
function exactArrayBuffer(chunk: Buffer): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = chunk
  if (byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer) return buffer
  return new Uint8Array(chunk).buffer
}
