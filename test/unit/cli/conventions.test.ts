/**
 * Issue #18 item 5, the CLI as people expect: `--version`; did-you-mean for mistyped commands,
 * subcommands and options (exit 2); one meaning per flag across commands; every command in the
 * README's table; progress on stderr only on a terminal and never with --json.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { systemClock } from '../../../core/clock.ts'
import type { CommandContext } from '../../../main/commands/command.ts'
import { commands } from '../../../main/commands/index.ts'
import { createProcessContext } from '../../../main/commands/context.ts'
import { editDistance, suggestion } from '../../../main/commands/did-you-mean.ts'
import { progressFor } from '../../../main/commands/progress.ts'
import { runCli } from '../../../main/commands/router.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kfs-cli-conv-'))
  dirs.push(dir)
  return dir
}

/** The CLI in-process; `tty` makes stderr look like a terminal. */
async function kfs(args: readonly string[], options: { dataDir?: string; tty?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (t: string) => void, isTTY: boolean) => ({ isTTY, write: (t: string) => (append(t), true) }) as unknown as NodeJS.WritableStream
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, KFS_DATA_DIR: options.dataDir ?? tempDir(), KFS_LOG_LEVEL: 'silent' }
  const code = await runCli(args, commands, (json) =>
    createProcessContext({ json, env, cwd: repo, stdout: sink((t) => (stdout += t), false), stderr: sink((t) => (stderr += t), options.tty === true) }),
  )
  return { code, stdout, stderr }
}

const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version

void describe('cli > --version', () => {
  void test('kfs --version, -V, --json, and after a command without its own --version', async () => {
    for (const args of [['--version'], ['-V'], ['apply', '--version']]) {
      const r = await kfs(args)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, `kfs ${version}\n`)
    }
    const json = await kfs(['--json', '--version'])
    assert.deepEqual(JSON.parse(json.stdout), { version })
  })

  void test("registry show keeps a view version: <view>@N, and --version N with a deprecation warning", async () => {
    const dataDir = tempDir()
    assert.equal((await kfs(['apply'], { dataDir })).code, 0)
    const at = await kfs(['registry', 'show', 'user_clicks@1'], { dataDir })
    assert.equal(at.code, 0, at.stderr)
    assert.match(at.stdout, /user_clicks v1/)
    const old = await kfs(['registry', 'show', 'user_clicks', '--version', '1'], { dataDir })
    assert.equal(old.code, 0, old.stderr)
    assert.equal(old.stdout, at.stdout)
    assert.match(old.stderr, /--version N is deprecated: use kfs registry show user_clicks@1/)
  })
})

void describe('cli > did you mean', () => {
  void test('edit distance and the closest name, only when close', () => {
    assert.equal(editDistance('aply', 'apply'), 1)
    assert.equal(editDistance('veiws', 'views'), 1, 'a swap of neighbours is one edit')
    assert.equal(suggestion('aply', ['apply', 'replay']), 'apply')
    assert.equal(suggestion('verify', ['verify-parity', 'serve']), 'verify-parity', 'a unique prefix')
    assert.equal(suggestion('zzzz', ['apply', 'run']), undefined)
    assert.equal(suggestion('r', ['run', 'replay']), undefined)
  })

  const cases: [readonly string[], RegExp][] = [
    [['aply'], /^kfs: unknown command 'aply'\. Did you mean 'apply'\?/],
    [['help', 'serv'], /^kfs: unknown command 'serv'\. Did you mean 'serve'\?/],
    [['--hepl'], /^kfs: unknown option '--hepl'\. Did you mean '--help'\?/],
    [['run', '--vews', 'a'], /^kfs run: unknown option '--vews'\. Did you mean '--views'\?\nUsage: kfs run/],
    [['apply', '--vesion'], /unknown option '--vesion'\. Did you mean '--version'\?/],
    [['apply', '--labels', 'x.csv'], /unknown option '--labels': it is an option of kfs training-set\n/],
    [['replay', '-x'], /unknown option '-x'\n/],
    [['registry', 'lst'], /unknown subcommand 'lst'; use list, show, diff or lineage\. Did you mean 'list'\?/],
    [['dead-letters', 'redirve'], /unknown subcommand 'redirve'; use list, show or redrive\. Did you mean 'redrive'\?/],
  ]
  for (const [args, message] of cases) {
    void test(`kfs ${args.join(' ')}: exit 2 with a suggestion`, async () => {
      const r = await kfs(args)
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, message)
      assert.equal(r.stdout, '')
    })
  }

  void test('nothing close: no suggestion, still exit 2', async () => {
    const r = await kfs(['frobnicate'])
    assert.equal(r.code, 2)
    assert.doesNotMatch(r.stderr, /Did you mean/)
    assert.match(r.stderr, /Commands: apply, /)
  })
})

