/**
 * A lock held for one short read-modify-write of files in a directory (the embedded schema
 * registry's register: read the ids and the subject, write the next id and the subject), shared by
 * every process on the machine — several `kfs produce`, `kfs apply`, `kfs run` may register into
 * one directory at once.
 *
 * How: the lock file is linked into place whole naming its holder (`<pid> <start>`), as the
 * directory LOCK of ./directory-lock.ts, whose owner checks and stale takeover it reuses. Unlike
 * that LOCK (held for a process's life, a second owner refused), this one is held for milliseconds,
 * so a held lock is waited for — polled, backing off — and only a holder that keeps it past
 * `waitMs` fails the caller, naming the holder, with a retriable SourceError. A lock left by a
 * process that died mid-write is taken over at once.
 *
 * Holders in one process (two registries on one directory) queue in memory before they take the
 * file: a lock file naming this process is then always one left by an earlier process given the same
 * pid, and taken over — where no start time is known (macOS, Windows) it could not be told apart
 * from a live holder of this process otherwise.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { SourceError } from '../../core/errors.ts'
import { isOwner, linkNew, readOwner, startTimeOf, takeOver, type Owner } from './directory-lock.ts'

export interface ShortLockOptions {
  /** What holds it, for the refusal (`schema registry /data/schemas`). */
  readonly what: string
  /** How long a held lock is waited for before the caller fails. Default 60 s. */
  readonly waitMs?: number
}

/** The last holder in this process of each lock file (by resolved path), settled once it released. */
const queues = new Map<string, Promise<unknown>>()

/** Runs `body` holding the lock file `lockFile` (which must be in an existing directory), released however it ends. */
export async function withShortLock<T>(lockFile: string, options: ShortLockOptions, body: () => Promise<T>): Promise<T> {
  const key = resolve(lockFile)
  const before = queues.get(key) ?? Promise.resolve()
  const run = before.then(() => holding(lockFile, options, body))
  const settled = run.catch(() => undefined)
  queues.set(key, settled)
  try {
    return await run
  } finally {
    if (queues.get(key) === settled) queues.delete(key)
  }
}

async function holding<T>(lockFile: string, options: ShortLockOptions, body: () => Promise<T>): Promise<T> {
  const waitMs = options.waitMs ?? 60_000
  const startedMs = Date.now()
  let pauseMs = 1
  for (;;) {
    const holder = tryTake(lockFile)
    if (holder === undefined) break
    if (holder === 'gone') continue
    // This process's pid: not a holder of this process (they queue above), so one before it.
    if (holder.pid === process.pid || !isOwner(holder)) {
      takeOver(lockFile, holder.text)
      continue
    }
    if (Date.now() - startedMs > waitMs) {
      throw new SourceError(
        'SOURCE_UNAVAILABLE',
        `${options.what}: its lock ${lockFile} has been held by process ${holder.pid} for over ${waitMs} ms (if that is not a kfs, remove the file)`,
        {
          context: { lockFile, heldByPid: holder.pid },
        },
      )
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs))
    pauseMs = Math.min(pauseMs * 2, 50)
  }
  try {
    return await body()
  } finally {
    rmSync(lockFile, { force: true })
  }
}

/**
 * One attempt, synchronous start to end — so two holders in one process never interleave on the
 * `.new` file: undefined when taken, the holder when another holds it, 'gone' when it was released
 * between the link and the read.
 */
function tryTake(lockFile: string): Owner | 'gone' | undefined {
  const mine = `${lockFile}.${process.pid}.new`
  const content = `${process.pid} ${startTimeOf(process.pid)}`
  writeFileSync(mine, content)
  try {
    if (linkNew(mine, lockFile, content)) return undefined
  } finally {
    rmSync(mine, { force: true })
  }
  return readOwner(lockFile) ?? 'gone'
}
