/**
 * The node:http + ws transport's WebSockets keep uWS's semantics (serving/server/transport/
 * node-ws.ts), tested on the transport itself: `end` runs the close handler at once and once,
 * topics and publish, a message over maxPayloadLength closes with 1009, a send past
 * maxBackpressure is dropped and closes the socket, and a socket silent past idleTimeout is
 * closed while one that answers the pings stays.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { WebSocket as WsClient } from 'ws'
import { nodeTransport } from '../../../serving/server/transport/node-app.ts'
import type { Transport, TransportSocket, TransportSocketBehavior } from '../../../serving/server/transport/types.ts'
import { openWs } from './ws-client.ts'

interface State {
  readonly id: number
}

interface Recorded {
  readonly sockets: TransportSocket<State>[]
  readonly closes: [id: number, code: number][]
  readonly messages: [id: number, text: string][]
}

/** A transport with one WebSocket route at /ws whose callbacks record what happens. */
async function start(
  behavior: Partial<TransportSocketBehavior<State>> = {},
): Promise<{ transport: Transport; port: number; seen: Recorded }> {
  const transport = nodeTransport({ onError: (err) => assert.fail(`a callback threw: ${String(err)}`) })
  const seen: Recorded = { sockets: [], closes: [], messages: [] }
  let next = 0
  transport.app.ws<State>('/ws', {
    ...behavior,
    upgrade: (res, req, context) => res.upgrade({ id: next++ }, req.getHeader('sec-websocket-key'), '', '', context),
    open: (ws) => void seen.sockets.push(ws),
    message: (ws, message) => {
      const text = Buffer.from(message).toString()
      seen.messages.push([ws.getUserData().id, text])
      ws.send(`echo ${text}`)
    },
    close: (ws, code) => void seen.closes.push([ws.getUserData().id, code]),
  })
  const port = await transport.listen('127.0.0.1', 0)
  return { transport, port, seen }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

void describe('serving > node transport > WebSockets', () => {
  void test('end: the close handler runs at once, once; the client gets the code; later frames are dropped', async () => {
    const { transport, port, seen } = await start()
    try {
      const client = await openWs(port, '/ws')
      client.send('hello')
      assert.equal(await client.next(), 'echo hello')
      const ws = seen.sockets[0]!
      ws.end(1008, 'enough')
      assert.deepEqual(seen.closes, [[0, 1008]], 'the close handler ran inside end()')
      assert.equal(ws.send('late'), 2, 'a closed socket drops sends')
      client.send('after the end')
      assert.equal(await client.closed, 1008)
      assert.deepEqual(seen.closes, [[0, 1008]], 'never a second time')
      assert.deepEqual(seen.messages, [[0, 'hello']])
    } finally {
      transport.closeAll()
    }
  })

  void test('a close the client starts runs the close handler before the close is answered', async () => {
    const { transport, port, seen } = await start()
    try {
      const client = await openWs(port, '/ws')
      await until(() => seen.sockets.length === 1)
      assert.equal(await client.end(), 1000)
      assert.deepEqual(seen.closes, [[0, 1000]])
    } finally {
      transport.closeAll()
    }
  })

  void test('topics: publish reaches every subscriber; unsubscribing and closing leave the topic', async () => {
    const { transport, port, seen } = await start()
    try {
      const [a, b] = [await openWs(port, '/ws'), await openWs(port, '/ws')]
      await until(() => seen.sockets.length === 2)
      const [wa, wb] = seen.sockets as [TransportSocket<State>, TransportSocket<State>]
      assert.deepEqual([wa.subscribe('t'), wb.subscribe('t'), wb.subscribe('t')], [true, true, true])
      assert.deepEqual([transport.app.numSubscribers('t'), wa.isSubscribed('t'), wa.isSubscribed('u')], [2, true, false])
      transport.app.publish('t', 'one')
      assert.deepEqual([await a.next(), await b.next()], ['one', 'one'])
      assert.equal(wb.unsubscribe('t'), true)
      assert.equal(wb.unsubscribe('t'), false)
      transport.app.publish('t', 'two')
      assert.equal(await a.next(), 'two')
      b.send('ping')
      assert.equal(await b.next(), 'echo ping', 'b got nothing published after it left the topic')
      a.close()
      await until(() => seen.closes.length === 1)
      assert.equal(transport.app.numSubscribers('t'), 0)
      assert.equal(transport.app.publish('t', 'nobody'), false)
    } finally {
      transport.closeAll()
    }
  })

  void test('a message over maxPayloadLength closes the socket with 1009', async () => {
    const { transport, port, seen } = await start({ maxPayloadLength: 100 })
    try {
      const client = await openWs(port, '/ws')
      client.send('x'.repeat(100))
      assert.equal(await client.next(), `echo ${'x'.repeat(100)}`)
      client.send('x'.repeat(101))
      assert.equal(await client.closed, 1009)
      await until(() => seen.closes.length === 1)
      assert.deepEqual(seen.closes, [[0, 1009]])
    } finally {
      transport.closeAll()
    }
  })

  void test('past maxBackpressure a send is dropped (2) and, with closeOnBackpressureLimit, the socket closed (1006)', async () => {
    const { transport, port, seen } = await start({ maxBackpressure: 64 * 1024, closeOnBackpressureLimit: 1 })
    try {
      const client = await openWs(port, '/ws')
      client.pause()
      await until(() => seen.sockets.length === 1)
      const ws = seen.sockets[0]!
      const chunk = 'x'.repeat(256 * 1024)
      const results: number[] = []
      // The kernel's buffers fill first; then the socket's own backlog passes the limit.
      while (results.at(-1) !== 2 && results.length < 10_000) results.push(ws.send(chunk))
      assert.equal(results.at(-1), 2, `sends: ${results.length}`)
      assert.ok(
        results.slice(0, -1).every((r) => r === 0 || r === 1),
        'every send before was accepted',
      )
      assert.ok(results.includes(0), 'backpressure was reported (0) before the limit')
      assert.deepEqual(seen.closes, [[0, 1006]], 'closed at once, without a close frame')
      assert.equal(ws.send('after'), 2)
      client.resume()
      assert.equal(await client.closed, 1006)
    } finally {
      transport.closeAll()
    }
  })

  void test('idleTimeout: a socket that answers no ping is closed (1006); one that answers pings stays open', async () => {
    const { transport, port, seen } = await start({ idleTimeout: 1 })
    try {
      const silent = await openWs(port, '/ws')
      const answering = new WsClient(`ws://127.0.0.1:${port}/ws`)
      await new Promise((resolve, reject) => answering.once('open', resolve).once('error', reject))
      await until(() => seen.sockets.length === 2)
      assert.equal(await silent.closed, 1006)
      assert.deepEqual(seen.closes, [[0, 1006]])
      answering.send('still here')
      const reply = await new Promise<string>((resolve) => answering.once('message', (data: Buffer) => resolve(data.toString())))
      assert.equal(reply, 'echo still here')
      answering.close()
    } finally {
      transport.closeAll()
    }
  })
})
