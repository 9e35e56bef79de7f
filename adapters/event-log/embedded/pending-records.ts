/**
 * Records for the embedded log from a process that cannot open it: the log has one owner at a time
 * (adapters/local-disk/directory-lock.ts), so a `kfs replay` run while `kfs run` holds it could not write its dead
 * letters, and failed half-way through its backfill. Such a process appends them instead to a file
 * of its own beside the log (`<log dir>.pending/<pid>-<start time>-<ms>.jsonl`, one JSON line per
 * record, fsynced before the append returns; `.ready.jsonl` once it is done), and the next process
 * that opens the log moves them in (main/runtime.ts).
 *
 * Moving is at least once: a file is unlinked after its records are produced, so a crash in between
 * produces them again at the next open — dead letters are an at-least-once output already (a
 * letter twice names the same record, and re-drive works per record). A file not ready whose
 * writer still runs is left for a later open. A last line without its newline was being appended when its
 * writer died, before the append returned: its writer never counted it as written (a backfill
 * writes it again when it resumes), so it is skipped. A file with a line that does not read is
 * kept, renamed `.damaged`, and reported: its records are never dropped silently.
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
}

/** `<pid>-<start time>-<ms>.jsonl` while its writer may append; `….ready.jsonl` once it is done. */
const FILE = /^(\d+)-(\d*)-\d+(\.ready)?\.jsonl$/

/** One process's file of records waiting for the log. */
export class PendingRecordsWriter {
  readonly dir: string
  #path: string
  #count = 0

  constructor(logDir: string) {
    this.dir = pendingDirOf(logDir)
    this.#path = join(this.dir, `${process.pid}-${startTimeOf(process.pid)}-${Date.now()}.jsonl`)
  }

  get path(): string {
    return this.#path
  }

  /** No more appends: the file may be moved into the log even while this process runs on. */
  finish(): void {
    if (this.#count === 0 || this.#path.endsWith('.ready.jsonl')) return
    const ready = this.#path.replace(/\.jsonl$/, '.ready.jsonl')
    renameSync(this.#path, ready)
    this.#path = ready
  }

  /** Records appended so far. */
  get count(): number {
    return this.#count
  }

  /** Appends `records` for `topic`, stamped `nowMs` (the time they would have been produced), durably. */
  append(topic: string, records: readonly ProduceRecord[], nowMs: number): void {
    if (records.length === 0) return
    const text = records.map((r) => `${JSON.stringify(lineOf(topic, r, nowMs))}\n`).join('')
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

function lineOf(topic: string, r: ProduceRecord, nowMs: number): PendingLine {
  const key = typeof r.key === 'string' ? Buffer.from(r.key, 'utf8') : r.key
  return {
    topic,
    key: key === null ? null : Buffer.from(key).toString('base64'),
    value: r.value === null ? null : Buffer.from(r.value).toString('base64'),
    headers: r.headers ?? {},
    timestampMs: r.timestampMs ?? nowMs,
  }
}

function recordOf(line: unknown): { topic: string; record: ProduceRecord } | undefined {
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
  return { topic: l.topic, record: { key, value, headers, timestampMs: l.timestampMs } }
}

/** The records of one file, or the number of the first line that does not read. */
function readPending(path: string): { records: { topic: string; record: ProduceRecord }[] } | { badLine: number } {
  const lines = readFileSync(path, 'utf8').split('\n')
  lines.pop() // '' after the last newline, or a line its writer died appending (see the header)
  const records: { topic: string; record: ProduceRecord }[] = []
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
    const read = readPending(path)
    if ('badLine' in read) {
      renameSync(path, `${path}.damaged`)
      logger.warn(
        { file: `${path}.damaged`, line: read.badLine },
        'records waiting for the event log do not read: kept aside, not moved into the log',
      )
      continue
    }
    const byTopic = new Map<string, ProduceRecord[]>()
    for (const { topic, record } of read.records) byTopic.set(topic, [...(byTopic.get(topic) ?? []), record])
    try {
      for (const [topic, records] of byTopic) {
        await log.createTopic(topic, 1)
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
