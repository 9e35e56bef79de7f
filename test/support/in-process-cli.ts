/**
 * Runs the CLI's main function in this process (runCli with the real commands and a process
 * context), capturing what it writes: fast enough for tables of invocations, and the same code
 * path `bin/kfs.mjs` takes.
 */
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { commands } from '../../main/commands/index.ts'
import type { CommandContext } from '../../main/commands/command.ts'
import { createProcessContext } from '../../main/commands/context.ts'
import { runCli } from '../../main/commands/router.ts'

const repo = fileURLToPath(new URL('../../', import.meta.url))

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * `kfs <args>` on embedded defaults under `dataDir`, logging silenced; `overrides` replace parts of
 * the context (a stop signal); `extraEnv` adds or replaces environment variables (a bad setting).
 */
export async function runKfsInProcess(
  args: readonly string[],
  dataDir: string,
  overrides: Partial<CommandContext> = {},
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (t: string) => void) => ({ write: (t: string) => (append(t), true) }) as unknown as NodeJS.WritableStream
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent', ...extraEnv }
  const code = await runCli(args, commands, (json) =>
    ({ ...createProcessContext({ json, env, cwd: repo, stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)) }), ...overrides }),
  )
  return { code, stdout, stderr }
}

/** An expected error: one clear message, never a stack trace or the "unexpected error" of a bug. */
export function assertClean(r: CliResult, what: string): void {
  assert.doesNotMatch(r.stderr, /unexpected error/, `${what}: reported as a bug:\n${r.stderr}`)
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+\)?\n/, `${what}: printed a stack trace:\n${r.stderr}`)
}
