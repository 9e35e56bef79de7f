/**
 * `kfs ingest --rejects <file>`: every row the ingest rejects, one JSON object a line, so a
 * snapshot with 300 bad rows names all 300 where a user (or the cron job after the run) can read,
 * grep, fix and re-export them — the summary lists only the first few.
 *
 * A line: `{"source", "snapshot", "row", "at", "reason", "detail", "cells"}` — `row` the row's
 * 1-based number in the snapshot, `at` its file and line (CSV) or row there (a folder of Parquet
 * files) or null, `cells` the source's declared columns as the reader gave them. JSON has no
 * bigint, bytes, NaN or date: those values are written as `{"$bigint": "…"}`, `{"$bytes": base64}`,
 * `{"$double": "NaN" | "Infinity" | "-Infinity"}` and `{"$date": ISO-8601}`; timestamps are epoch
 * milliseconds, as the log holds them.
 *
 * Written atomically: lines go to a temp file beside `path` as the snapshot is read (memory holds
 * one buffer of lines, not every rejected row), which is fsynced and renamed over `path` once the
 * whole snapshot is read — before the ingest appends anything (ingest/reject-sink.ts). So `path`
 * holds this run's complete list or what it held before, never a part: a failure to write it
 * fails the run with nothing appended, and which rows are rejected depends on the snapshot alone,
 * so a run whose appends fail after it leaves a correct file that a re-run writes again, the same.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { syncDir } from '../../adapters/local-disk/sync-dir.ts'
import { FeatureStoreError } from '../../core/errors.ts'
import type { LocatedRejection, RejectSink } from '../../ingest/reject-sink.ts'

/** Lines are written a megabyte at a time: one write call per batch of bad rows, not per row. */
const FLUSH_CHARS = 1 << 20

export class RejectsFile implements RejectSink {
  readonly path: string
  readonly #source: string
  readonly #temp: string
  #fd: number | undefined
  #lines: string[] = []
  #chars = 0
  #rows = 0
  #placed = false

  /** Creates the temp file at once: a folder the process may not write into fails here, before the snapshot is read. */
  constructor(path: string, source: string) {
    this.path = path
    this.#source = source
    this.#temp = join(dirname(path), `.${basename(path)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`)
    this.#fd = this.#io(() => openSync(this.#temp, 'wx'))
  }

  /** Rejected rows written (all of them, once closed). */
  get rows(): number {
    return this.#rows
  }

  add(rejected: LocatedRejection, cells: Readonly<Record<string, unknown>>): void {
    const line = JSON.stringify({
      source: this.#source,
      snapshot: rejected.snapshot,
      row: rejected.row,
      at: rejected.at ?? null,
      reason: rejected.reason,
      detail: rejected.detail,
      cells: jsonSafe(cells),
    })
    this.#lines.push(line)
    this.#chars += line.length + 1
    this.#rows++
    if (this.#chars >= FLUSH_CHARS) this.#flush()
  }

  async close(): Promise<void> {
    this.#flush()
    const fd = this.#fd
    if (fd === undefined) throw new Error('the rejects file is already closed')
    this.#io(() => fsyncSync(fd))
    this.#fd = undefined
    this.#io(() => closeSync(fd))
    await this.#ioAsync(() => rename(this.#temp, this.path))
    this.#placed = true
    await this.#ioAsync(() => syncDir(dirname(this.path)))
  }

  /** After a failed or refused run: the temp file goes, and `path` keeps what it held. */
  async discard(): Promise<void> {
    if (this.#fd !== undefined) {
      const fd = this.#fd
      this.#fd = undefined
      closeSync(fd)
    }
    if (!this.#placed) await rm(this.#temp, { force: true })
  }

  #flush(): void {
    if (this.#lines.length === 0) return
    const fd = this.#fd
    if (fd === undefined) throw new Error('the rejects file is already closed')
    const text = `${this.#lines.join('\n')}\n`
    this.#lines = []
    this.#chars = 0
    this.#io(() => writeSync(fd, text))
  }

  #io<T>(step: () => T): T {
    try {
      return step()
    } catch (err: unknown) {
      throw this.#failure(err)
    }
  }

  async #ioAsync<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step()
    } catch (err: unknown) {
      throw this.#failure(err)
    }
  }

  #failure(err: unknown): FeatureStoreError {
    const why = err instanceof Error ? err.message : String(err)
    return new FeatureStoreError('BAD_REQUEST', `--rejects: cannot write ${this.path} (${why}); nothing was appended`, {
      cause: err,
    })
  }
}

/** `value` as JSON can carry it, every value kept (see the header for the tagged forms). */
export function jsonSafe(value: unknown): unknown {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      // JSON.stringify writes NaN and ±Infinity as null: a rejected row's value lost.
      return Number.isFinite(value) ? value : { $double: String(value) }
    case 'bigint':
      return { $bigint: value.toString() }
    case 'object': {
      if (value instanceof Uint8Array)
        return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
      if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString() }
      if (Array.isArray(value)) return value.map(jsonSafe)
      if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonSafe(v)]))
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v)
      return out
    }
    default:
      return String(value)
  }
}
