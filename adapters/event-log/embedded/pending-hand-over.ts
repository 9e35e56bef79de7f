/**
 * Handing records over to the embedded log's owner while both processes run.
 *
 * `kfs serve` never owns the embedded log (so `kfs run` starts before or after it), yet its
 * served-feature log must reach the log's topic while it runs, not only after it exits. So it
 * writes its records as pending records (pending-records.ts) in a series of files: each is finished
 * (renamed `.ready.jsonl`) at most `intervalMs` after its first record, once it holds `maxBytes`,
 * and when the writer closes; the next append starts a new file. The log's owner moves ready files
 * in every `intervalMs` (movePendingPeriodically), and at its open; a file of a writer that died
 * is moved as it was left (its last line skipped if the writer died appending it). A record is in
 * the log at most about two intervals after its append returned, while an owner runs.
 *
 * Appends are asynchronous (the serving process must not block its event loop on fsync) and run
 * one at a time, in order.
 */
import { mkdir, open, readdir, rename } from 'node:fs/promises'
import { basename } from 'node:path'
import { SinkWriteError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import type { EventLog, ProduceRecord } from '../../../ports/event-log.ts'
import { movePendingRecords, newPendingPath, pendingDirOf, pendingText, readyPathOf } from './pending-records.ts'

export interface HandOverOptions {
  /** A file is finished at most this long after its first record. */
  readonly intervalMs: number
  /** A file is finished once it holds this many bytes. */
  readonly maxBytes: number
  /** A timed finish that failed (its file stays open for appends; the next finish tries again). */
  readonly onError: (err: unknown) => void
  /**
   * Appends are refused while this writer's files not yet moved in hold this many bytes (default
   * DEFAULT_MAX_WAITING_BYTES): with no owner running (`kfs serve` without `kfs run`) they would
   * otherwise grow until the disk is full.
   */
  readonly maxWaitingBytes?: number
}

/** Default bound of a writer's files waiting for the log's owner: 256 MiB. */
export const DEFAULT_MAX_WAITING_BYTES = 256 * 1024 * 1024

/** Default hand-over interval (KFS_EMBEDDED_LOG_HANDOVER_MS). */
export const DEFAULT_HAND_OVER_MS = 1_000

/** One process's pending records for the log, handed over file by file while it runs. */
export class HandOverWriter {
  readonly dir: string
  readonly #options: HandOverOptions
  #path: string | undefined
  #bytes = 0
  #timer: NodeJS.Timeout | undefined
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false
  /** Finished files not seen moved yet, with their sizes: what waits for the owner. */
  readonly #waiting = new Map<string, number>()
  #waitingBytes = 0

  constructor(logDir: string, options: HandOverOptions) {
    this.dir = pendingDirOf(logDir)
    this.#options = options
  }

  /**
   * Appends `records` for `topic` (created with `partitions` if it has to be), stamped `nowMs`;
   * resolves once they are on disk. A failed append leaves no part of its records behind to be
   * moved: the file is cut back to its previous records and finished.
   */
  append(topic: string, records: readonly ProduceRecord[], nowMs: number, partitions?: number): Promise<void> {
    return this.#serially(async () => {
      if (this.#closed) throw new Error('HandOverWriter: append after close')
      if (records.length === 0) return
      const text = pendingText(topic, records, nowMs, partitions)
      await this.#checkRoom(Buffer.byteLength(text))
      await mkdir(this.dir, { recursive: true })
      const path = (this.#path ??= newPendingPath(this.dir))
      const before = this.#bytes
      const file = await open(path, 'a')
      try {
        await file.appendFile(text)
        await file.sync()
      } catch (err: unknown) {
        await file.truncate(before).catch(() => {})
        await file.close().catch(() => {})
        await this.#finish().catch(() => {})
        throw err
      }
      await file.close()
      this.#bytes += Buffer.byteLength(text)
      if (this.#bytes >= this.#options.maxBytes) return this.#finish()
      // Armed by a file's first record, and again after a timed finish that failed.
      if (this.#timer === undefined) {
        this.#timer = setTimeout(() => void this.finish().catch(this.#options.onError), this.#options.intervalMs)
        this.#timer.unref()
      }
    })
  }

  /** Finishes the current file (if it has records): the owner may move it in from now on. */
  finish(): Promise<void> {
    return this.#serially(() => this.#finish())
  }

  /** Finishes the current file; later appends are refused. */
  close(): Promise<void> {
    return this.#serially(async () => {
      this.#closed = true
      await this.#finish()
    })
  }

  async #finish(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const path = this.#path
    if (path === undefined) return
    if (this.#bytes > 0) {
      await rename(path, readyPathOf(path))
      this.#waiting.set(readyPathOf(path), this.#bytes)
      this.#waitingBytes += this.#bytes
    }
    this.#path = undefined
    this.#bytes = 0
  }

  /**
   * Refuses an append of `bytes` that would take this writer's waiting files past their bound.
   * Files the owner moved in are gone from the folder: counted out when the bound is near (one
   * look at the folder), so the writer takes appends again as soon as a `kfs run` catches up.
   */
  async #checkRoom(bytes: number): Promise<void> {
    const max = this.#options.maxWaitingBytes ?? DEFAULT_MAX_WAITING_BYTES
    if (this.#waitingBytes + this.#bytes + bytes <= max) return
    const present = new Set(await readdir(this.dir).catch(() => [] as string[]))
    for (const [path, size] of this.#waiting)
      if (!present.has(basename(path))) {
        this.#waiting.delete(path)
        this.#waitingBytes -= size
      }
    if (this.#waitingBytes + this.#bytes + bytes <= max) return
    throw new SinkWriteError(
      'SINK_UNAVAILABLE',
      `${this.#waitingBytes + this.#bytes} bytes of records wait in ${this.dir} for the embedded log's owner (kfs run) to move them in: at most ${max} may; appends are refused until it does`,
      { context: { dir: this.dir } },
    )
  }

  #serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step)
    this.#queue = run.catch(() => {})
    return run
  }
}

/**
 * The owner's side: moves the records waiting beside `logDir` into `log` every `intervalMs` while
 * this process owns the log (`isOpen`), one move at a time. A tick while it does not (a `kfs replay`
 * that found the log held and keeps its letters beside it) does nothing: moving would take the log
 * the moment its owner exits, and refuse the `kfs run` started next. A move that fails is logged
 * and tried again at the next tick (the files stay where they are). `close` stops it, after the
 * move under way.
 */
export function movePendingPeriodically(
  logDir: string,
  log: EventLog & { readonly isOpen: boolean },
  logger: Logger,
  intervalMs: number,
): { close(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined
  let moving: Promise<void> | undefined
  let closed = false
  const tick = () => {
    moving = (log.isOpen ? movePendingRecords(logDir, log, logger) : Promise.resolve(0))
      .then(
        () => {},
        (err: unknown) =>
          logger.warn(
            { err, dir: pendingDirOf(logDir) },
            'cannot move records that wait for the event log into it; trying again',
          ),
      )
      .finally(() => {
        moving = undefined
        if (!closed) arm()
      })
  }
  const arm = () => {
    timer = setTimeout(tick, intervalMs)
    timer.unref()
  }
  arm()
  return {
    async close() {
      closed = true
      clearTimeout(timer)
      await moving
    },
  }
}
