/**
 * The WebSocket route `/v1/subscribe` (on either transport, with uWS's semantics): subscribe/unsubscribe messages, snapshots, row
 * pushes (the router mounts it behind the request guard, which judges the upgrade) — with every
 * resource a client can make the server hold bounded:
 *
 * - subscriptions per socket (`maxSubscriptionsPerSocket`) and across the server
 *   (`maxSubscriptions`): a message that would pass either is refused whole with an error
 *   naming the limit; the socket stays open and may unsubscribe. Counts are kept per socket, so
 *   no message walks the socket's topic list (`getTopics()` on a 70,000-topic socket per message
 *   was what stalled every other client for seconds).
 * - messages per socket per second (`maxMessagesPerSecond`): beyond it messages are answered
 *   with an error and not processed; a socket that sends twice the limit in one second is closed
 *   (1008, policy violation).
 * - message size (`maxMessageBytes`): the transport closes a socket that sends more (1009).
 * - outgoing backlog: a subscribe is refused while the socket has more than a quarter of
 *   `MAX_BACKPRESSURE_BYTES` unsent or `MAX_PENDING_SNAPSHOT_READS` snapshot reads in flight, so
 *   a client that does not read cannot make the server queue for it; past the full limit the
 *   transport closes the socket.
 *
 * No exception leaves a transport callback (uWS aborts the process on one): each callback is
 * guarded, and a failure is logged with an errorId that the client's error message carries.
 */
import { isUtf8 } from 'node:buffer'
import { randomUUID } from 'node:crypto'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import type { OnlineChange } from '../../ports/online-semantics.ts'
import type { OnlineRead } from '../../ports/online-store.ts'
import { HttpError, toHttpError } from '../errors.ts'
import type { FeatureCatalog } from '../feature-catalog.ts'
import { readLookups, type Lookup, type ReaderDeps } from '../feature-reader.ts'
import { parseSubscriptionMessage, rowMessage, snapshotMessage, topicOf } from '../handlers/subscribe.ts'
import { HotCache } from '../hot-cache.ts'
import type { ServingMetrics } from '../metrics.ts'
import type { WsBehavior } from './router.ts'
import type { TransportApp, TransportSocket } from './transport/types.ts'

export interface SubscriptionLimits {
  /** Topics one socket may hold (default 10,000). */
  readonly maxSubscriptionsPerSocket?: number
  /** Topics all sockets together may hold (default 100,000). */
  readonly maxSubscriptions?: number
  /** Entries of one subscribe or unsubscribe list (default 1,000). */
  readonly maxSubscriptionsPerMessage?: number
  /** Messages one socket may send per second (default 100). */
  readonly maxMessagesPerSecond?: number
  /** Largest message accepted (default 64 KiB); a larger one closes the socket. */
  readonly maxMessageBytes?: number
}

export const SUBSCRIPTION_DEFAULTS = {
  maxSubscriptionsPerSocket: 10_000,
  maxSubscriptions: 100_000,
  maxSubscriptionsPerMessage: 1_000,
  maxMessagesPerSecond: 100,
  maxMessageBytes: 64 * 1024,
} as const satisfies Required<SubscriptionLimits>

/** Unsent bytes after which the transport closes the socket. */
export const MAX_BACKPRESSURE_BYTES = 4 * 1024 * 1024
/** Snapshot reads one socket may have in flight. */
export const MAX_PENDING_SNAPSHOT_READS = 4

interface SocketState {
  topics: number
  windowStartMs: number
  messagesInWindow: number
  pendingSnapshots: number
}

type Socket = TransportSocket<SocketState>

export interface Subscriptions {
  /** The socket handlers and limits, for the router to mount. */
  readonly behavior: WsBehavior<SocketState>
  /** A new socket's state, for an admitted upgrade. */
  socketState(): SocketState
  /** Pushes a landed row to its topic's subscribers (and drops it from the hot cache). */
  onChange(change: OnlineChange): void
  /** Closes every socket (1001), for shutdown. */
  closeAll(): void
  /** Topics held across all sockets. */
  readonly total: number
}

