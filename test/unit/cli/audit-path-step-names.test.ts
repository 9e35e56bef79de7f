/**
 * `.` and `..` given as a name. A group, view or topic name is a segment of the store's keys
 * (`checkpoints/<group>/…`), and the object stores refuse `.` and `..` segments. The name options
 * took them: `kfs run --group ..` claimed every topic for group `..`, then failed at its first
 * checkpoint ("invalid object key", exit 1) — and left the topics claimed, so the store's own group
 * could not run ("consumed by live group ..") until that group was retired, which is refused for
 * 15 minutes after its claim. Every name option of every command now refuses them before anything
 * starts: exit 2, the option named.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { commands } from '../../../main/commands/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'kfs-audit-path-steps-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Every option of every command whose value is a name or a list of names, with its command's first subcommand. */
const NAME_OPTIONS = commands.flatMap((command) =>
  Object.entries(command.options ?? {}).flatMap(([option, spec]) =>
    spec.type === 'string' && (spec.kind === 'name' || spec.kind === 'names' || spec.kind === 'ordered-names')
      ? [{ args: [command.name, ...(command.subcommands?.slice(0, 1) ?? [])], option, list: spec.kind !== 'name' }]
      : [],
  ),
)

void describe('a name option given . or ..', () => {
  void test('the commands have name options to check (run --group among them)', () => {
    assert.ok(NAME_OPTIONS.some((o) => o.args[0] === 'run' && o.option === 'group'))
    assert.ok(NAME_OPTIONS.length >= 10, `${NAME_OPTIONS.length} name options`)
  })

  for (const { args, option, list } of NAME_OPTIONS) {
    void test(`kfs ${args.join(' ')} --${option}: a usage error naming the option, for . and ..${list ? ' (alone and in a list)' : ''}`, async () => {
      for (const value of ['.', '..', ...(list ? ['a,..'] : [])]) {
        const r = await runKfsInProcess([...args, `--${option}`, value, '--json'], join(dir, 'data-untouched'))
        assert.equal(r.code, 2, `${value}: ${r.stderr}`)
        assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'USAGE')
        assert.match(r.stderr, new RegExp(`--${option}: .*\\. and \\.\\. are path steps, not names`), value)
      }
    })
  }

  void test("kfs run --group .. claims nothing: the store's own group runs afterwards", async () => {
    const dataDir = join(dir, 'data-run')
    assert.equal((await runKfsInProcess(['apply'], dataDir)).code, 0)
    const refused = await runKfsInProcess(['run', '--group', '..', '--until-caught-up', '--idle', '200ms'], dataDir)
    assert.equal(refused.code, 2, refused.stderr)
    assert.equal(existsSync(join(dataDir, 'objects', 'claims')), false, 'no topic claimed')
    const own = await runKfsInProcess(['run', '--until-caught-up', '--idle', '200ms'], dataDir)
    assert.equal(own.code, 0, own.stderr)
  })
})
