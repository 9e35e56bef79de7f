/**
 * Dispatches `kfs <command> [options]`: global help, per-command help, `--version`, `--json`, exit
 * codes (0 ok, 1 failure, 2 usage). A mistyped command or option is a usage error that names the
 * closest known one. Every option value is checked by its declared kind before the command runs
 * (./options.ts). Errors become one readable line; stack traces only for bugs (or for every error
 * with KFS_DEBUG=1). Under `--json` every failure also prints one error object on stdout.
 */
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { CliErrorCode } from '../../core/error-codes.ts'
import { FeatureStoreError, type ErrorContext } from '../../core/errors.ts'
import { debugStacks } from '../config-source.ts'
import { UsageError, type Command, type CommandContext, type ParsedArgs } from './command.ts'
import { didYouMean } from './did-you-mean.ts'
import { parseOptionValue, type OptionSpecs, type OptionValue } from './options.ts'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

const GLOBAL_OPTIONS: OptionSpecs = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
}

/** kfs's version, from package.json. */
export function kfsVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function printVersion(ctx: CommandContext): number {
  ctx.out(ctx.json ? `${JSON.stringify({ version: kfsVersion() })}\n` : `kfs ${kfsVersion()}\n`)
  return EXIT_OK
}

export function globalHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    'kfs — a stream-first feature store',
    '',
    'Usage: kfs <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    '  -h, --help     show help (kfs <command> --help, or kfs help <command>, for a command)',
    '  -V, --version  print the version of kfs',
    '  --json         print machine-readable JSON on stdout (help too: {"help": text})',
    '',
    'Long commands draw a progress line on stderr when it is a terminal (never with --json).',
    '',
    'Exit codes:',
    '  0  done',
    '  1  failed, or found nothing to do (no rows to check, an empty archive, a parity mismatch)',
    '  2  usage error: an unknown option, a missing or malformed value, a file or folder that does',
    '     not exist, or a view, service, group or snapshot that names nothing',
    'With --json, every failure prints one error object on stdout, {"error": {"code", "message"}}:',
    'code USAGE for exit 2, ENOENT, EACCES, ENOSPC… from the system, INTERNAL for a bug.',
    '',
    'Environment: KFS_DATA_DIR (default .kfs/data), KFS_FEATURES, and the KFS_* variables of main/config.ts;',
    'KFS_DEBUG=1 (or true, yes) prints the stack trace of every error.',
    '',
  ].join('\n')
}

/** Help on stdout: the text, or under `--json` one document `{"help": text}` (stdout is JSON then). */
function printHelp(ctx: CommandContext, text: string): number {
  ctx.out(ctx.json ? `${JSON.stringify({ help: text })}\n` : text)
  return EXIT_OK
}

export function commandHelp(command: Command): string {
  return `Usage: ${command.usage}\n\n${command.summary}\n\n${command.help.trim()}\n`
}

export async function runCli(
  argv: readonly string[],
  commands: readonly Command[],
  makeContext: (json: boolean) => CommandContext,
): Promise<number> {
  // `kfs --json <command> …` means `kfs <command> … --json`.
  const [name, ...rest] = argv[0] === '--json' && argv.length > 1 ? [...argv.slice(1), '--json'] : argv
  const json = rest.includes('--json') || name === '--json'
  const ctx = makeContext(json)
  const names = commands.map((c) => c.name)
  if (name === '--version' || name === '-V') {
    // Only --json may follow (`kfs --version --json`); anything else is a mistake, not ignored.
    const extra = rest.find((arg) => arg !== '--json')
    if (extra !== undefined) {
      const message = `unexpected argument '${extra}' after ${name}`
      return usageFailure(ctx, message, `kfs: ${message}\nRun kfs --help for usage.\n`)
    }
    return printVersion(ctx)
  }
  // `kfs --json` alone names no command: the same usage error as `kfs` alone.
  if (name === '--json' && rest.length === 0) {
    const message = '--json needs a command, e.g. kfs registry list --json'
    return usageFailure(ctx, message, `kfs: ${message}\n\n${globalHelp(commands)}`)
  }
  if (name === undefined) {
    ctx.err(globalHelp(commands))
    return EXIT_USAGE
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    // `kfs help <command>`, `kfs --help <command>`: one topic at most (--json aside); a word that
    // names no command, or one more word, is a mistake to say, as after --version.
    const [topic, ...extra] = rest.filter((arg) => arg !== '--json')
    const command = commands.find((c) => c.name === topic)
    if (topic !== undefined && command === undefined) {
      const message = topic.startsWith('-') ? `unexpected argument '${topic}' after ${name}` : `unknown command '${topic}'.${didYouMean(topic, names)}`
      return usageFailure(ctx, message, `kfs: ${message}\n${topic.startsWith('-') ? 'Run kfs --help for usage.\n' : `\n${globalHelp(commands)}`}`)
    }
    if (extra[0] !== undefined) {
      const message = `unexpected argument '${extra[0]}' after ${name} ${topic}`
      return usageFailure(ctx, message, `kfs: ${message}\nRun kfs --help for usage.\n`)
    }
    return printHelp(ctx, command === undefined ? globalHelp(commands) : commandHelp(command))
  }
  const command = commands.find((c) => c.name === name)
  if (command === undefined) {
    const what = name.startsWith('-') ? 'option' : 'command'
    const known = what === 'option' ? ['--help', '--version', '--json'] : names
    const message = `unknown ${what} '${name}'.${didYouMean(name, known)} Commands: ${names.join(', ')}`
    return usageFailure(ctx, message, `kfs: ${message}\nRun kfs --help for usage.\n`)
  }
  try {
    const specs: OptionSpecs = { ...GLOBAL_OPTIONS, ...command.options }
    if (rest.includes('--help') || rest.includes('-h')) {
      // Help wins over a mistaken option, so `kfs x --bad --help` still helps; a word the command
      // cannot take is a usage error, as after `kfs --help` (`kfs apply --help nosuch`: exit 2).
      checkHelpPositionals(rest, specs, command)
      return printHelp(ctx, commandHelp(command))
    }
    // A command's own --version (registry show's view version) wins; anywhere else it is kfs's.
    if (command.options?.version === undefined && (rest.includes('--version') || rest.includes('-V'))) return printVersion(ctx)
    checkOptionNames(rest, specs, command, commands)
    const parsed = parseCommandLine(rest, specs, ctx)
    checkPositionalCount(parsed.positionals, command)
    const positionals = checkSubcommand(parsed.positionals, command, false)
    debugStacks(ctx.env) // a malformed KFS_DEBUG stops the command as any bad setting does
    return await command.run({ ...parsed, positionals }, ctx)
  } catch (err: unknown) {
    return reportError(err, command, ctx)
  }
}

