/**
 * Backups of a local object store's checkpoint directories, as an operator takes and restores
 * them (docs/semantics.md §14, "A checkpoint older than the tables"): a copy of every partition's
 * checkpoint directory that holds a record, and some of them put back as the copy holds them.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** A partition's checkpoint directory (`<group>/<topic>/<partition>`, under the store's `checkpoints/`) → its files → bytes. */
export type Backup = Map<string, Map<string, Buffer>>

export async function backUp(checkpoints: string): Promise<Backup> {
  const out: Backup = new Map()
  const entries = await readdir(checkpoints, { recursive: true, withFileTypes: true }).catch(() => [])
  for (const e of entries) {
    if (!e.isFile()) continue
    const path = join(e.parentPath, e.name)
    const rel = path.slice(checkpoints.length + 1)
    const dir = rel.split('/').slice(0, 3).join('/')
    const files = out.get(dir) ?? new Map<string, Buffer>()
    files.set(rel, await readFile(path))
    out.set(dir, files)
  }
  // Only a directory holding a record: one with none is no checkpoint to go back to (§14's fresh-start guard refuses it).
  for (const [dir, files] of out) if (![...files.keys()].some((k) => /\/ckpt-\d+\.json$/.test(k))) out.delete(dir)
  return out
}

/** Puts each of `dirs` back as `backup` holds it: its files now deleted, the backup's written. */
export async function restore(checkpoints: string, backup: Backup, dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    await rm(join(checkpoints, dir), { recursive: true, force: true })
    for (const [rel, body] of backup.get(dir)!) {
      await mkdir(dirname(join(checkpoints, rel)), { recursive: true })
      await writeFile(join(checkpoints, rel), body)
    }
  }
}
