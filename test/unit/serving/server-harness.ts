/**
 * A real `createServer` on a free port over the embedded online store, for unit tests that need
 * the HTTP/WebSocket layer but not Redis; plus a logger that keeps its lines and raw-socket HTTP
 * for requests fetch() cannot send (HTTP/1.0, no Host, odd methods).
 *
 * The transport is the server's own choice (`auto`) unless KFS_SERVE_TRANSPORT names one
 * (`uws`, `node`), read at each start: node-transport.test.ts sets it to run the serving
 * contract suites on node:http + ws as well. `TestServer.transport` tells a test which one runs,
 * for the few answers that differ by transport.
 */
import { connect } from 'node:net'
import type { Logger } from '../../../core/logger.ts'
import type { FeatureServiceDef, FeatureViewDef, RequestFeatureDef } from '../../../features/types.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import type { ServingStore } from '../../../ports/serving-store.ts'
import {
  createServer,
  type FeatureServer,
  type ServerOptions,
  type TransportChoice,
  type TransportName,
} from '../../../serving/server/index.ts'
import { row } from '../../contracts/online-store.ts'
import { allViews, itemStats, userStats } from './fixtures.ts'

export const NOW = 1_700_000_000_000

export interface LogLine {
  readonly level: string
  readonly obj: Record<string, unknown>
  readonly msg: string | undefined
}

export function captureLogger(lines: LogLine[] = []): Logger & { readonly lines: LogLine[] } {
  const at =
    (level: string) =>
    (objOrMsg: object | string, msg?: string): void => {
      if (typeof objOrMsg === 'string') lines.push({ level, obj: {}, msg: objOrMsg })
      else lines.push({ level, obj: objOrMsg as Record<string, unknown>, msg })
    }
  const logger = {
    lines,
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    child: () => logger,
  }
  return logger
}

export interface TestServer {
  readonly server: FeatureServer
  readonly port: number
  readonly base: string
  readonly logs: LogLine[]
  readonly store: EmbeddedOnlineStore
  /** The transport serving (uws or node). */
  readonly transport: TransportName
  close(): Promise<void>
}

/** The transport KFS_SERVE_TRANSPORT asks the tests for (`auto` when unset). */
export function requestedTransport(): TransportChoice {
  const value = process.env.KFS_SERVE_TRANSPORT
  if (value === undefined || value === '') return 'auto'
  if (value === 'auto' || value === 'uws' || value === 'node') return value
  throw new Error(`KFS_SERVE_TRANSPORT=${value}: expected auto, uws or node`)
}

/**
 * The transports a suite that creates its own servers runs on: the one KFS_SERVE_TRANSPORT asks
 * for (`auto`: uWS where it loads) and node:http + ws, so that both are covered in one run.
 */
export function transportsUnderTest(): readonly TransportChoice[] {
  const asked = requestedTransport()
  return asked === 'node' ? ['node'] : [asked, 'node']
}

/** Starts a server on a fixed clock (NOW) with rows for u1 and item 9; `store` replaces the embedded one as the server sees it. */
export async function startServer(
  args: {
    readonly views?: readonly FeatureViewDef[]
    readonly services?: readonly FeatureServiceDef[]
    readonly requestFeatures?: readonly RequestFeatureDef[]
    readonly options?: ServerOptions
    readonly store?: (embedded: EmbeddedOnlineStore) => ServingStore
  } = {},
): Promise<TestServer> {
  const clock = { nowMs: () => NOW, sleep: async () => {} }
  const store = new EmbeddedOnlineStore({ clock })
  await store.writeRows(userStats, [row('u1', NOW - 1000, [7, 12.5, 'Oslo'])])
  await store.writeRows(itemStats, [row('9', NOW - 50, [20, ['u1', 'u2']])])
  const logger = captureLogger()
  const server = createServer({
    store: args.store ? args.store(store) : store,
    views: args.views ?? allViews,
    services: args.services ?? [],
    requestFeatures: args.requestFeatures ?? [],
    options: { clock, logger, transport: requestedTransport(), ...args.options },
  })
  const port = await server.listen(0)
  return {
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    logs: logger.lines,
    store,
    transport: server.transport.name,
    close: () => server.close(),
  }
}

/** A store whose reads wait until `release()`: requests stay in flight as long as a test needs. */
export function gatedStore(): { store: (embedded: EmbeddedOnlineStore) => ServingStore; release: () => void } {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  const store = (embedded: EmbeddedOnlineStore): ServingStore => ({
    readRows: async (lookups, nowMs) => {
      await gate
      return embedded.readRows(lookups, nowMs)
    },
  })
  return { store, release: () => release() }
}

export interface RawAnswer {
  /** Everything the server sent before it closed the connection or `idleMs` passed without bytes. */
  readonly text: string
  /** Whether the server closed the connection (rather than the client giving up after idleMs). */
  readonly closedByServer: boolean
}

/**
 * Sends `request` as raw bytes on a new connection and collects the answer: until the server
 * closes the connection, until one complete response has arrived (unless `untilClose`), or until
 * `idleMs` pass without a byte.
 */
export function rawRequest(
  port: number,
  request: string | Buffer,
  options: { readonly idleMs?: number; readonly untilClose?: boolean } = {},
): Promise<RawAnswer> {
  const idleMs = options.idleMs ?? 30_000
  const headOnly = (typeof request === 'string' ? request : request.toString('latin1')).startsWith('HEAD ')
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    // Bytes, decoded once at the end: a chunk may end inside a character, and Content-Length counts bytes.
    const chunks: Buffer[] = []
    let received = 0
    let timer: NodeJS.Timeout | undefined
    const finish = (closedByServer: boolean): void => {
      clearTimeout(timer)
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.destroy()
      resolve({ text: Buffer.concat(chunks).toString('utf8'), closedByServer })
    }
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => finish(false), idleMs)
    }
    socket.on('connect', () => {
      socket.write(request)
      arm()
    })
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      received += chunk.length
      if (!options.untilClose && isComplete(Buffer.concat(chunks, received), headOnly)) return finish(false)
      arm()
    })
    socket.on('close', () => finish(true))
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

function isComplete(bytes: Buffer, headOnly: boolean): boolean {
  const end = bytes.indexOf('\r\n\r\n')
  if (end === -1) return false
  if (headOnly) return true
  const length = /\r\ncontent-length: *(\d+)/i.exec(bytes.subarray(0, end).toString('latin1'))
  return bytes.length - (end + 4) >= Number(length?.[1] ?? '0')
}

export interface ParsedResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Parses the first HTTP/1.1 response in `text` (Content-Length framed, as both transports send). */
export function parseResponse(text: string): ParsedResponse {
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 200))}`)
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  // Content-Length counts bytes, not characters.
  const length = Number(headers['content-length'] ?? '0')
  const body = Buffer.from(text.slice(end + 4), 'utf8')
    .subarray(0, length)
    .toString('utf8')
  return { status: Number(statusLine!.split(' ')[1]), headers, body }
}