/** No more words than the command takes (its `maxPositionals`, default none). */
function checkPositionalCount(positionals: readonly string[], command: Command): void {
  const max = command.maxPositionals ?? 0
  if (positionals.length > max) throw new UsageError(`unexpected argument '${positionals[max]}'`)
}

/**
 * The words beside a command's --help: no more than the command takes, and a first one that names
 * one of its subcommands. Options are read leniently (an unknown one as a flag): help wins over them.
 */
function checkHelpPositionals(argv: readonly string[], specs: OptionSpecs, command: Command): void {
  const options = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { type: spec.type }]))
  const { positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false })
  checkPositionalCount(positionals, command)
  checkSubcommand(positionals, command, true)
}

/**
 * One rule for every command with subcommands, so none words its own: the first word names one of
 * them, or is absent — then the command's default runs, and a command without one is told which
 * (help needs none). Either mistake is a usage error naming every subcommand. Returns the
 * positionals the command runs with: its default first when none was given.
 */
function checkSubcommand(positionals: readonly string[], command: Command, forHelp: boolean): readonly string[] {
  const { subcommands, defaultSubcommand } = command
  if (subcommands === undefined) return positionals
  const [sub] = positionals
  const choices = `use ${subcommands.slice(0, -1).join(', ')}${subcommands.length > 1 ? ' or ' : ''}${subcommands.at(-1)!}`
  if (sub === undefined) {
    if (forHelp) return positionals
    if (defaultSubcommand !== undefined) return [defaultSubcommand]
    throw new UsageError(`missing subcommand; ${choices}`)
  }
  if (!subcommands.includes(sub)) throw new UsageError(`unknown subcommand '${sub}'; ${choices}.${didYouMean(sub, subcommands)}`)
  return positionals
}

/**
 * Every option on the line must be one the command declares: otherwise a usage error naming the
 * closest option of the command, or the commands that do have it.
 */
function checkOptionNames(argv: readonly string[], specs: OptionSpecs, command: Command, commands: readonly Command[]): void {
  const shorts = new Map(Object.entries(specs).flatMap(([long, spec]) => (spec.short === undefined ? [] : [[spec.short, long] as const])))
  // Typed as the command declares them, so a value option takes the next word as its value: read
  // untyped, `--port -1` made '-1' an unknown option and the message never named --port (the
  // value is now refused naming both).
  const options = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { type: spec.type, ...(spec.short === undefined ? {} : { short: spec.short }) }]))
  const { tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true })
  for (const token of tokens) {
    if (token.kind !== 'option') continue
    if (token.rawName.startsWith('--') ? token.name in specs : shorts.has(token.rawName.slice(1))) {
      if (token.inlineValue === false && token.value?.startsWith('-') === true)
        throw new UsageError(
          `option '--${token.name}' needs a value: '${token.value}' starts with a dash, so it is read as an option; give a value that starts with a dash as --${token.name}=${token.value}`,
        )
      continue
    }
    if (!token.rawName.startsWith('--')) throw new UsageError(`unknown option '${token.rawName}'`)
    const hint = didYouMean(token.name, [...Object.keys(specs), ...(specs.version ? [] : ['version'])], '--')
    const elsewhere = commands.filter((c) => c !== command && c.options?.[token.name] !== undefined).map((c) => `kfs ${c.name}`)
    const detail = hint !== '' ? `.${hint}` : elsewhere.length > 0 ? `: it is an option of ${elsewhere.join(', ')}` : ''
    throw new UsageError(`unknown option '${token.rawName}'${detail}`)
  }
}

