/**
 * Help, asked for in every spelling, for kfs and for every command: exit 0, the text on stdout and
 * nothing on stderr — under `--json` one JSON document `{"help": text}`, as every other outcome
 * prints with `--json` (README, "CLI"). Words after a help request that name nothing are a usage
 * error (exit 2), as after `--version`, not silently dropped.
 *
 * Before: `kfs apply --help --json` printed plain text on stdout, `kfs help --json` failed with
 * "unknown command '--json'" (exit 2), and `kfs --help extra`, `kfs -h --bogus` and
 * `kfs help registry extra` printed help and exited 0.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { commands } from '../../../main/commands/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-audit-help-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

/** Every way of asking for a command's help; the last one carries a mistake help still wins over. */
const COMMAND_HELP_SPELLINGS: readonly ((name: string) => string[])[] = [
  (name) => [name, '--help'],
  (name) => [name, '-h'],
  (name) => ['help', name],
  (name) => ['--help', name],
  (name) => ['-h', name],
  (name) => [name, '--bogus', '--help'],
]

const GLOBAL_HELP_SPELLINGS: readonly string[][] = [['--help'], ['-h'], ['help']]

function assertHelp(args: readonly string[], r: { code: number; stdout: string; stderr: string }, usage: RegExp): void {
  const what = `kfs ${args.join(' ')}`
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`)
  assert.equal(r.stderr, '', `${what}: wrote on stderr`)
  if (!args.includes('--json')) {
    assert.match(r.stdout, usage, `${what}: the help text on stdout`)
    return
  }
  let doc: unknown
  assert.doesNotThrow(() => (doc = JSON.parse(r.stdout)), `${what}: stdout is not one JSON document:\n${r.stdout.slice(0, 200)}`)
  assert.match((doc as { help?: string }).help ?? '', usage, `${what}: {"help": text}`)
}

void describe('cli > help for every command, in every spelling, with and without --json', () => {
  for (const command of commands) {
    for (const spelling of COMMAND_HELP_SPELLINGS) {
      for (const json of [false, true]) {
        const args = [...spelling(command.name), ...(json ? ['--json'] : [])]
        void test(`kfs ${args.join(' ')}`, async () => {
          assertHelp(args, await runKfsInProcess(args, dataDir), new RegExp(`^Usage: kfs ${command.name} `))
        })
      }
    }
  }
  for (const spelling of GLOBAL_HELP_SPELLINGS) {
    for (const args of [spelling, [...spelling, '--json'], ['--json', ...spelling]]) {
      void test(`kfs ${args.join(' ')}`, async () => {
        assertHelp(args, await runKfsInProcess(args, dataDir), /^kfs — a stream-first feature store\n/)
      })
    }
  }
})

void describe('cli > words after a help request that name nothing: exit 2', () => {
  const cases: readonly { args: string[]; message: RegExp }[] = [
    { args: ['--help', 'extra'], message: /^kfs: unknown command 'extra'/ },
    { args: ['-h', 'aply'], message: /^kfs: unknown command 'aply'\. Did you mean 'apply'\?/ },
    { args: ['-h', '--bogus'], message: /^kfs: unexpected argument '--bogus' after -h\n/ },
    { args: ['help', '--bogus'], message: /^kfs: unexpected argument '--bogus' after help\n/ },
    { args: ['help', 'registry', 'extra'], message: /^kfs: unexpected argument 'extra' after help registry\n/ },
    { args: ['--help', 'apply', 'registry'], message: /^kfs: unexpected argument 'registry' after --help apply\n/ },
  ]
  for (const { args, message } of cases) {
    for (const json of [false, true]) {
      const argv = [...args, ...(json ? ['--json'] : [])]
      void test(`kfs ${argv.join(' ')}`, async () => {
        const r = await runKfsInProcess(argv, dataDir)
        assert.equal(r.code, 2, `exit ${r.code}\n${r.stdout}${r.stderr}`)
        assert.match(r.stderr, message)
        if (json) assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'USAGE')
        else assert.equal(r.stdout, '')
      })
    }
  }
})

/**
 * One rule for every command: help wins over a mistaken option (above), but a word the command
 * cannot take beside its --help — one past what it takes, or a first word that names none of its
 * subcommands — is a usage error (exit 2), as after `kfs --help`. Before, `kfs apply --help nosuch`
 * printed help and exited 0 while `kfs --help nosuch` exited 2.
 */
void describe('cli > a word a command cannot take beside its --help: exit 2, for every command', () => {
  for (const command of commands) {
    // A word past what the command takes: its subcommand (when it has any) and valid-looking words up to its bound, then one more.
    const taken = [...(command.subcommands === undefined ? [] : [command.subcommands[0]!])]
    while (taken.length < (command.maxPositionals ?? 0)) taken.push('x')
    const spellings: readonly string[][] = [
      [command.name, '--help', ...taken, 'nosuch'],
      [command.name, '-h', ...taken, 'nosuch'],
      [command.name, ...taken, 'nosuch', '--help'],
      ...(command.subcommands === undefined
        ? []
        : [
            [command.name, 'nosuch', '--help'],
            [command.name, '-h', 'nosuch'],
          ]),
    ]
    for (const args of spellings) {
      for (const json of [false, true]) {
        const argv = [...args, ...(json ? ['--json'] : [])]
        void test(`kfs ${argv.join(' ')}`, async () => {
          const r = await runKfsInProcess(argv, dataDir)
          assert.equal(r.code, 2, `exit ${r.code}\n${r.stdout}${r.stderr}`)
          assert.match(r.stderr, new RegExp(`^kfs ${command.name}: (unexpected argument|unknown subcommand) 'nosuch'`))
          if (json) assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'USAGE')
          else assert.equal(r.stdout, '')
        })
      }
    }
    // The words it can take still get its help.
    if (taken.length > 0) {
      const argv = [command.name, ...taken, '--help']
      void test(`kfs ${argv.join(' ')}: its help`, async () => {
        assertHelp(argv, await runKfsInProcess(argv, dataDir), new RegExp(`^Usage: kfs ${command.name} `))
      })
    }
  }
})
