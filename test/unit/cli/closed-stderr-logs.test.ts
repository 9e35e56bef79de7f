/**
 * pino's own writes to a stderr whose reader has gone (`kfs run 2>&1 | head`, a supervisor that
 * closed its end): the command still ends with its own exit code, its result on stdout. main/
 * broken-pipe.ts guards process.stdout and process.stderr; pino writes to fd 2 through its own
 * stream, so it needs its own proof.
 *
 * It did hang: pino's asynchronous destination flushes what it still holds when the process exits,
 * and that synchronous flush (sonic-boom's flushSync) retries a write that fails with EPIPE for
 * ever. Two lines logged just before kfs exits — the first still in flight, the second queued
 * behind it — were enough: the process never ended. The logger now writes synchronously
 * (main/runtime.ts createLogger), so nothing is left to flush at exit.
 *
 * Spawned: only a real pipe, closed, shows it. Each case is run with stderr open too, to show the
 * logger did write there.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'kfs-closed-stderr-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const dataDir = join(dir, 'data')

interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs node with `args`; with `closeStderr`, the reader's end of its stderr is closed before it starts. */
function run(args: readonly string[], env: Record<string, string>, closeStderr: boolean): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: repo,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), KFS_DATA_DIR: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Only a hang reaches this: it kills the child, and the exit code below says so.
      timeout: 30_000,
    })
    if (closeStderr) child.stderr.destroy()
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    if (!closeStderr) child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** kfs's logger, lines logged just before the process ends as main/cli.ts ends it. */
const LOGGING_EXIT = join(dir, 'log-then-exit.mts')
const EXIT_CODE = 3

before(async () => {
  const from = (path: string) => JSON.stringify(join(repo, path))
  writeFileSync(
    LOGGING_EXIT,
    [
      `import { dropOutputNobodyReads } from ${from('main/broken-pipe.ts')}`,
      `import { exitWhenWritten } from ${from('main/exit-when-written.ts')}`,
      `import type { KfsConfig } from ${from('main/config.ts')}`,
      `import { createLogger } from ${from('main/runtime.ts')}`,
      'dropOutputNobodyReads()',
      `const logger = createLogger({ logLevel: 'info' } as KfsConfig)`,
      `for (let i = 0; i < Number(process.argv[2]); i++) logger.warn({ i }, 'a warning nobody may read')`,
      `process.stdout.write('logged\\n')`,
      `await exitWhenWritten(${EXIT_CODE})`,
      '',
    ].join('\n'),
  )
  for (const args of [['apply'], ['produce', '--generate', '200']]) {
    const r = await runKfsInProcess(args, dataDir)
    assert.equal(r.code, 0, `kfs ${args.join(' ')}\n${r.stderr}`)
  }
})

void describe('pino writing to a closed stderr: the process ends with its own code', () => {
  for (const lines of [1, 2, 1000]) {
    void test(`kfs's logger, ${lines} line(s) logged just before exit ${EXIT_CODE}`, async () => {
      const args = [...TS_NODE_ARGS, LOGGING_EXIT, String(lines)]
      const open = await run(args, {}, false)
      assert.equal(open.code, EXIT_CODE, open.stderr)
      assert.equal(
        open.stderr.match(/"msg":"a warning nobody may read"/g)?.length,
        lines,
        `with stderr open, every line is on it:\n${open.stderr}`,
      )
      const closed = await run(args, {}, true)
      assert.deepEqual([closed.code, closed.signal, closed.stdout], [EXIT_CODE, null, 'logged\n'])
    })
  }

  void test('kfs run --until-caught-up on embedded defaults, logging at info: exit 0 and its summary', async () => {
    const args = [join(repo, 'bin/kfs.mjs'), 'run', '--until-caught-up', '--idle', '1s']
    const open = await run(args, { KFS_LOG_LEVEL: 'info' }, false)
    assert.equal(open.code, 0, open.stderr)
    assert.match(open.stderr, /^\{"level":\d+,.*"msg":"engine stopped"/m, 'with stderr open, pino logs there')
    const closed = await run(args, { KFS_LOG_LEVEL: 'info' }, true)
    assert.deepEqual([closed.code, closed.signal], [0, null])
    assert.match(closed.stdout, /^engine stopped \(caught-up\): \d+ records consumed, \d+ rows emitted, \d+ checkpoints/)
  })
})
