/**
 * The node:http transport's answer to a request its parser refuses ('clientError': bad framing, a
 * method it does not know, headers over its limit, a head or body that did not arrive in time).
 * node:http's own answer was a bare status line with no body, written at once — even while an
 * earlier request on the connection (pipelined before the bad bytes) was still being answered,
 * whose answer was then lost. Now it is the server's error body (`{"error": {"code", "message"}}`,
 * as every other refusal), written after the answer in flight, and the connection closes.
 *
 * uWebSockets.js closes such a connection without a word; that cannot be changed from here, and
 * serving's OpenAPI description says so.
 */
import type { ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'

/** What node:http passes to 'clientError': a parser error (code HPE_…, reason) or a timeout. */
type ClientError = Error & { readonly code?: string; readonly reason?: string }

interface Refusal {
  readonly status: number
  readonly code: string
  readonly message: string
}

/** The same words the router uses where uWS lets a duplicate through (router.ts). */
export const DUPLICATE_CONTENT_LENGTH = 'Content-Length is given more than once: the length of the body is ambiguous'

function refusalOf(err: ClientError): Refusal {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' }
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request line and headers are larger than 16 KiB' }
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, code: 'BAD_REQUEST', message: DUPLICATE_CONTENT_LENGTH }
    default:
      return {
        status: 400,
        code: 'BAD_REQUEST',
        message: `the request is not valid HTTP/1.1: ${err.reason ?? err.code ?? 'unreadable'}`,
      }
  }
}

/** Connections being answered: the parser reports each later chunk of the same bad stream again. */
const answering = new WeakSet<Duplex>()

/** Answers a refused request on `socket` (after the answer in flight, if any) and closes the connection. */
export function answerClientError(err: ClientError, socket: Duplex): void {
  if (answering.has(socket)) return
  // A connection reset or already closed has no reader.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  answering.add(socket)
  const { status, code, message } = refusalOf(err)
  const body = JSON.stringify({ error: { code, message } })
  const answer =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\n` +
    `Date: ${new Date().toUTCString()}\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  let written = false
  const write = (): void => {
    if (written) return
    written = true
    if (socket.writable) socket.end(answer)
    else socket.destroy()
  }
  // node:http's undocumented field: the response of the request being answered on this socket.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
  if (inFlight && !inFlight.writableFinished) {
    if (inFlight.req.complete) {
      // An earlier request, whole before the bad bytes: its answer goes first.
      inFlight.once('finish', write)
      inFlight.once('close', write)
      return
    }
    // The bad bytes are this request's own body (a broken chunk): it will never be whole.
    if (inFlight.headersSent) {
      socket.destroy()
      return
    }
  }
  write()
}
