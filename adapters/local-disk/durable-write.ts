/**
 * A file written so that both its bytes and its name survive a machine crash, and no reader ever
 * sees it half written: the bytes go to a temp file on the same file system and are fsynced, the
 * temp file is renamed over `path` ('replace') or linked to it ('exclusive': link(2) fails with
 * EEXIST when `path` exists, so of several creators exactly one wins), and then `path`'s directory
 * is fsynced (./sync-dir.ts says why). The temp file is gone afterwards, whatever failed.
 *
 * The temp file's default name is this write's own (pid and random, beside `path`): two processes —
 * or two writes in one — writing `path` at once each write their own temp file. A shared
 * `<path>.tmp` let one truncate and rewrite the other's bytes between its write and its rename or
 * link: a torn file in place. It does not contain `path`'s name, so it is no longer than a name
 * `path` may have.
 */
import { randomBytes } from 'node:crypto'
import { link, open, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { syncDir } from './sync-dir.ts'

export async function writeFileDurable(
  path: string,
  bytes: string | Uint8Array,
  mode: 'replace' | 'exclusive',
  tmp = join(dirname(path), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`),
): Promise<void> {
  let placed = false
  try {
    const handle = await open(tmp, 'w')
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    if (mode === 'replace') {
      await rename(tmp, path)
      placed = true
    } else await link(tmp, path)
  } finally {
    if (!placed) await rm(tmp, { force: true })
  }
  await syncDir(dirname(path))
}
