/**
 * The node:http + ws transport: uWS's app emulated (types.ts) for where no native uWS build
 * loads. The route table matches as uWS does (route-table.ts); requests and responses are in
 * node-http.ts, WebSockets in node-ws.ts.
 *
 * Where it differs from uWS, it is by answering more: HTTP/1.0 and requests without Host are
 * served or refused with a status (uWS closes them unanswered), a request its parser refuses gets
 * the error body (node-client-errors.ts; uWS closes it unanswered), and a refused WebSocket
 * upgrade closes its connection after the answer. Timeouts follow uWS's 10-s HTTP idle timeout: an idle
 * keep-alive connection is closed after 10 s, a request head must arrive within 10 s.
 *
 * Upgrade requests: node:http hands every request with `Connection: upgrade` to the 'upgrade'
 * event, off its HTTP parser. A GET asking for a WebSocket on a WebSocket route is the route's;
 * any other (an `Upgrade: h2c` POST, say) is given back to node:http as the plain request it also
 * is — its head rewritten without the upgrade and fed to a new parser — so it is answered by the
 * HTTP routes, body and all, as uWS answers it.
 */
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { answerClientError } from './node-client-errors.ts'
import { NodeRequest, NodeResponse, splitTarget, UpgradeResponse, type NodeUpgrade } from './node-http.ts'
import { SocketRoute, Topics } from './node-ws.ts'
import { RouteTable } from './route-table.ts'
import { listenError, type HttpHandler, type Transport, type TransportApp, type TransportSocketBehavior } from './types.ts'

/** uWS's HTTP idle timeout. */
const HTTP_IDLE_TIMEOUT_MS = 10_000

export interface NodeTransportOptions {
  /** An exception a handler let escape (uWS would abort the process on it); its connection is closed. */
  readonly onError: (err: unknown, where: string) => void
}

export function nodeTransport(options: NodeTransportOptions): Transport {
  const { onError } = options
  const routes = {
    get: new RouteTable<HttpHandler>(),
    head: new RouteTable<HttpHandler>(),
    post: new RouteTable<HttpHandler>(),
    any: new RouteTable<HttpHandler>(),
  }
  const socketRoutes = new RouteTable<SocketRoute<unknown>>()
  const allSocketRoutes: SocketRoute<unknown>[] = []
  const topics = new Topics()

  const app: TransportApp = {
    get: (pattern, handler) => routes.get.add(pattern, handler),
    head: (pattern, handler) => routes.head.add(pattern, handler),
    post: (pattern, handler) => routes.post.add(pattern, handler),
    any: (pattern, handler) => routes.any.add(pattern, handler),
    ws<S>(pattern: string, behavior: TransportSocketBehavior<S>) {
      const route = new SocketRoute(behavior, topics, onError) as SocketRoute<unknown>
      socketRoutes.add(pattern, route)
      allSocketRoutes.push(route)
    },
    publish: (topic, message) => topics.publish(topic, message),
    numSubscribers: (topic) => topics.count(topic),
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const { path, query } = splitTarget(req.url)
    const method = (req.method ?? '').toLowerCase()
    const table = method === 'get' ? routes.get : method === 'post' ? routes.post : method === 'head' ? routes.head : undefined
    const hit = table?.match(path) ?? routes.any.match(path)
    if (hit === undefined) {
      res.writeHead(404, { 'Content-Length': '0' }).end()
      return
    }
    try {
      hit.value(new NodeResponse(req, res), new NodeRequest(req, method, path, query, hit.params))
    } catch (err: unknown) {
      onError(err, 'http handler')
      res.destroy()
    }
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy())
    const { path, query } = splitTarget(req.url)
    const hit = req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket' ? socketRoutes.match(path) : undefined
    if (hit === undefined) return replayAsPlainRequest(server, req, socket, head)
    const route = hit.value
    const context: NodeUpgrade = { accept: (userData) => route.accept(req, socket, head, userData) }
    try {
      const res = new UpgradeResponse(socket)
      const request = new NodeRequest(req, 'get', path, query, hit.params)
      if (route.behavior.upgrade) route.behavior.upgrade(res, request, context)
      else context.accept(undefined)
    } catch (err: unknown) {
      onError(err, 'upgrade handler')
      socket.destroy()
    }
  }

  const server: Server = createServer(
    {
      keepAliveTimeout: HTTP_IDLE_TIMEOUT_MS,
      headersTimeout: HTTP_IDLE_TIMEOUT_MS,
      requestTimeout: 3 * HTTP_IDLE_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
    onRequest,
  )
  server.on('upgrade', onUpgrade)
  server.on('connect', answerConnect(onRequest))
  server.on('clientError', answerClientError)
  // An Expect other than 100-continue: node:http would answer 417 by itself; uWS ignores it and
  // answers the request, and so does this transport.
  server.on('checkExpectation', onRequest)
  let listening = false
  const stopListening = (): void => {
    if (listening) server.close()
    listening = false
  }

  return {
    name: 'node',
    app,
    listen(host, port) {
      return new Promise<number>((resolve, reject) => {
        const failed = (err: NodeJS.ErrnoException): void => {
          server.off('listening', bound)
          reject(listenError(host, port, err.code === 'EADDRINUSE' ? 'EADDRINUSE: another process holds the port' : (err.code ?? err.message), err))
        }
        const bound = (): void => {
          server.off('error', failed)
          // From here on a server error (accept failing for want of file descriptors, say) is logged, not thrown.
          server.on('error', (err) => onError(err, 'http server'))
          listening = true
          resolve((server.address() as AddressInfo).port)
        }
        server.once('error', failed).once('listening', bound).listen(port, host)
      })
    },
    stopListening,
    closeAll() {
      stopListening()
      server.closeAllConnections()
      for (const route of allSocketRoutes) route.terminateAll()
    },
  }
}

/**
 * A CONNECT request: node:http hands it to the 'connect' event with the raw socket (a tunnel it
 * expects the server to open), and with no listener closed the connection without a word. kfs
 * opens no tunnel; the request is answered by the routes as any other method is — 405 with
 * `Allow` on a known path, 404 on any other target (`host:port`) — and the connection closes,
 * since whatever follows the head is tunnel bytes, not HTTP.
 */
function answerConnect(onRequest: (req: IncomingMessage, res: ServerResponse) => void) {
  return (req: IncomingMessage, socket: Duplex): void => {
    socket.on('error', () => socket.destroy())
    const res = new ServerResponse(req)
    res.shouldKeepAlive = false
    res.assignSocket(socket as Socket)
    res.once('finish', () => {
      res.detachSocket(socket as Socket)
      socket.end()
    })
    res.once('close', () => socket.destroy())
    onRequest(req, res)
  }
}

/**
 * Hands an upgrade request that is not a WebSocket's back to node:http as a plain request: its
 * head, rebuilt without `Upgrade` and the `upgrade` token of `Connection`, goes back in front of
 * the bytes already read, and the socket is treated as a new connection.
 */
function replayAsPlainRequest(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    let value = raw[i + 1]!
    const lower = name.toLowerCase()
    if (lower === 'upgrade') continue
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && token.toLowerCase() !== 'upgrade')
        .join(', ')
      if (value === '') continue
    }
    text += `${name}: ${value}\r\n`
  }
  socket.unshift(Buffer.concat([Buffer.from(`${text}\r\n`, 'latin1'), head]))
  server.emit('connection', socket)
}
