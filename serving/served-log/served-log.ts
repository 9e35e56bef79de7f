/**
 * The served-feature log: what `kfs serve` answered, sampled per request, sent to an event-log
 * topic in batches off the request path.
 *
 * Strategy
 * 1. On the request path only two things happen: `isSampled(requestId)` (a hash, see sampling.ts)
 *    and, for sampled requests, `record()` pushing plain objects into a bounded buffer. Nothing
 *    awaits, nothing throws, nothing touches the network.
 * 2. A timer (every `flushIntervalMs`, or at once when a full batch is waiting) drains the buffer:
 *    one batch at a time, Avro-encoded (the encoder registers the schema on first use), handed to
 *    the transport. At most one send is in flight, so a slow log never multiplies connections.
 * 3. Failure is data: a full buffer, an encode failure (registry unreachable) or a failed send
 *    drops those records and counts them by reason (`stats()`, exported as a Prometheus counter by
 *    the server); a warning is logged at most once per `warnIntervalMs` with the count since the
 *    previous one. The log never retries on its own — the transport has its own short budget —
 *    because an outage must cost bounded memory, not unbounded backlog.
 *
 * Guarantees: best effort; order is kept within one server process. A record the transport did
 * not accept is dropped (counted); one it accepted is in the log at least once — the Kafka
 * producer retries a batch whose acknowledgement was lost, and on the embedded log the transport
 * writes it beside the log for the log's owner to move in, again if the owner died mid-move
 * (adapters/event-log/embedded/pending-hand-over.ts). A copy has the request id, view, entity and
 * served-at time of the first, so readers deduplicate by those.
 * A sampled request's lookups are either all buffered or all dropped together (buffer check
 * happens once per request).
 */
import { systemClock, type Clock } from '../../core/clock.ts'
import { silentLogger, type Logger } from '../../core/logger.ts'
import { isSampled } from './sampling.ts'
import { toServedEvent, viewRef, type ServedEvent, type ServedRecord } from './served-record.ts'

/** One encoded log record: its key (the view ref, so the served_lookups view reads it unshuffled) and Avro value. */
export interface ServedLogMessage {
  readonly key: string
  readonly value: Uint8Array
}

/**
 * Where the log's batches go (Kafka, or the embedded log), implemented in main/.
 *
 * Contract: `send` resolves once the log has accepted every record of the batch, and rejects
 * otherwise — the batch is then dropped by the caller, so a transport must not keep retrying for
 * long. `close` releases connections; it is called once, after the last `send` settled.
 */
export interface ServedLogTransport {
  send(records: readonly ServedLogMessage[]): Promise<void>
  close(): Promise<void>
}

/** The narrow surface request handlers see. */
export interface ServedLogRecorder {
  isSampled(requestId: string): boolean
  record(records: readonly ServedRecord[]): void
}

export type ServedLogDropReason = 'buffer_full' | 'encode_failed' | 'send_failed' | 'shutdown'

export interface ServedLogStats {
  readonly sampledRequests: number
  readonly sent: number
  readonly dropped: Readonly<Record<ServedLogDropReason, number>>
}

export interface ServedLogOptions {
  /** Fraction of requests logged, 0..1 (by request-id hash). */
  readonly sampleRate: number
  readonly maxBatchRecords?: number
  readonly flushIntervalMs?: number
  /** Records waiting to be sent, beyond which new requests' records are dropped (`buffer_full`). */
  readonly maxBufferedRecords?: number
  readonly warnIntervalMs?: number
  readonly clock?: Pick<Clock, 'nowMs'>
  readonly logger?: Logger
}

export type ServedEventEncoder = (event: ServedEvent) => Uint8Array

export class ServedLog implements ServedLogRecorder {
  readonly #transport: ServedLogTransport
  readonly #makeEncoder: () => Promise<ServedEventEncoder>
  readonly #rate: number
  readonly #maxBatch: number
  readonly #intervalMs: number
  readonly #maxBuffered: number
  readonly #warnIntervalMs: number
  readonly #clock: Pick<Clock, 'nowMs'>
  readonly #logger: Logger
  #buffer: ServedRecord[] = []
  #encoder: Promise<ServedEventEncoder> | undefined
  #timer: NodeJS.Timeout | undefined
  #draining: Promise<void> | undefined
  #closing: Promise<void> | undefined
  #sampledRequests = 0
  #sent = 0
  readonly #dropped: Record<ServedLogDropReason, number> = { buffer_full: 0, encode_failed: 0, send_failed: 0, shutdown: 0 }
  #lastWarnMs = Number.NEGATIVE_INFINITY
  #droppedSinceWarn = 0

