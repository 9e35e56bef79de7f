/**
 * One owner per directory, for the embedded adapters that must have a single writer (the embedded
 * event log, the embedded online store's writer): a LOCK file naming the owner (`<pid> <start>`:
 * its pid and, where /proc tells it, the process's start time), and one owner per directory
 * within a process. A LOCK left by a process that died is taken over (its data is recovered on
 * open).
 *
 * Why the start time: a pid is reused. A LOCK left by a killed process whose pid now belongs to
 * another (a restarted container numbers its processes the same way) named a live process, and
 * the directory was refused for good. A pid alive with another start time is not the owner.
 *
 * Why LOCK is linked into place whole, and taken over by a rename: two processes opening the
 * directory at once must not both own it. A LOCK created empty and then written could be read
 * empty in between (no owner: taken over); two takeovers of one stale LOCK both succeeded.
 */
import { linkSync, readFileSync, realpathSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../core/errors.ts'
import { storedFileNotAFile } from '../../core/stored-json.ts'

/** Who takes a directory, for the refusal: `what` names it (`embedded log`), `advice` says what to do when another process holds it. */
export interface LockOwner {
  readonly what: string
  readonly advice?: string
}

const EMBEDDED_LOG: LockOwner = { what: 'embedded log' }

/** The directories open in this process: each by the path it was opened with, to its real path. */
const openDirs = new Map<string, string>()

/** The process's start time (clock ticks since boot) as /proc has it; '' where there is no /proc. */
export function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, start time field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? ''
  } catch {
    return ''
  }
}

export function lockDirectory(dir: string, by: LockOwner = EMBEDDED_LOG): void {
  // By its real path: `./log` and `/abs/log` are one directory.
  const real = realpathSync(dir)
  if ([...openDirs.values()].includes(real)) throw new ConfigError(`${by.what} ${dir} is already open in this process`)
  const lockFile = join(dir, 'LOCK')
  const mine = join(dir, `LOCK.${process.pid}.new`)
  const content = `${process.pid} ${startTimeOf(process.pid)}`
  writeFileSync(mine, content)
  try {
    for (;;) {
      if (linkNew(mine, lockFile, content)) break
      const owner = readOwner(lockFile)
      if (owner === undefined) continue // removed meanwhile: try again
      if (isOwner(owner)) {
        const held = owner.pid === process.pid ? 'already open in this process' : `in use by process ${owner.pid}`
        const advice = owner.pid === process.pid || by.advice === undefined ? '' : `: ${by.advice}`
        throw new ConfigError(
          `${by.what} ${dir} is ${held}${advice} (its LOCK file names it; if that is not a kfs using ${dir}, remove the LOCK file)`,
          owner.pid === process.pid ? {} : { context: { dir, heldByPid: owner.pid } },
        )
      }
      takeOver(lockFile, owner.text)
    }
  } finally {
    rmSync(mine, { force: true })
  }
  openDirs.set(dir, real)
}

/** The pid of the other live process whose LOCK holds `err`'s directory, when `err` is lockDirectory's refusal for that. */
export function heldByOf(err: unknown): number | undefined {
  if (!(err instanceof ConfigError)) return undefined
  const pid = err.context?.['heldByPid']
  return typeof pid === 'number' ? pid : undefined
}

/** Whether process `pid`, started at `startTime` (startTimeOf; '' or undefined: unknown), still runs. */
export function isRunning(pid: number, startTime: string | undefined): boolean {
  if (!isAlive(pid)) return false
  const now = startTimeOf(pid)
  return startTime === undefined || startTime === '' || now === '' || now === startTime
}

/**
 * The pid of the live process whose LOCK holds `dir` (this process too), undefined when none
 * does — read only: a stale LOCK is left where it is, for the next owner to take over.
 */
export function liveOwnerOf(dir: string): number | undefined {
  const owner = readOwner(join(dir, 'LOCK'))
  return owner !== undefined && isOwner(owner) ? owner.pid : undefined
}

export function unlockDirectory(dir: string): void {
  rmSync(join(dir, 'LOCK'), { force: true })
  openDirs.delete(dir)
}

export interface Owner {
  readonly text: string
  readonly pid: number
  readonly startTime: string | undefined
}

export function readOwner(lockFile: string): Owner | undefined {
  let text: string
  try {
    text = readFileSync(lockFile, 'utf8')
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    // Unreadable text is a stale lock (no live pid), taken over; a directory cannot be, so it is named.
    throw (
      storedFileNotAFile(err, {
        what: `lock file ${lockFile}`,
        path: lockFile,
        advice: 'remove it (the next owner creates it again)',
      }) ?? err
    )
  }
  const [pid, startTime] = text.trim().split(' ')
  return { text, pid: Number(pid), startTime: startTime || undefined }
}

/** Whether the process the LOCK names still runs (a LOCK without a start time: any process of that pid). */
export function isOwner(owner: Owner): boolean {
  // This process, or a previous one given its pid (a restarted container): the start time tells.
  if (owner.pid === process.pid) return owner.startTime !== undefined && owner.startTime === startTimeOf(process.pid)
  return isRunning(owner.pid, owner.startTime)
}

/**
 * Removes a stale LOCK — the one read, not one another process put there since: renamed aside
 * (only one of several processes doing this at once gets it), checked, and put back if it was not.
 */
export function takeOver(lockFile: string, staleText: string): void {
  const aside = `${lockFile}.${process.pid}.stale`
  try {
    renameSync(lockFile, aside)
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // another process took it over first
    throw err
  }
  const text = readFileSync(aside, 'utf8')
  // A LOCK a live process linked after the stale one was read: back in place (unless a LOCK is there again).
  if (text !== staleText) linkNew(aside, lockFile, text)
  unlinkSync(aside)
}

/**
 * Creates `to` as `from` (holding `content`) unless `to` exists: false when it does. A hard link
 * makes it whole at once; where the file system has none (FAT, some network shares), it is created
 * exclusively and then written, as before.
 */
export function linkNew(from: string, to: string, content: string): boolean {
  try {
    linkSync(from, to)
    return true
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err
  }
  try {
    writeFileSync(to, content, { flag: 'wx' })
    return true
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err: unknown) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
