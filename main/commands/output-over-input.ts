/**
 * A file a command writes must not be one it reads: `kfs training-set --out labels.csv` replaced
 * the user's label file (often the only copy) with the training set, and `--out features.ts` the
 * definitions module. Checked before the command starts, as a usage error naming both; the same
 * file is found through links (real path, then device and inode).
 */
import { realpathSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { UsageError } from './usage-error.ts'

export interface ReadPath {
  /** How the user named it, for the message (`--labels`, `the definitions module`). */
  readonly what: string
  readonly path: string
}

export function refuseOutputOverInputs(flag: string, output: string, inputs: readonly ReadPath[]): void {
  const out = where(output)
  for (const input of inputs) {
    const read = where(input.path)
    if (read === undefined || out === undefined) continue
    const same = read.real === out.real || (read.dev === out.dev && read.ino === out.ino && read.ino !== undefined)
    if (same)
      throw new UsageError(
        `${flag}: ${output} is ${input.what} (${input.path}); writing it would destroy what the command reads — name another file`,
      )
  }
}

/** The real path of `path` (of its folder, for a file not yet there) and, when it exists, its device and inode. */
function where(path: string): { real: string; dev?: number; ino?: number } | undefined {
  try {
    const stats = statSync(path)
    return { real: realpathSync(path), dev: stats.dev, ino: stats.ino }
  } catch {
    try {
      return { real: join(realpathSync(dirname(path)), basename(path)) }
    } catch {
      return undefined
    }
  }
}