void describe('cli > one meaning per flag', () => {
  /** Options that mean the same thing wherever they appear: the same kind of value in every command. */
  void test('every option name has one kind of value across commands', () => {
    const kinds = new Map<string, Map<string, string[]>>()
    for (const command of commands) {
      for (const [name, spec] of Object.entries(command.options ?? {})) {
        const kind = spec.type === 'boolean' ? 'flag' : spec.kind
        const byKind = kinds.get(name) ?? new Map<string, string[]>()
        byKind.set(kind, [...(byKind.get(kind) ?? []), command.name])
        kinds.set(name, byKind)
      }
    }
    // training-set's --features is a module path that still accepts the old feature references
    // (text) until 0.2; checked by the next test.
    const mixed = [...kinds].filter(([name, byKind]) => byKind.size > 1 && name !== 'features').map(([name, byKind]) => `--${name}: ${JSON.stringify(Object.fromEntries(byKind))}`)
    assert.deepEqual(mixed, [])
    assert.deepEqual(Object.fromEntries(kinds.get('features')!), {
      'module-path': commands.filter((c) => c.options?.features !== undefined && c.name !== 'training-set').map((c) => c.name),
      text: ['training-set'],
    })
    for (const command of commands) {
      const features = command.options?.features
      if (features === undefined) continue
      assert.ok(features.type === 'string' && features.short === 'f', `kfs ${command.name}: -f is --features`)
      assert.match(command.help, /-f, --features <path>\s+definitions module/, `kfs ${command.name}: --features is the definitions module`)
    }
  })

  void test('training-set: --features <path> is the module; the old --features <refs> works with a warning', async () => {
    const dataDir = tempDir()
    assert.equal((await kfs(['apply'], { dataDir })).code, 0)
    const labels = join(dataDir, 'labels.csv')
    writeFileSync(labels, 'user_id,ts\nu1,2026-11-01T01:00:00Z\n')
    const out = join(dataDir, 'o.parquet')
    // Each spelling reaches the registry check of the references (no_view is not published): exit 2.
    const modern = await kfs(['training-set', '--features', 'examples/features.ts', '--feature-refs', 'no_view:x', '--labels', labels, '--out', out], { dataDir })
    assert.equal(modern.code, 2)
    assert.match(modern.stderr, /--feature-refs: feature no_view:x: view no_view is not in the registry/)
    assert.doesNotMatch(modern.stderr, /deprecated/)
    const refs = await kfs(['training-set', '--labels', labels, '--features', 'no_view:x', '--out', out], { dataDir })
    assert.equal(refs.code, 2)
    assert.match(refs.stderr, /warning: --features <refs> is deprecated: name feature references with --feature-refs/)
    assert.match(refs.stderr, /--features: feature no_view:x: view no_view is not in the registry/)
    const definitions = await kfs(['training-set', '-d', 'examples/features.ts', '--labels', labels, '--feature-refs', 'no_view:x', '--out', out], { dataDir })
    assert.equal(definitions.code, 2)
    assert.match(definitions.stderr, /warning: -d\/--definitions is deprecated/)
    assert.match(definitions.stderr, /--feature-refs: feature no_view:x: view no_view is not in the registry/)
  })
})

void describe('cli > README', () => {
  void test("the CLI table lists every command of the router, and nothing else", () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('\n## CLI\n'), readme.indexOf('\n## ', readme.indexOf('\n## CLI\n') + 1))
    const listed = [...section.matchAll(/^\| `kfs ([a-z-]+)/gm)].map((m) => m[1]!)
    assert.ok(listed.length > 0, 'the CLI section has a command table')
    assert.deepEqual([...listed].sort(), commands.map((c) => c.name).sort())
    assert.equal(new Set(listed).size, listed.length, 'each command once')
  })

  const readme = readFileSync(join(repo, 'README.md'), 'utf8')
  const byName = new Map(commands.map((c) => [c.name, c]))
  /** Every spelling a command accepts: its options, their short forms, and the global ones. */
  const spellings = (name: string): Set<string> => {
    const specs = Object.entries(byName.get(name)!.options ?? {})
    return new Set([
      'json',
      'help',
      'h',
      ...specs.map(([long]) => long),
      ...specs.flatMap(([, spec]) => (spec.short === undefined ? [] : [spec.short])),
    ])
  }
  const flagsIn = (text: string): string[] => [...text.matchAll(/(?<![\w-])--?([a-z][a-z0-9-]*)/g)].map((m) => m[1]!)
  /** The README's example of a mistyped command, which must name none. */
  const MISTYPED_EXAMPLES = new Set(['aply'])

  void test('every `kfs <command> --flag` the README shows is a flag of that command', () => {
    const wrong: string[] = []
    // Inline code and lines of code blocks; a table row's other code spans belong to its command.
    const rows = readme.split('\n').filter((line) => /^\| `kfs [a-z-]+/.test(line))
    const shown = [...readme.matchAll(/`([^`\n]+)`/g), ...readme.matchAll(/^\s*(kfs [^\n]+)$/gm)].map((m) => m[1]!)
    const examples = [
      ...shown.flatMap((span) =>
        [...span.matchAll(/(?:^|[\s(])kfs ([a-z][a-z-]*)([^`|]*)/g)].map((m) => ({ command: m[1]!, rest: m[2]!, where: span })),
      ),
      ...rows.flatMap((row) => {
        const command = /^\| `kfs ([a-z-]+)/.exec(row)![1]!
        return [...row.matchAll(/`([^`]+)`/g)]
          .filter((m) => !m[1]!.startsWith('kfs '))
          .map((m) => ({ command, rest: m[1]!, where: row.slice(0, 60) }))
      }),
    ]
    assert.ok(examples.length > 40, `the README shows commands (${examples.length} found)`)
    for (const { command, rest, where } of examples) {
      if (command === 'help' || MISTYPED_EXAMPLES.has(command)) continue
      if (!byName.has(command)) {
        wrong.push(`kfs ${command}: no such command (in ${where})`)
        continue
      }
      const known = spellings(command)
      for (const flag of flagsIn(rest)) if (!known.has(flag)) wrong.push(`kfs ${command} --${flag}: no such option (in ${where})`)
    }
    assert.deepEqual(wrong, [])
  })

  void test("every option of every command is in that command's row of the CLI table", () => {
    // -f/--features is described once for every command; these spellings live on, deprecated.
    const UNLISTED: Readonly<Record<string, readonly string[]>> = { registry: ['version'], 'training-set': ['definitions'] }
    const missing: string[] = []
    for (const command of commands) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`kfs ${command.name}`))
      assert.ok(row !== undefined, `kfs ${command.name} has a row`)
      const listed = new Set(flagsIn([...row.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).join(' ')))
      for (const option of Object.keys(command.options ?? {})) {
        if (option === 'features' || UNLISTED[command.name]?.includes(option) === true) continue
        if (!listed.has(option)) missing.push(`kfs ${command.name} --${option}`)
      }
    }
    assert.deepEqual(missing, [], 'options the CLI table does not show')
  })
})

