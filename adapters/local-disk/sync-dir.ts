/**
 * Making a directory's entries durable, for the adapters that keep files on a local disk (the
 * embedded event log, the embedded online store, the local object store).
 *
 * Why: on Linux an fsync of a file makes its bytes durable, not its name. A new file, a rename or a
 * link is on disk only once the directory holding it is fsynced; until then a machine crash can
 * bring back the old name (or none) even though the file's bytes were synced. So a step that relies
 * on a name — a checkpoint record pointing at a file, a journal that must be found after a crash, a
 * rolled segment an append acknowledges — fsyncs the directory after creating or renaming, once per
 * file, never once per record.
 *
 * This is the one family every adapter may import besides its own (scripts/lint/layers.js): it
 * holds no client library and implements no port, only these file-system steps.
 */
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/**
 * Some file systems refuse fsync on a directory handle (EINVAL, EBADF) — they order directory
 * updates themselves or cannot make them durable at all. As PostgreSQL's fsync_fname does, that is
 * not a failure: there is nothing more a process can do. Any other error (EIO) is thrown.
 */
function isUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'EINVAL' || code === 'EBADF'
}

/** fsyncs the directory `dir`: the files created, renamed or linked into it so far stay after a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch (err: unknown) {
    if (!isUnsupported(err)) throw err
  } finally {
    await handle.close()
  }
}

/** syncDir for the synchronous callers (the embedded event log). */
export function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } catch (err: unknown) {
    if (!isUnsupported(err)) throw err
  } finally {
    closeSync(fd)
  }
}

/**
 * The directories from the parent of the first one `mkdir -p` created down to `dir`: each holds a
 * new entry that must be fsynced for `dir` to exist after a crash. Empty when nothing was created.
 */
function createdChain(first: string | undefined, dir: string): string[] {
  if (first === undefined) return []
  // mkdir answers the path as it was given (relative, a trailing slash kept): compare resolved.
  const top = resolve(first)
  const chain: string[] = []
  for (let d = resolve(dir); d !== top && dirname(d) !== d; d = dirname(d)) chain.push(d)
  chain.push(top, dirname(top))
  return chain
}

/** mkdir -p that also makes every directory it created durable (nothing to fsync when `dir` existed). */
export async function makeDirDurable(dir: string): Promise<void> {
  for (const d of createdChain(await mkdir(dir, { recursive: true }), dir)) await syncDir(d)
}

/** mkdir -p for the synchronous callers; made durable as makeDirDurable does when `durable` (the embedded log with fsync off: not). */
export function makeDirSync(dir: string, durable: boolean): void {
  const first = mkdirSync(dir, { recursive: true })
  if (durable) for (const d of createdChain(first, dir)) syncDirSync(d)
}
