/**
 * One rule for the subcommands of every command that has them, taken from the router's table
 * (`Command.subcommands`, `Command.defaultSubcommand`), never a list kept here: an unknown,
 * misspelt or missing subcommand exits 2 with the router's one message naming every subcommand —
 * the same words for every command, on the run path and beside --help, as text on stderr and
 * under --json as the `{"error": {"code": "USAGE"}}` object every usage error prints. A command
 * with a default subcommand runs it when given none (`kfs groups` is `kfs groups list`).
 *
 * Before, registry, dead-letters and groups each worded their own on the run path ("which
 * subcommand? list, show or redrive", "unknown subcommand 'x': use …", "use list or retire
 * <group>"), and beside --help the router said "use list, show, diff, lineage" for the same mistake.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { Command } from '../../../main/commands/command.ts'
import { commands } from '../../../main/commands/index.ts'
import { runKfsInProcess, type CliResult } from '../../support/in-process-cli.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'kfs-subcommand-errors-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

const withSubcommands = commands.filter((c) => c.subcommands !== undefined)

/** A word one edit from the command's first subcommand (its last two letters swapped), so the closest. */
function misspelt(command: Command): string {
  const sub = command.subcommands![0]!
  return `${sub.slice(0, -2)}${sub.at(-1)!}${sub.at(-2)!}`
}

type Mistake = 'unknown' | 'misspelt' | 'missing'

function wordsFor(command: Command, mistake: Mistake): string[] {
  if (mistake === 'unknown') return [command.name, 'frobnicate']
  if (mistake === 'misspelt') return [command.name, misspelt(command)]
  return [command.name]
}

/**
 * The usage error's message, checked in its form: stderr is `kfs <command>: <message>` and the
 * command's usage; under --json stdout is one error object carrying the same message.
 */
function usageMessage(command: Command, r: CliResult, json: boolean): string {
  assert.equal(r.code, 2, `exit ${r.code}\n${r.stdout}${r.stderr}`)
  const human = new RegExp(
    `^kfs ${command.name}: (.+)\\nUsage: ${command.usage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\nRun kfs ${command.name} --help for details\\.\\n$`,
  )
  const message = human.exec(r.stderr)?.[1]
  assert.ok(message !== undefined, `stderr is the usage error:\n${r.stderr}`)
  if (!json) assert.equal(r.stdout, '')
  else assert.deepEqual(JSON.parse(r.stdout), { error: { code: 'USAGE', message } })
  return message
}

/** The message with this command's own words taken out: what every command must share. */
function shape(command: Command, message: string, typed: string | undefined): string {
  const subs = command.subcommands!
  const choices = `${subs.slice(0, -1).join(', ')}${subs.length > 1 ? ' or ' : ''}${subs.at(-1)!}`
  assert.ok(message.includes(`use ${choices}`), `names every subcommand (${choices}): ${message}`)
  return message
    .replace(`use ${choices}`, 'use <subcommands>')
    .replace(typed === undefined ? /^$/ : `'${typed}'`, "'<typed>'")
    .replace(`'${subs[0]!}'?`, "'<closest>'?")
}

void describe('cli > an unknown, misspelt or missing subcommand: one rule for every command that has subcommands', () => {
  assert.ok(withSubcommands.length >= 3, 'the router table has commands with subcommands')
  const shapes = new Map<Mistake, Set<string>>()
  for (const mistake of ['unknown', 'misspelt', 'missing'] as const) {
    for (const command of withSubcommands) {
      for (const json of [false, true]) {
        const args = [...wordsFor(command, mistake), ...(json ? ['--json'] : [])]
        const defaulted = mistake === 'missing' && command.defaultSubcommand !== undefined
        void test(`kfs ${args.join(' ')}${defaulted ? `: runs ${command.defaultSubcommand}` : ': exit 2'}`, async () => {
          const r = await runKfsInProcess(args, dataDir)
          if (defaulted) {
            // Given none, the default runs: what naming it prints, to the byte.
            const named = await runKfsInProcess([command.name, command.defaultSubcommand!, ...(json ? ['--json'] : [])], dataDir)
            assert.equal(named.code, 0, named.stderr)
            assert.deepEqual(r, named)
            return
          }
          const typed = args[1] === '--json' ? undefined : args[1]
          const message = usageMessage(command, r, json)
          if (mistake === 'misspelt') assert.match(message, new RegExp(`Did you mean '${command.subcommands![0]!}'\\?$`))
          else assert.doesNotMatch(message, /Did you mean/)
          const seen = shapes.get(mistake) ?? new Set()
          shapes.set(mistake, seen.add(shape(command, message, typed)))
          assert.equal(seen.size, 1, `one wording for every command: ${[...seen].join(' | ')}`)
        })
      }
    }
  }

  // Beside --help a missing subcommand is no mistake (the command's help); a wrong one is the same one.
  for (const command of withSubcommands) {
    for (const mistake of ['unknown', 'misspelt'] as const) {
      for (const json of [false, true]) {
        const words = wordsFor(command, mistake)
        void test(`kfs ${words.join(' ')} --help${json ? ' --json' : ''}: the run path's message`, async () => {
          const flag = json ? ['--json'] : []
          const helped = usageMessage(command, await runKfsInProcess([...words, '--help', ...flag], dataDir), json)
          const ran = usageMessage(command, await runKfsInProcess([...words, ...flag], dataDir), json)
          assert.equal(helped, ran)
        })
      }
    }
  }
})
