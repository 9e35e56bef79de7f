/**
 * Dispatches `kfs <command> [options]`: global help, per-command help, `--json`, exit codes
 * (0 ok, 1 failure, 2 usage). Errors become one readable line; stack traces only for bugs.
 */
import { parseArgs } from 'node:util'
import { FeatureStoreError } from '../../core/errors.ts'
import { UsageError, type Command, type CommandContext, type OptionsConfig } from './command.ts'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

const GLOBAL_OPTIONS: OptionsConfig = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
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
    '  -h, --help  show help (kfs <command> --help for a command)',
    '  --json      print machine-readable JSON on stdout',
    '',
    'Environment: KFS_DATA_DIR (default .kfs/data), KFS_FEATURES, and the KFS_* variables of main/config.ts.',
    '',
  ].join('\n')
}

export function commandHelp(command: Command): string {
  return `Usage: ${command.usage}\n\n${command.summary}\n\n${command.help.trim()}\n`
}

export async function runCli(argv: readonly string[], commands: readonly Command[], makeContext: (json: boolean) => CommandContext): Promise<number> {
  const [name, ...rest] = argv
  const json = rest.includes('--json') || name === '--json'
  const ctx = makeContext(json)
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined
    const command = commands.find((c) => c.name === topic)
    if (topic !== undefined && command === undefined) {
      ctx.err(`kfs: unknown command '${topic}'\n\n${globalHelp(commands)}`)
      return EXIT_USAGE
    }
    if (name === undefined) {
      ctx.err(globalHelp(commands))
      return EXIT_USAGE
    }
    ctx.out(command === undefined ? globalHelp(commands) : commandHelp(command))
    return EXIT_OK
  }
  const command = commands.find((c) => c.name === name)
  if (command === undefined) {
    ctx.err(`kfs: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}\nRun kfs --help for usage.\n`)
    return EXIT_USAGE
  }
  try {
    let parsed
    try {
      parsed = parseArgs({ args: [...rest], options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true })
    } catch (err: unknown) {
      throw new UsageError((err as Error).message)
    }
    if (parsed.values.help === true) {
      ctx.out(commandHelp(command))
      return EXIT_OK
    }
    if (parsed.positionals.length > (command.maxPositionals ?? 0)) {
      throw new UsageError(`unexpected argument '${parsed.positionals[command.maxPositionals ?? 0]}'`)
    }
    return await command.run({ values: parsed.values, positionals: parsed.positionals }, ctx)
  } catch (err: unknown) {
    return reportError(err, command, ctx)
  }
}

function reportError(err: unknown, command: Command, ctx: CommandContext): number {
  if (err instanceof UsageError) {
    ctx.err(`kfs ${command.name}: ${err.message}\nUsage: ${command.usage}\nRun kfs ${command.name} --help for details.\n`)
    return EXIT_USAGE
  }
  if (err instanceof FeatureStoreError) {
    if (ctx.json) ctx.out(`${JSON.stringify({ error: { code: err.code, message: err.message, context: err.context } }, null, 2)}\n`)
    ctx.err(`kfs ${command.name}: ${err.message}\n`)
    return EXIT_FAILURE
  }
  // Anything else is a bug in kfs, not a user mistake: keep the stack.
  ctx.err(`kfs ${command.name}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  return EXIT_FAILURE
}
