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

void describe('kfs serve on a port another process holds', () => {
  void test('exit 1, one line naming the address and --port, no stack trace', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const port = (holder.address() as { port: number }).port
    try {
      assert.equal((await runKfsInProcess(['apply'], dataDir)).code, 0)
      const r = await runKfsInProcess(['serve', '--port', String(port)], dataDir)
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, new RegExp(`kfs serve: cannot listen on 127\\.0\\.0\\.1:${port} \\(.+\\); choose another with --port or KFS_SERVE_PORT\n$`))
      assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /)
    } finally {
      await new Promise((resolve) => holder.close(resolve))
    }
  })
})
