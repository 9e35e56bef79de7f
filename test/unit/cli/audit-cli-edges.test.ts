/**
 * Global invocations the audit corpus tries: `kfs --version` with something after it, and
 * `kfs --json` with no command. Each is a usage error (exit 2) with a message that says what is
 * wrong — not an argument silently ignored (exit 0), nor "unknown option '--json'. Did you mean
 * '--json'?".
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { after, describe, test } from 'node:test'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-audit-cli-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

void describe('kfs: global flags with nothing or too much around them', () => {
  for (const args of [['--version', 'extra'], ['-V', 'apply'], ['--version', '--bogus'], ['--json', '--version', 'x']]) {
    void test(`kfs ${args.join(' ')}: exit 2 naming the argument`, async () => {
      const r = await runKfsInProcess(args, dataDir)
      assert.equal(r.code, 2, r.stdout + r.stderr)
      assert.match(r.stderr, /^kfs: unexpected argument '(extra|apply|--bogus|x)' after (--version|-V)\n/)
      // With --json, the usage error's one error object (json-failures.test.ts); without, nothing.
      if (args.includes('--json')) assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'USAGE')
      else assert.equal(r.stdout, '')
    })
  }

  void test('kfs --version and kfs --version --json still print the version', async () => {
    assert.match((await runKfsInProcess(['--version'], dataDir)).stdout, /^kfs \d+\.\d+\.\d+\n$/)
    const json = await runKfsInProcess(['--version', '--json'], dataDir)
    assert.equal(json.code, 0)
    assert.match((JSON.parse(json.stdout) as { version: string }).version, /^\d+\.\d+\.\d+$/)
  })

  void test('kfs --json alone: exit 2, asks for a command, shows the usage', async () => {
    const r = await runKfsInProcess(['--json'], dataDir)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^kfs: --json needs a command/)
    assert.match(r.stderr, /Usage: kfs <command>/)
    assert.doesNotMatch(r.stderr, /Did you mean '--json'/)
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'USAGE')
  })
})

/**
 * A port another process holds is the environment's problem, not a usage error: `kfs serve --port`
 * and `kfs run` under KFS_METRICS_PORT both exit 1 (README, "CLI": 2 is for the command line) with
 * CONFIG_INVALID under --json, one line naming the address and the fix. Before, the busy metrics
 * port exited 2 with USAGE while the busy serve port exited 1.
 */
void describe('kfs serve on a port another process holds, and kfs run on a busy KFS_METRICS_PORT', () => {
  const invocations: readonly { what: string; args: (port: number) => string[]; env: (port: number) => Record<string, string>; says: (port: number) => RegExp }[] = [
    {
      what: 'kfs serve --port',
      args: (port) => ['serve', '--port', String(port)],
      env: () => ({}),
      says: (port) => new RegExp(`^kfs serve: cannot listen on 127\\.0\\.0\\.1:${port} \\(.+\\); choose another with --port or KFS_SERVE_PORT\n$`),
    },
    {
      what: 'kfs run under KFS_METRICS_PORT',
      args: () => ['run', '--until-caught-up', '--idle', '1s'],
      env: (port) => ({ KFS_METRICS_PORT: String(port) }),
      says: (port) => new RegExp(`^kfs run: KFS_METRICS_PORT=${port}: 127\\.0\\.0\\.1:${port} is already in use; choose a free port, or unset KFS_METRICS_PORT.*\n$`),
    },
  ]
  for (const { what, args, env, says } of invocations) {
    for (const json of [false, true]) {
      void test(`${what}${json ? ' --json' : ''}: exit 1, one line naming the address and the fix, no stack trace`, async () => {
        const holder = createServer()
        await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
        const port = (holder.address() as { port: number }).port
        try {
          assert.equal((await runKfsInProcess(['apply'], dataDir)).code, 0)
          const argv = [...args(port), ...(json ? ['--json'] : [])]
          const r = await runKfsInProcess(argv, dataDir, {}, env(port))
          assert.equal(r.code, 1, `kfs ${argv.join(' ')}\n${r.stdout}${r.stderr}`)
          assert.match(r.stderr, says(port))
          assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /)
          if (!json) return
          const body = JSON.parse(r.stdout) as { error?: { code: string; context?: { port?: number } }; consumed?: number }
          assert.equal(body.error?.code, 'CONFIG_INVALID')
          assert.equal(body.error?.context?.port, port)
          assert.equal(body.consumed, undefined, 'the engine never started')
        } finally {
          await new Promise((resolve) => holder.close(resolve))
        }
      })
    }
  }
})