  constructor(transport: ServedLogTransport, makeEncoder: () => Promise<ServedEventEncoder>, options: ServedLogOptions) {
    if (!(options.sampleRate >= 0 && options.sampleRate <= 1)) throw new RangeError(`sample rate must be within 0..1, got ${options.sampleRate}`)
    this.#transport = transport
    this.#makeEncoder = makeEncoder
    this.#rate = options.sampleRate
    this.#maxBatch = options.maxBatchRecords ?? 500
    this.#intervalMs = options.flushIntervalMs ?? 200
    this.#maxBuffered = options.maxBufferedRecords ?? 20_000
    this.#warnIntervalMs = options.warnIntervalMs ?? 10_000
    this.#clock = options.clock ?? systemClock
    this.#logger = (options.logger ?? silentLogger).child({ component: 'serving.served_log' })
  }

  isSampled(requestId: string): boolean {
    return isSampled(requestId, this.#rate)
  }

  record(records: readonly ServedRecord[]): void {
    if (records.length === 0) return
    this.#sampledRequests++
    if (this.#closing) return this.#drop('shutdown', records.length)
    if (this.#buffer.length + records.length > this.#maxBuffered) return this.#drop('buffer_full', records.length)
    for (const r of records) this.#buffer.push(r)
    this.#schedule()
  }

  stats(): ServedLogStats {
    return { sampledRequests: this.#sampledRequests, sent: this.#sent, dropped: { ...this.#dropped } }
  }

  /** Sends everything buffered now; resolves when those sends settled (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#drain()
  }

  /** Final flush, then the transport is closed. Records arriving later are dropped (`shutdown`). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.flush()
      await this.#transport.close().catch((err: unknown) => this.#logger.warn({ err }, 'served-log transport close failed'))
    })()
    return this.#closing
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#draining !== undefined) return
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        void this.#drain()
      },
      this.#buffer.length >= this.#maxBatch ? 0 : this.#intervalMs,
    )
    this.#timer.unref()
  }

  #drain(): Promise<void> {
    this.#draining ??= (async () => {
      while (this.#buffer.length > 0) {
        const batch = this.#buffer.length <= this.#maxBatch ? this.#buffer : this.#buffer.slice(0, this.#maxBatch)
        this.#buffer = batch === this.#buffer ? [] : this.#buffer.slice(this.#maxBatch)
        await this.#sendBatch(batch)
      }
    })().finally(() => {
      this.#draining = undefined
      if (this.#buffer.length > 0 && !this.#closing) this.#schedule()
    })
    return this.#draining
  }

  async #sendBatch(batch: readonly ServedRecord[]): Promise<void> {
    let messages: ServedLogMessage[]
    try {
      this.#encoder ??= this.#makeEncoder()
      const encode = await this.#encoder
      messages = batch.map((r) => ({ key: viewRef(r.viewName, r.viewVersion), value: encode(toServedEvent(r)) }))
    } catch (err: unknown) {
      // A registry outage: try to register again with the next batch.
      this.#encoder = undefined
      return this.#drop('encode_failed', batch.length, err)
    }
    try {
      await this.#transport.send(messages)
      this.#sent += messages.length
    } catch (err: unknown) {
      this.#drop('send_failed', messages.length, err)
    }
  }

  #drop(reason: ServedLogDropReason, count: number, err?: unknown): void {
    this.#dropped[reason] += count
    this.#droppedSinceWarn += count
    const now = this.#clock.nowMs()
    if (now - this.#lastWarnMs < this.#warnIntervalMs) return
    this.#logger.warn({ reason, count: this.#droppedSinceWarn, ...(err === undefined ? {} : { err }) }, 'served-log records dropped')
    this.#lastWarnMs = now
    this.#droppedSinceWarn = 0
  }
}