/** parseArgs, then: each option at most once, and every value checked and typed by its kind. */
function parseCommandLine(argv: readonly string[], specs: OptionSpecs, ctx: CommandContext): ParsedArgs {
  const config: NonNullable<ParseArgsConfig['options']> = {}
  for (const [name, spec] of Object.entries(specs))
    config[name] = { type: spec.type, ...(spec.short === undefined ? {} : { short: spec.short }) }
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options: config, allowPositionals: true, strict: true, tokens: true })
  } catch (err: unknown) {
    // One line, as every usage error is: node's message for an option missing its value runs over three.
    throw new UsageError((err as Error).message.replaceAll('\n', ' '))
  }
  const seen = new Set<string>()
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`)
    seen.add(token.name)
  }
  const values: Record<string, OptionValue> = {}
  const valueContext = { cwd: ctx.cwd, nowMs: ctx.clock.nowMs() }
  for (const [name, raw] of Object.entries(parsed.values)) {
    const spec = specs[name]
    if (spec === undefined || raw === undefined) continue
    values[name] = spec.type === 'boolean' ? raw === true : parseOptionValue(name, spec.kind, String(raw), valueContext)
  }
  return { values, positionals: parsed.positionals }
}

function reportError(err: unknown, command: Command, ctx: CommandContext): number {
  if (debugWanted(ctx) && err instanceof Error && err.stack !== undefined) ctx.err(`${err.stack}\n`)
  const json = errorJson(err)
  if (err instanceof UsageError) {
    const human = `kfs ${command.name}: ${err.message}\nUsage: ${command.usage}\nRun kfs ${command.name} --help for details.\n`
    printFailure(ctx, json, human)
    return EXIT_USAGE
  }
  // kfs's own errors, and the environment saying no (a file vanished, a disk is full, a server
  // refused): not bugs, so the message (the operating system's own, for the latter) is the story.
  if (err instanceof FeatureStoreError || isSystemError(err)) {
    printFailure(ctx, json, `kfs ${command.name}: ${err.message}\n`)
    return EXIT_FAILURE
  }
  // Anything else is a bug in kfs, not a user mistake: keep the stack (on stderr only).
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err)
  printFailure(ctx, json, `kfs ${command.name}: unexpected error: ${detail}\n`)
  return EXIT_FAILURE
}

/** KFS_DEBUG on; off when malformed (that error is being reported, and says so itself). */
function debugWanted(ctx: CommandContext): boolean {
  try {
    return debugStacks(ctx.env)
  } catch {
    return false
  }
}

/** The error object a failure prints under `--json`: `{"error": ErrorJson}` (README, "CLI"). */
export interface ErrorJson {
  /** kfs's code (ERROR_CODES), USAGE or INTERNAL (CLI_ERROR_CODES), or the system's (ENOENT…). */
  readonly code: string
  /** The message stderr shows, without the `kfs <command>:` prefix, usage lines or stack. */
  readonly message: string
  readonly context?: ErrorContext
}

/** What any thrown value reports as, under `--json`. */
export function errorJson(err: unknown): ErrorJson {
  if (err instanceof UsageError) return { code: 'USAGE' satisfies CliErrorCode, message: err.message }
  if (err instanceof FeatureStoreError) return { code: err.code, message: err.message, context: err.context }
  if (isSystemError(err)) return { code: err.code, message: err.message, context: systemContext(err) }
  return { code: 'INTERNAL' satisfies CliErrorCode, message: err instanceof Error ? err.message : String(err) }
}

/**
 * Reports a failure: under `--json` its one error object on stdout, so a script that parses stdout
 * gets a document for every failure as for every success; the human message on stderr either way.
 * For the few places that end a command with an exit code instead of throwing (kfs run).
 */
export function printFailure(ctx: CommandContext, json: ErrorJson, human: string): void {
  if (ctx.json) ctx.out(`${JSON.stringify({ error: json }, null, 2)}\n`)
  ctx.err(human)
}

/** A usage error the router finds before any command runs (no command's usage to show). */
function usageFailure(ctx: CommandContext, message: string, human: string): number {
  printFailure(ctx, { code: 'USAGE' satisfies CliErrorCode, message }, human)
  return EXIT_USAGE
}

/** Node's errors from the operating system carry an upper-case code such as ENOENT or ECONNREFUSED. */
export function isSystemError(err: unknown): err is Error & { code: string } {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'string' &&
    /^E[A-Z]+$/.test((err as unknown as { code: string }).code)
  )
}

/** Where a system error happened, as Node tells it (the call, the path, the address), for --json. */
function systemContext(err: Error): ErrorContext | undefined {
  const context: Record<string, string | number> = {}
  for (const key of ['syscall', 'path', 'dest', 'address', 'port'] as const) {
    const value = (err as unknown as Record<string, unknown>)[key]
    if (typeof value === 'string' || typeof value === 'number') context[key] = value
  }
  return Object.keys(context).length > 0 ? context : undefined
}
