/**
 * Serving robustness, WebSocket: subscriptions are capped per socket and per server, messages per
 * socket are rate-limited (abusers closed), messages are bounded in size, and a flood on one
 * socket leaves every other client's HTTP requests answered. The harness clock is fixed, so
 * "per second" is one window for the whole test: counts are exact, not timing-dependent.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MAX_PENDING_SNAPSHOT_READS } from '../../../serving/server/subscriptions.ts'
import { openWs, type TestWs } from './ws-client.ts'
import { gatedStore, startServer, type TestServer } from './server-harness.ts'

interface Answer {
  readonly type: string
  readonly topics?: number
  /** The error's code, lifted from `error` (`{"type":"error","error":{code,message,…}}`) for short assertions. */
  readonly code?: string
  readonly error?: { readonly code: string; readonly message: string; readonly [k: string]: unknown }
}

const subscribe = (entities: readonly string[]): string =>
  JSON.stringify({ subscribe: entities.map((entity) => ({ view: 'user_stats', entity })) })
const unsubscribe = (entities: readonly string[]): string =>
  JSON.stringify({ unsubscribe: entities.map((entity) => ({ view: 'user_stats', entity })) })
const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

/** The next answer to a message (a `subscribed` ack or an error), skipping snapshots. */
async function answer(ws: TestWs): Promise<Answer> {
  const next = await answerOrClosed(ws)
  if (next === undefined) throw new Error('the WebSocket closed before an answer came')
  return next
}

/** The next answer, or undefined once the socket closed with every answer sent before it read. */
async function answerOrClosed(ws: TestWs): Promise<Answer | undefined> {
  for (;;) {
    const text = await ws.nextOrClosed()
    if (text === undefined) return undefined
    const message = JSON.parse(text) as Answer
    if (message.type === 'error') return { ...message, code: message.error!.code }
    if (message.type !== 'snapshot') return message
  }
}

async function subscriptionGauge(s: TestServer): Promise<number> {
  const text = await s.server.metricsText()
  const line = text.split('\n').find((l) => l.startsWith('kfs_serving_ws_subscriptions '))
  assert.ok(line, 'the gauge is exported')
  return Number(line.split(' ')[1])
}

