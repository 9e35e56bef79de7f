/**
 * ObjectStore on a local directory (the embedded default).
 *
 * Guarantees:
 * - `put` is atomic: readers see the old or the new body, never a partial one (temp file + fsync +
 *   rename(2), which replaces the target).
 * - `putIfAbsent` is atomic and exclusive: temp file + fsync + link(2). link fails with EEXIST when
 *   the target exists, so of N concurrent creators exactly one wins, and the target never shows a
 *   partly written body (unlike open(O_EXCL) on the final name).
 * - Both return once the object is durable: its bytes fsynced, then its directory (a new name is on
 *   disk only with its directory — a checkpoint record must not vanish in a machine crash after
 *   the tables were committed against it); a directory `put` creates is fsynced into its parent.
 * - Temp files live in `<root>/.kfs-tmp/` (same file system, so link/rename work) and are never
 *   listed. A temp file is removed by the put that made it, whatever failed — but not when the
 *   process dies mid-put (a killed `kfs run` leaves the Parquet file it was writing). So the first
 *   put of each store instance removes temp files untouched for `STALE_TEMP_MS`: no put writes
 *   a temp file for that long, and several processes may share the directory, so age is the only
 *   safe sign that nobody will finish one.
 */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { ListedObject, ObjectStore } from '../../../ports/object-store.ts'
import { SinkWriteError } from '../../../core/errors.ts'
import { assertValidKey } from '../../../ports/object-store-keys.ts'
import { makeDirDurable } from '../../local-disk/sync-dir.ts'
import { writeFileDurable } from '../../local-disk/durable-write.ts'
import { compareKeys } from '../memory/memory-object-store.ts'

const TMP_DIR = '.kfs-tmp'
/** Files stat'ed at once by `listWithTimes`: a table's location holds many thousands. */
const STAT_CONCURRENCY = 32
/** A temp file not written for this long belongs to a put that will never finish. */
export const STALE_TEMP_MS = 60 * 60_000

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined
}

/**
 * A read the file system refused for good (permission denied) is SINK_REJECTED, which no retry
 * repeats; anything else (EIO, EMFILE, EAGAIN…) may pass and stays SINK_UNAVAILABLE.
 */
export function localReadFailure(err: unknown, what: string): SinkWriteError {
  const code = errnoOf(err)
  const denied = code === 'EACCES' || code === 'EPERM'
  return new SinkWriteError(denied ? 'SINK_REJECTED' : 'SINK_UNAVAILABLE', `local object ${what} failed`, {
    cause: err,
    ...(code === undefined ? {} : { context: { errno: code } }),
  })
}

export class LocalObjectStore implements ObjectStore {
  readonly rootUri: string
  readonly #root: string
  #tempDirReady: Promise<string> | undefined

  constructor(rootDir: string) {
    this.#root = path.resolve(rootDir)
    this.rootUri = `file://${this.#root}`
  }

  #pathOf(key: string): string {
    assertValidKey(key)
    return path.join(this.#root, ...key.split('/'))
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const buf = await fs.readFile(this.#pathOf(key))
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    } catch (err: unknown) {
      const code = errnoOf(err)
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined
      throw localReadFailure(err, 'read')
    }
  }

  /** A fresh temp file name in `<root>/.kfs-tmp/` (the same file system as every key, so link and rename work). */
  async #tempPath(): Promise<string> {
    this.#tempDirReady ??= this.#prepareTempDir().catch((err: unknown) => {
      this.#tempDirReady = undefined
      throw err
    })
    return path.join(await this.#tempDirReady, `${randomUUID()}.tmp`)
  }

  async #prepareTempDir(): Promise<string> {
    const dir = path.join(this.#root, TMP_DIR)
    await fs.mkdir(dir, { recursive: true })
    await removeStaleTemps(dir, Date.now() - STALE_TEMP_MS)
    return dir
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const target = this.#pathOf(key)
    try {
      await makeDirDurable(path.dirname(target))
      await writeFileDurable(target, body, 'replace', await this.#tempPath())
    } catch (err: unknown) {
      throw new SinkWriteError('SINK_UNAVAILABLE', 'local object write failed', { cause: err })
    }
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const target = this.#pathOf(key)
    try {
      await makeDirDurable(path.dirname(target))
      await writeFileDurable(target, body, 'exclusive', await this.#tempPath())
      return true
    } catch (err: unknown) {
      if (errnoOf(err) === 'EEXIST') return false
      throw new SinkWriteError('SINK_UNAVAILABLE', 'local object create failed', { cause: err })
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await fs.rm(this.#pathOf(key), { force: true })
    } catch (err: unknown) {
      throw new SinkWriteError('SINK_UNAVAILABLE', 'local object delete failed', { cause: err })
    }
  }

  async list(prefix: string): Promise<string[]> {
    // Walk only the deepest directory the prefix names, then filter by the full string prefix.
    const slash = prefix.lastIndexOf('/')
    const dirKey = slash < 0 ? '' : prefix.slice(0, slash)
    const start = dirKey === '' ? this.#root : path.join(this.#root, ...dirKey.split('/'))
    const out: string[] = []
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries
      try {
        entries = await fs.readdir(dir, { withFileTypes: true })
      } catch (err: unknown) {
        const code = errnoOf(err)
        if (code === 'ENOENT' || code === 'ENOTDIR') return
        throw localReadFailure(err, 'list')
      }
      for (const entry of entries) {
        if (keyPrefix === '' && entry.name === TMP_DIR) continue
        const key = keyPrefix + entry.name
        if (entry.isDirectory()) {
          if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) await walk(path.join(dir, entry.name), `${key}/`)
        } else if (key.startsWith(prefix)) {
          out.push(key)
        }
      }
    }
    await walk(start, dirKey === '' ? '' : `${dirKey}/`)
    return out.sort(compareKeys)
  }

  /** `list`, each file's mtime and size stat'ed; a file deleted in between is left out, as a later listing would. */
  async listWithTimes(prefix: string): Promise<ListedObject[]> {
    const keys = await this.list(prefix)
    const out: (ListedObject | undefined)[] = Array.from({ length: keys.length })
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const i = next++
        const key = keys[i]!
        try {
          const stat = await fs.stat(this.#pathOf(key))
          out[i] = { key, lastModifiedMs: stat.mtimeMs, size: stat.size }
        } catch (err: unknown) {
          if (errnoOf(err) !== 'ENOENT') throw localReadFailure(err, 'stat')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, keys.length) }, worker))
    return out.filter((o) => o !== undefined)
  }

  uriOf(key: string): string {
    return key === '' ? this.rootUri : `${this.rootUri}/${key}`
  }
}

/** Removes the temp files in `dir` last written before `cutoffMs`; one another process removes meanwhile is no error. */
async function removeStaleTemps(dir: string, cutoffMs: number): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    const file = path.join(dir, name)
    try {
      if ((await fs.lstat(file)).mtimeMs < cutoffMs) await fs.rm(file, { force: true, recursive: true })
    } catch (err: unknown) {
      if (errnoOf(err) !== 'ENOENT') throw err
    }
  }
}
