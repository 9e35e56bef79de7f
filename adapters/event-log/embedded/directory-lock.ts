/**
 * The embedded log's ownership of its directory: a LOCK file holding the owner's pid, and one
 * open log per directory within a process. A LOCK left by a process that died is taken over (its
 * data is recovered on open).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../../core/errors.ts'

const openDirs = new Set<string>()

export function lockDirectory(dir: string): void {
  const lockFile = join(dir, 'LOCK')
  if (openDirs.has(dir)) throw new ConfigError(`embedded log ${dir} is already open in this process`)
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' })
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    const owner = Number(readFileSync(lockFile, 'utf8'))
    if (owner !== process.pid && isAlive(owner)) throw new ConfigError(`embedded log ${dir} is in use by process ${owner}`)
    // The previous owner died without closing; its data is recovered on open.
    writeFileSync(lockFile, String(process.pid))
  }
  openDirs.add(dir)
}

export function unlockDirectory(dir: string): void {
  rmSync(join(dir, 'LOCK'), { force: true })
  openDirs.delete(dir)
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
