/**
 * Issue #7 acceptance: `npm start` runs the whole system on embedded defaults and exits 0 after its
 * summary; every command's help is accurate (documents exactly the options the command accepts)
 * and its self-contained examples run.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { commands } from '../../../main/commands/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { TS_NODE_ARGS } from '../../support/node-ts.ts'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

void test('npm start: the whole system on embedded defaults, exit 0 with a summary', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-start-'))
  try {
    const port = await freePort()
    const r = spawnSync(process.execPath, [...TS_NODE_ARGS, join(ROOT, 'main/start.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KFS_DEMO_DIR: dir, KFS_SERVE_PORT: String(port) },
      encoding: 'utf8',
      timeout: 300_000,
    })
    assert.equal(r.status, 0, r.stderr.slice(-3000))
    const out = r.stdout + r.stderr
    assert.match(out, /Summary/)
    for (const view of ['item_clicks', 'user_clicks', 'user_purchases', 'user_big_spends']) {
      assert.match(out, new RegExp(`✓ ${view}@1: (\\d+)/\\1 live rows identical to replay \\(100\\.00%\\)`), `parity line for ${view}`)
    }
    assert.match(out, /backfilled \d+ records → \d+ rows/)
    assert.match(out, /"status":"PRESENT"/, 'serving answered with present rows')
    assert.match(out, /Built training set [0-9a-f]+: \d+ rows/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

// Help and the examples run through the CLI's main function in this process (the path bin/kfs.mjs
// takes, without a child's start-up per command): what they check is the text and the commands,
// not the process; `npm start` above and bin-kfs.test.ts cover the process.
void describe('kfs help is accurate', () => {
  for (const command of commands) {
    void test(`kfs ${command.name} --help documents exactly its options`, async () => {
      const r = await runKfsInProcess([command.name, '--help'], tmpdir())
      assert.equal(r.code, 0, r.stderr)
      const help = r.stdout + r.stderr
      const accepted = Object.keys(command.options ?? {})
      for (const name of accepted) assert.ok(help.includes(`--${name}`), `help of ${command.name} does not mention --${name}`)
      const mentioned = new Set([...command.help.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((m) => m[1]!))
      for (const name of mentioned) {
        if (name === 'json' || name === 'help') continue
        assert.ok(accepted.includes(name), `help of ${command.name} mentions --${name}, which it does not accept`)
      }
    })
  }

  void test('the self-contained examples of the help texts run on the embedded stack', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-help-'))
    try {
      // Examples that need no input files and no servers, in an order where each has what it needs.
      const examples = [
        ['apply'],
        ['produce', '--generate', '20000'],
        ['registry', 'list'],
        ['registry', 'lineage', 'clicks'],
        ['run', '--views', 'user_purchases', '--until-caught-up'],
        ['dead-letters', 'list'],
        ['verify-parity', '--views', 'user_purchases', '--json'],
        ['replay', '--online-from-offline'],
        ['compact'],
        // Compaction rewrites files; replay parity must still hold on the compacted table.
        ['verify-parity', '--views', 'user_purchases', '--json'],
      ]
      for (const args of examples) {
        const helpText = commands.find((c) => c.name === args[0])!.help
        assert.ok(helpText.includes(`kfs ${args.join(' ')}`), `example "kfs ${args.join(' ')}" is in the help of ${args[0]}`)
        const r = await runKfsInProcess(args, dir)
        assert.equal(r.code, 0, `kfs ${args.join(' ')} failed:\n${r.stderr.slice(-2000)}`)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