void describe('cli > progress', () => {
  const context = (interactive: boolean, json: boolean, err: string[]): CommandContext => ({
    cwd: repo,
    json,
    interactive,
    env: {},
    clock: systemClock,
    out: () => {},
    err: (t) => void err.push(t),
    config: () => assert.fail('unused'),
    openObjectStore: () => assert.fail('unused'),
  })

  void test('drawn on a terminal; nothing off a terminal or with --json', () => {
    for (const [interactive, json, drawn] of [[true, false, true], [false, false, false], [true, true, false]] as const) {
      const err: string[] = []
      const progress = progressFor(context(interactive, json, err))
      progress.ticking('working…')
      progress.update('3/10 done')
      progress.done()
      if (drawn) {
        assert.match(err.join(''), /\rworking… 0s\u001b\[K/)
        assert.match(err.at(-1)!, /^\r\u001b\[K$/, 'the line is cleared at the end')
      } else {
        assert.deepEqual(err, [], `interactive=${interactive} json=${json}`)
      }
    }
  })

  let seeded: string
  before(async () => {
    seeded = tempDir()
    for (const args of [['apply'], ['produce', '--generate', '500'], ['run', '--views', 'user_purchases', '--until-caught-up', '--idle', '300ms']]) {
      const r = await kfs(args, { dataDir: seeded })
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    }
  })

  void test('kfs verify-parity: a progress line on a terminal only, the same result either way', async () => {
    const args = ['verify-parity', '--views', 'user_purchases']
    const onTerminal = await kfs(args, { dataDir: seeded, tty: true })
    assert.equal(onTerminal.code, 0, onTerminal.stderr)
    assert.match(onTerminal.stderr, /\rverifying user_purchases \(1\/1\): replaying its archive… \d+s/)
    const piped = await kfs(args, { dataDir: seeded })
    assert.equal(piped.stderr, '')
    assert.equal(piped.stdout, onTerminal.stdout)
    const json = await kfs([...args, '--json'], { dataDir: seeded, tty: true })
    assert.equal(json.code, 0)
    assert.equal(json.stderr, '', 'no progress with --json, even on a terminal')
  })

  void test('kfs run --until-caught-up: a progress line on a terminal only', async () => {
    const dataDir = tempDir()
    for (const args of [['apply'], ['produce', '--generate', '3000']]) assert.equal((await kfs(args, { dataDir })).code, 0)
    const onTerminal = await kfs(['run', '--until-caught-up', '--idle', '1s'], { dataDir, tty: true })
    assert.equal(onTerminal.code, 0, onTerminal.stderr)
    assert.match(onTerminal.stderr, /\rrun --until-caught-up: [\d,]+ records consumed, [\d,]+ rows emitted, [\d,]+ behind/)
    const piped = await kfs(['produce', '--generate', '10'], { dataDir })
    assert.equal(piped.code, 0)
    const quiet = await kfs(['run', '--until-caught-up', '--idle', '300ms'], { dataDir })
    assert.equal(quiet.code, 0)
    assert.doesNotMatch(quiet.stderr, /\r|run --until-caught-up:/, 'off a terminal nothing is drawn')
    assert.match(quiet.stdout, /engine stopped \(caught-up\)/)
  })
})
