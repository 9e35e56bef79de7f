/**
 * Records for the embedded log from a process that cannot open it: the log has one owner at a time
 * (adapters/local-disk/directory-lock.ts), so a `kfs replay` run while `kfs run` holds it could not write its dead
 * letters, and failed half-way through its backfill. Such a process appends them instead to a file
 * of its own beside the log (`<log dir>.pending/<pid>-<start time>-<n>.jsonl`, n the time it was
 * started in ms, made unique within the process; one JSON line per record, fsynced before the
 * append returns; `.ready.jsonl` once it is done), and the process that opens the log moves them
 * in: at its open, and every second or so while it owns the log (main/runtime.ts). A process that
 * never owns the log and runs for long (`kfs serve`'s served-feature log) hands its records over
 * in a series of such files (pending-hand-over.ts).
 *
 * Moving is at least once: a file is unlinked after its records are produced, so a crash in
 * between produces them again at the next move — dead letters are an at-least-once output already
 * (a letter twice names the same record, and re-drive works per record), and a served-feature
 * record moved twice is the same bytes twice (same request id, view, entity and served-at time),
 * which a reader drops by those fields. A file not ready whose writer still runs is left for a
 * later move. A last line without its newline was being appended when its writer died, before the
 * append returned: its writer never counted it as written (a backfill writes it again when it
 * resumes), so it is skipped — but not in a `.ready.jsonl` file, renamed only after its last append
 * returned: there it is damage. A file with a line that does not read (or a directory by a pending
 * file's name) is kept, renamed `.damaged`, and reported: its records are never dropped silently.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
} from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../../../core/logger.ts'
import type { EventLog, ProduceRecord } from '../../../ports/event-log.ts'
import { heldByOf, isRunning, startTimeOf } from '../../local-disk/directory-lock.ts'

/** Where records wait for the log in `logDir`. */
export function pendingDirOf(logDir: string): string {
  return `${logDir}.pending`
}

interface PendingLine {
  readonly topic: string
  readonly key: string | null
  readonly value: string | null
  readonly headers: Readonly<Record<string, string>>
  readonly timestampMs: number
  /** The topic's partitions if the mover has to create it (absent: 1). */
  readonly partitions?: number
}

/** `<pid>-<start time>-<n>.jsonl` while its writer may append; `….ready.jsonl` once it is done. */
const FILE = /^(\d+)-(\d*)-\d+(\.ready)?\.jsonl$/

let lastFileNumber = 0

/**
 * A new file's path in `dir`. Its number is the time in ms, but never one this process used
 * before: a writer that finishes a file and starts the next within one ms must not get the name of
 * the file it just finished (finishing the second would replace the first). Names of one process
 * sort in the order its files were started (the numbers have as many digits until the year 2286).
 */
export function newPendingPath(dir: string): string {
  lastFileNumber = Math.max(Date.now(), lastFileNumber + 1)
  return join(dir, `${process.pid}-${startTimeOf(process.pid)}-${lastFileNumber}.jsonl`)
}

/** The name `path` gets once its writer is done with it. */
export function readyPathOf(path: string): string {
  return path.replace(/\.jsonl$/, '.ready.jsonl')
}

/** The lines `append` writes for `records` (see PendingRecordsWriter.append). */
export function pendingText(topic: string, records: readonly ProduceRecord[], nowMs: number, partitions?: number): string {
  return records.map((r) => `${JSON.stringify(lineOf(topic, r, nowMs, partitions))}\n`).join('')
}

/** One process's file of records waiting for the log. */
export class PendingRecordsWriter {
  readonly dir: string
  #path: string
  #count = 0

  constructor(logDir: string) {
    this.dir = pendingDirOf(logDir)
    this.#path = newPendingPath(this.dir)
  }

  get path(): string {
    return this.#path
  }