void describe('serving > robustness > WebSocket limits', () => {
  void test('per socket: a subscribe past the cap is refused whole, the socket stays usable, unsubscribing makes room', async () => {
    const s = await startServer({ options: { subscriptions: { maxSubscriptionsPerSocket: 50, maxSubscriptionsPerMessage: 30 } } })
    const ws = await openWs(s.port, '/v1/subscribe')
    try {
      ws.send(subscribe(range('a', 20)))
      assert.deepEqual(await answer(ws), { type: 'subscribed', topics: 20 })
      ws.send(subscribe(range('b', 20)))
      assert.deepEqual(await answer(ws), { type: 'subscribed', topics: 40 })
      ws.send(subscribe(range('c', 20)))
      const refused = (await answer(ws)).error!
      assert.deepEqual([refused.code, refused.limit, refused.topics], ['TOO_MANY_SUBSCRIPTIONS', 50, 40])
      assert.match(refused.message, /at most 50 subscriptions/)
      ws.send(subscribe([...range('a', 20), ...range('c', 10)]))
      assert.deepEqual(await answer(ws), { type: 'subscribed', topics: 50 }, 'topics already held do not count twice')
      ws.send(subscribe(['one-more']))
      assert.equal((await answer(ws)).code, 'TOO_MANY_SUBSCRIPTIONS')
      ws.send(unsubscribe(range('b', 10)))
      assert.deepEqual(await answer(ws), { type: 'subscribed', topics: 40 })
      ws.send(
        JSON.stringify({
          subscribe: [{ view: 'user_stats', entity: 'one-more' }],
          unsubscribe: [{ view: 'user_stats', entity: 'a0' }],
        }),
      )
      assert.deepEqual(await answer(ws), { type: 'subscribed', topics: 40 })
      ws.send(subscribe(range('x', 31)))
      assert.match(String((await answer(ws)).error?.message), /at most 30 subscriptions per message/)
      assert.equal(await subscriptionGauge(s), 40)
    } finally {
      ws.close()
      await s.close()
    }
  })

  void test('per server: sockets together stay under maxSubscriptions; a closed socket gives its share back', async () => {
    const s = await startServer({ options: { subscriptions: { maxSubscriptions: 30, maxSubscriptionsPerSocket: 20 } } })
    const first = await openWs(s.port, '/v1/subscribe')
    const second = await openWs(s.port, '/v1/subscribe')
    try {
      first.send(subscribe(range('a', 20)))
      assert.deepEqual(await answer(first), { type: 'subscribed', topics: 20 })
      second.send(subscribe(range('b', 20)))
      const refused = (await answer(second)).error!
      assert.deepEqual([refused.code, refused.limit], ['SUBSCRIPTIONS_EXHAUSTED', 30])
      second.send(subscribe(range('b', 10)))
      assert.deepEqual(await answer(second), { type: 'subscribed', topics: 10 })
      assert.equal(await subscriptionGauge(s), 30)
      assert.equal(await first.end(), 1000)
      second.send(subscribe(range('b', 20)))
      assert.deepEqual(await answer(second), { type: 'subscribed', topics: 20 })
      assert.equal(await subscriptionGauge(s), 20)
    } finally {
      second.close()
      await s.close()
    }
  })

  void test('a message larger than maxMessageBytes closes the socket (uWS drops the connection); other sockets are unaffected', async () => {
    const s = await startServer({ options: { subscriptions: { maxMessageBytes: 1024 } } })
    const big = await openWs(s.port, '/v1/subscribe')
    const small = await openWs(s.port, '/v1/subscribe')
    try {
      big.send(subscribe(range('entity-with-a-long-name-', 40)))
      assert.ok([1006, 1009].includes(await big.closed), 'closed, with 1009 or without a close frame')
      small.send(subscribe(['u1']))
      assert.deepEqual(await answer(small), { type: 'subscribed', topics: 1 })
    } finally {
      small.close()
      await s.close()
    }
  })

  void test('flood: 700 messages of 100 subscriptions on one socket — capped, rate-limited, then closed (1008); every HTTP request of another client is answered', async (t) => {
    const cap = 1000
    const s = await startServer({ options: { subscriptions: { maxSubscriptionsPerSocket: cap, maxMessagesPerSecond: 100 } } })
    const flooder = await openWs(s.port, '/v1/subscribe')
    try {
      const answers: Answer[] = []
      const collecting = (async () => {
        for (;;) {
          const next = await answerOrClosed(flooder)
          if (next === undefined) return
          answers.push(next)
        }
      })()
      for (let m = 0; m < 700; m++) flooder.send(subscribe(range(`m${m}-`, 100)))

      // Another client keeps asking while the flood is handled.
      const latencies: number[] = []
      const statuses: number[] = []
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            const started = performance.now()
            const res = await fetch(`${s.base}/v1/features/user_stats/u1`)
            await res.arrayBuffer()
            statuses.push(res.status)
            latencies.push(performance.now() - started)
          }),
        )
      }
      assert.equal(await flooder.closed, 1008, 'the flooder is closed for its message rate')
      await collecting
      assert.deepEqual(
        statuses,
        Array.from({ length: 200 }, () => 200),
        'every request of the other client got a 200',
      )

      const acks = answers.filter((a) => a.type === 'subscribed')
      assert.ok(acks.length > 0)
      assert.ok(Math.max(...acks.map((a) => a.topics!)) <= cap, 'never more than the cap')
      const codes = answers.filter((a) => a.type === 'error').map((a) => a.code)
      assert.equal(answers.length, 200, 'messages 1–200 were each answered once; the 201st closed the socket')
      assert.equal(codes.filter((c) => c === 'RATE_LIMITED').length, 100, 'messages 101–200 were over the rate')
      assert.ok(
        codes.every((c) => c === 'RATE_LIMITED' || c === 'TOO_MANY_SUBSCRIPTIONS' || c === 'SLOW_DOWN'),
        codes.join(),
      )
      assert.equal(await subscriptionGauge(s), 0, 'the closed socket holds nothing')
      latencies.sort((a, b) => a - b)
      t.diagnostic(
        `other client during the flood: p50 ${latencies[100]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (informative)`,
      )
    } finally {
      flooder.close()
      await s.close()
    }
  })

  void test('flood within the rate: subscriptions stay capped and every message is answered', async () => {
    const cap = 500
    const s = await startServer({ options: { subscriptions: { maxSubscriptionsPerSocket: cap, maxMessagesPerSecond: 10_000 } } })
    const ws = await openWs(s.port, '/v1/subscribe')
    try {
      for (let m = 0; m < 300; m++) ws.send(subscribe(range(`m${m}-`, 100)))
      const answers: Answer[] = []
      for (let m = 0; m < 300; m++) answers.push(await answer(ws))
      const acks = answers.filter((a) => a.type === 'subscribed')
      assert.ok(acks.length >= 1 && acks.every((a) => a.topics! <= cap), JSON.stringify(acks))
      assert.ok(
        answers.every((a) => a.type === 'subscribed' || a.code === 'TOO_MANY_SUBSCRIPTIONS' || a.code === 'SLOW_DOWN'),
        JSON.stringify(answers.find((a) => a.type === 'error' && a.code !== 'TOO_MANY_SUBSCRIPTIONS' && a.code !== 'SLOW_DOWN')),
      )
      assert.ok((await subscriptionGauge(s)) <= cap)
      ws.send(subscribe(['u1']))
      assert.ok(['subscribed', 'error'].includes((await answer(ws)).type), 'the socket is still served')
    } finally {
      ws.close()
      await s.close()
    }
  })
})

void describe('serving > robustness > WebSocket backlog', () => {
  void test('a socket with MAX_PENDING_SNAPSHOT_READS snapshot reads in flight gets SLOW_DOWN and holds no new topic until they finish', async () => {
    const { store, release } = gatedStore()
    const s = await startServer({
      store,
    })
    const ws = await openWs(s.port, '/v1/subscribe')
    try {
      for (let i = 0; i < MAX_PENDING_SNAPSHOT_READS; i++) {
        ws.send(subscribe([`e${i}`]))
        assert.deepEqual(await answer(ws), { type: 'subscribed', topics: i + 1 })
      }
      ws.send(subscribe(['one-too-many']))
      const refused = await answer(ws)
      assert.equal(refused.code, 'SLOW_DOWN')
      assert.match(refused.error!.message, /4 snapshot reads in flight/)
      release()
      const snapshots: string[] = []
      while (snapshots.length < MAX_PENDING_SNAPSHOT_READS)
        snapshots.push((JSON.parse(await ws.next()) as { entity: string }).entity)
      assert.deepEqual(snapshots.sort(), ['e0', 'e1', 'e2', 'e3'])
      ws.send(subscribe(['one-too-many']))
      assert.deepEqual(await answer(ws), { type: 'subscribed', topics: MAX_PENDING_SNAPSHOT_READS + 1 })
    } finally {
      ws.close()
      await s.close()
    }
  })
})
