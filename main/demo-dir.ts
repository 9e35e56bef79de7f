/**
 * The folder `npm start` (main/start.ts) clears and fills: KFS_DEMO_DIR, or .kfs/demo. Clearing
 * is `rm -rf`, so a folder named by the variable is cleared only when it is empty or one the demo
 * made (it holds DEMO_MARKER): `KFS_DEMO_DIR=` left empty in a shell resolved to the working
 * directory and `KFS_DEMO_DIR=/` to the root, and both were deleted.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { resolve } from 'node:path'

export const DEFAULT_DEMO_DIR = '.kfs/demo'
/** Written into the folder the demo makes, so a later run knows it may clear it. */
export const DEMO_MARKER = '.kfs-demo'

/** The folder to use, or why the one KFS_DEMO_DIR names must not be cleared (a usage error). */
export function demoDir(env: Readonly<Record<string, string | undefined>>, cwd: string): { dir: string } | { problem: string } {
  const given = env.KFS_DEMO_DIR?.trim()
  // Empty counts as unset, as for every KFS_* variable (main/config-source.ts).
  if (given === undefined || given === '') return { dir: resolve(cwd, DEFAULT_DEMO_DIR) }
  const dir = resolve(cwd, given)
  if (!existsSync(dir)) return { dir }
  const refuse = (why: string) => ({
    problem: `KFS_DEMO_DIR=${JSON.stringify(given)} names ${dir}, ${why}; npm start deletes everything in its folder, so name a new or empty folder (or unset KFS_DEMO_DIR for ${DEFAULT_DEMO_DIR})`,
  })
  if (!statSync(dir).isDirectory()) return refuse('which is not a folder')
  const entries = readdirSync(dir)
  if (entries.length === 0 || entries.includes(DEMO_MARKER)) return { dir }
  return refuse(
    `a folder holding files the demo did not make (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})`,
  )
}