export function createSubscriptions(
  app: Pick<TransportApp, 'numSubscribers' | 'publish'>,
  args: {
    readonly catalog: FeatureCatalog
    readonly deps: ReaderDeps & { readonly clock: Pick<Clock, 'nowMs'> }
    readonly metrics: ServingMetrics
    readonly logger: Logger
    readonly limits: SubscriptionLimits
  },
): Subscriptions {
  const { catalog, deps, metrics, logger } = args
  const limits = { ...SUBSCRIPTION_DEFAULTS, ...args.limits }
  const perMessage = Math.min(limits.maxSubscriptionsPerMessage, limits.maxSubscriptionsPerSocket)
  const sockets = new Set<Socket>()
  let total = 0

  /** Logs an unexpected failure under a new id and returns the client's view of it. */
  /** A failure logged under an errorId the message carries; `error` is what the client is told (by default only INTERNAL). */
  const internal = (err: unknown, where: string, error: object = { code: 'INTERNAL', message: 'internal error' }): string => {
    const errorId = randomUUID()
    logger.error({ err, route: 'subscribe', where, errorId }, 'WebSocket handler failed')
    return JSON.stringify({ type: 'error', error: { ...error, errorId } })
  }

  const sendError = (ws: Socket, err: unknown): void => {
    const { status, body } = toHttpError(err)
    // A 5xx other than 503 is logged, and told with the code its HTTP answer has.
    ws.send(status < 500 || status === 503 ? JSON.stringify({ type: 'error', ...body }) : internal(err, 'message', body.error))
  }

  /** A transport callback that cannot throw: a failure is logged, and told to the client when it has an open socket. */
  const guarded =
    <A extends unknown[]>(where: string, fn: (ws: Socket, ...rest: A) => void) =>
    (ws: Socket, ...rest: A): void => {
      try {
        fn(ws, ...rest)
      } catch (err: unknown) {
        const message = internal(err, where)
        try {
          if (sockets.has(ws)) ws.send(message)
        } catch {
          // The socket closed under us; the log line is all there is to do.
        }
      }
    }

  /** False (after telling the client) when this message is over the socket's rate; closes abusers. */
  const withinRate = (ws: Socket, state: SocketState): boolean => {
    const now = deps.clock.nowMs()
    if (now - state.windowStartMs >= 1000) {
      state.windowStartMs = now
      state.messagesInWindow = 0
    }
    state.messagesInWindow++
    if (state.messagesInWindow <= limits.maxMessagesPerSecond) return true
    if (state.messagesInWindow > 2 * limits.maxMessagesPerSecond) {
      ws.end(1008, 'message rate limit exceeded')
      return false
    }
    const limit = limits.maxMessagesPerSecond
    ws.send(
      JSON.stringify({
        type: 'error',
        error: {
          code: 'RATE_LIMITED',
          message: `at most ${limit} messages per second per socket; this one was not processed`,
          limit,
        },
      }),
    )
    return false
  }

  const onMessage = (ws: Socket, message: ArrayBuffer): void => {
    const state = ws.getUserData()
    if (!withinRate(ws, state)) return
    const bytes = Buffer.from(message)
    // A text frame is UTF-8 by the protocol; a binary one decoded anyway would read a Latin-1 `café` as `caf\uFFFD`.
    if (!isUtf8(bytes)) throw new HttpError(400, 'BAD_REQUEST', 'message is not UTF-8 text')
    const { subscribe, unsubscribe, lookups } = parseSubscriptionMessage(
      bytes.toString('utf8'),
      catalog,
      perMessage,
    )
    if (subscribe.length > 0) refuseWhenBacklogged(ws, state)
    const added = new Set(subscribe.filter((t) => !ws.isSubscribed(t)))
    let removed = 0
    for (const t of new Set(unsubscribe)) if (added.has(t) || ws.isSubscribed(t)) removed++
    const after = state.topics + added.size - removed
    if (after > limits.maxSubscriptionsPerSocket) {
      throw new HttpError(
        429,
        'TOO_MANY_SUBSCRIPTIONS',
        `this socket may hold at most ${limits.maxSubscriptionsPerSocket} subscriptions; it holds ${state.topics} and this message would make it ${after} (nothing was changed)`,
        {
          limit: limits.maxSubscriptionsPerSocket,
          topics: state.topics,
        },
      )
    }
    if (total + after - state.topics > limits.maxSubscriptions && after > state.topics) {
      throw new HttpError(
        503,
        'SUBSCRIPTIONS_EXHAUSTED',
        `the server holds its limit of ${limits.maxSubscriptions} subscriptions across all sockets; try later (nothing was changed)`,
        {
          limit: limits.maxSubscriptions,
        },
      )
    }
    for (const t of added) ws.subscribe(t)
    for (const t of unsubscribe) ws.unsubscribe(t)
    total += after - state.topics
    state.topics = after
    ws.send(JSON.stringify({ type: 'subscribed', topics: after }))
    // Snapshots only of what the socket now holds: a topic the same message also unsubscribes
    // gets none (it got one, for a subscription the client had just dropped).
    const held = distinctLookups(lookups).filter((l) => ws.isSubscribed(topicOf(l.view.name, l.view.version, l.entityKey)))
    if (held.length > 0) sendSnapshots(ws, state, held)
  }

  const refuseWhenBacklogged = (ws: Socket, state: SocketState): void => {
    const buffered = ws.getBufferedAmount()
    if (buffered > MAX_BACKPRESSURE_BYTES / 4 || state.pendingSnapshots >= MAX_PENDING_SNAPSHOT_READS) {
      throw new HttpError(
        429,
        'SLOW_DOWN',
        `this socket has ${buffered} bytes not yet delivered and ${state.pendingSnapshots} snapshot reads in flight; read before subscribing again (nothing was changed)`,
      )
    }
  }

  /** Current rows for new subscriptions, in one store read; a socket closed meanwhile is skipped. */
  const sendSnapshots = (
    ws: Socket,
    state: SocketState,
    lookups: readonly { view: FeatureViewDef; entityKey: string }[],
  ): void => {
    const full = lookups.map(({ view, entityKey }) => ({ view, entityKey, features: view.features.map((f) => f.name) }))
    state.pendingSnapshots++
    readLookups(full, deps, deps.clock.nowMs()).then(
      (reads) => {
        state.pendingSnapshots--
        pushSnapshots(ws, full, reads)
      },
      (err: unknown) => {
        state.pendingSnapshots--
        snapshotFailed(ws, err)
      },
    )
  }

  const pushSnapshots = guarded('snapshot', (ws, full: readonly Lookup[], reads: readonly OnlineRead[]) => {
    if (!sockets.has(ws)) return
    // Written first: a value that cannot be read (a stored row that is not kfs's) fails the
    // message's snapshots as one error with its own code, not half of them and an INTERNAL.
    let messages: string[]
    try {
      messages = reads.map((read, i) => snapshotMessage(full[i]!.view, full[i]!.entityKey, read))
    } catch (err: unknown) {
      sendError(ws, err)
      return
    }
    ws.cork(() => {
      // 2 = dropped at the backpressure limit (the transport then closes the socket): stop sending.
      for (const message of messages) if (ws.send(message) === 2) break
    })
  })

  const snapshotFailed = guarded('snapshot', (ws, err: unknown) => {
    if (sockets.has(ws)) sendError(ws, err)
  })

  const behavior: WsBehavior<SocketState> = {
    maxPayloadLength: limits.maxMessageBytes,
    idleTimeout: 120,
    maxBackpressure: MAX_BACKPRESSURE_BYTES,
    closeOnBackpressureLimit: 1,
    open: guarded('open', (ws) => {
      sockets.add(ws)
      metrics.wsConnections.inc()
    }),
    message: guarded('message', (ws, message: ArrayBuffer) => {
      try {
        onMessage(ws, message)
      } catch (err: unknown) {
        sendError(ws, err)
      }
    }),
    close: guarded('close', (ws) => {
      sockets.delete(ws)
      total -= ws.getUserData().topics
      metrics.wsConnections.dec()
    }),
  }

  return {
    behavior,
    socketState: () => ({ topics: 0, windowStartMs: deps.clock.nowMs(), messagesInWindow: 0, pendingSnapshots: 0 }),
    onChange(change) {
      try {
        deps.cache?.delete(HotCache.key(change.view, change.version, change.entityKey))
        const topic = topicOf(change.view, change.version, change.entityKey)
        if (app.numSubscribers(topic) === 0) return
        app.publish(topic, rowMessage(change))
        metrics.wsPushes.inc()
      } catch (err: unknown) {
        // The change feed is the store's callback: a push that fails must not break it.
        logger.error({ err, route: 'subscribe', where: 'publish', errorId: randomUUID() }, 'row push failed')
      }
    },
    closeAll() {
      for (const ws of sockets) ws.end(1001, 'server shutting down')
    },
    get total() {
      return total
    },
  }
}

/** One lookup per topic: a message naming an entity twice gets one snapshot of it. */
function distinctLookups<L extends { view: FeatureViewDef; entityKey: string }>(lookups: readonly L[]): L[] {
  const seen = new Set<string>()
  return lookups.filter((l) => {
    const topic = topicOf(l.view.name, l.view.version, l.entityKey)
    if (seen.has(topic)) return false
    seen.add(topic)
    return true
  })
}
