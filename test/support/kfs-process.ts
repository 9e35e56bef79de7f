/** Runs the real `kfs` CLI as a child process, as a user (or a supervisor) would. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { KFS_BIN } from './node-ts.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface KfsResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface KfsChild {
  readonly child: ChildProcess
  readonly done: Promise<KfsResult>
}

export function startKfs(args: readonly string[], env: Record<string, string>): KfsChild {
  const child = spawn(process.execPath, [KFS_BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KFS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<KfsResult>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })))
  return { child, done }
}

export async function runKfs(args: readonly string[], env: Record<string, string>): Promise<KfsResult> {
  const result = await startKfs(args, env).done
  if (result.code !== 0) throw new Error(`kfs ${args.join(' ')} exited ${result.code ?? result.signal}:\n${failureExcerpt(result.stderr)}`)
  return result
}

/**
 * What a failed run's stderr says: its first error-level log lines (the cause: later lines are
 * often consequences, such as the shutdown's own failures) and its tail (the outcome).
 */
export function failureExcerpt(stderr: string): string {
  const firstErrors = stderr
    .split('\n')
    .filter((line) => /"level":(50|60)/.test(line))
    .slice(0, 2)
    .map((line) => line.slice(0, 2500))
  const tail = stderr.slice(-3000)
  const unseen = firstErrors.filter((line) => !tail.includes(line))
  return unseen.length === 0 ? tail : `first errors:\n${unseen.join('\n')}\n…\n${tail}`
}