  /** No more appends: the file may be moved into the log even while this process runs on. */
  finish(): void {
    if (this.#count === 0 || this.#path.endsWith('.ready.jsonl')) return
    const ready = readyPathOf(this.#path)
    renameSync(this.#path, ready)
    this.#path = ready
  }

  /** Records appended so far. */
  get count(): number {
    return this.#count
  }

  /**
   * Appends `records` for `topic`, stamped `nowMs` (the time they would have been produced),
   * durably. `partitions`: how many the topic gets if moving them in has to create it (else 1).
   */
  append(topic: string, records: readonly ProduceRecord[], nowMs: number, partitions?: number): void {
    if (records.length === 0) return
    const text = pendingText(topic, records, nowMs, partitions)
    mkdirSync(this.dir, { recursive: true })
    if (this.#path.endsWith('.ready.jsonl')) throw new Error('PendingRecordsWriter: append after finish')
    const fd = openSync(this.#path, 'a')
    try {
      appendFileSync(fd, text)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    this.#count += records.length
  }
}

function lineOf(topic: string, r: ProduceRecord, nowMs: number, partitions: number | undefined): PendingLine {
  const key = typeof r.key === 'string' ? Buffer.from(r.key, 'utf8') : r.key
  return {
    topic,
    key: key === null ? null : Buffer.from(key).toString('base64'),
    value: r.value === null ? null : Buffer.from(r.value).toString('base64'),
    headers: r.headers ?? {},
    timestampMs: r.timestampMs ?? nowMs,
    ...(partitions === undefined ? {} : { partitions }),
  }
}

interface PendingRecord {
  readonly topic: string
  readonly record: ProduceRecord
  readonly partitions: number | undefined
}

function recordOf(line: unknown): PendingRecord | undefined {
  if (typeof line !== 'object' || line === null) return undefined
  const l = line as Partial<PendingLine>
  const bytes = (v: unknown) => (v === null ? null : typeof v === 'string' ? Buffer.from(v, 'base64') : undefined)
  const key = bytes(l.key)
  const value = bytes(l.value)
  const headers = l.headers
  if (typeof l.topic !== 'string' || key === undefined || value === undefined || typeof l.timestampMs !== 'number')
    return undefined
  if (typeof headers !== 'object' || headers === null || Object.values(headers).some((h) => typeof h !== 'string'))
    return undefined
  const partitions = l.partitions
  if (partitions !== undefined && !(Number.isInteger(partitions) && partitions >= 1)) return undefined
  return { topic: l.topic, record: { key, value, headers, timestampMs: l.timestampMs }, partitions }
}

/** The records of one file, or the number of the first line that does not read (0: no line does, it is a directory). */
function readPending(path: string, ready: boolean): { records: PendingRecord[] } | { badLine: number } {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err: unknown) {
    // A directory by a pending file's name holds no records to move: set aside as a damaged file is, not failing every open.
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') return { badLine: 0 }
    throw err
  }
  const lines = text.split('\n')
  // '' after the last newline, or a line its writer died appending (see the header): never in a ready file.
  if (lines.pop() !== '' && ready) return { badLine: lines.length + 1 }
  const records: PendingRecord[] = []
  for (const [i, text] of lines.entries()) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return { badLine: i + 1 }
    }
    const record = recordOf(parsed)
    if (record === undefined) return { badLine: i + 1 }
    records.push(record)
  }
  return { records }
}

/** Files no running process is still writing: theirs to move. */
function movableFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((name) => {
      const writer = FILE.exec(name)
      return writer !== null && (writer[3] !== undefined || !isRunning(Number(writer[1]), writer[2]))
    })
    .sort()
}

const BATCH = 500

/**
 * Moves the records waiting beside `logDir` into `log` (the embedded log of that directory), file
 * by file; the number moved. Nothing to move leaves the log unopened; a log another process holds
 * is left to the next open (the caller fails on it at its own first use, with the lock's message).
 */
export async function movePendingRecords(logDir: string, log: EventLog, logger: Logger): Promise<number> {
  const dir = pendingDirOf(logDir)
  let moved = 0
  for (const name of movableFiles(dir)) {
    const path = join(dir, name)
    const read = readPending(path, FILE.exec(name)?.[3] !== undefined)
    if ('badLine' in read) {
      renameSync(path, `${path}.damaged`)
      logger.warn(
        { file: `${path}.damaged`, line: read.badLine },
        'records waiting for the event log do not read: kept aside, not moved into the log',
      )
      continue
    }
    const byTopic = new Map<string, { partitions: number; records: ProduceRecord[] }>()
    for (const { topic, record, partitions } of read.records) {
      const of = byTopic.get(topic) ?? { partitions: partitions ?? 1, records: [] }
      byTopic.set(topic, of)
      of.records.push(record)
    }
    try {
      for (const [topic, { partitions, records }] of byTopic) {
        await log.createTopic(topic, partitions)
        for (let i = 0; i < records.length; i += BATCH) await log.produce(topic, records.slice(i, i + BATCH))
      }
    } catch (err: unknown) {
      if (heldByOf(err) !== undefined) return moved
      throw err
    }
    unlinkSync(path)
    moved += read.records.length
    logger.info({ file: path, records: read.records.length }, 'moved records that waited for the event log into it')
  }
  return moved
}
