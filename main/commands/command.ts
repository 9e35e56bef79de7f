/**
 * The shape of a CLI command. Adding one = a module in main/commands/ exporting a `Command`, plus
 * one line in ./index.ts. Arguments are parsed with node's own `util.parseArgs` (no framework: the
 * surface is small, and this keeps help text, exit codes and `--json` uniform across commands).
 */
import type { ParseArgsConfig } from 'node:util'
import type { Clock } from '../../core/clock.ts'
import type { ObjectStore } from '../../pipeline/ports.ts'
import type { KfsConfig } from '../config.ts'

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>
  readonly positionals: readonly string[]
}

export interface CommandContext {
  readonly cwd: string
  /** `--json` was given: print one JSON document to stdout instead of text. */
  readonly json: boolean
  /** Results (stdout). */
  out(text: string): void
  /** Diagnostics and progress (stderr). */
  err(text: string): void
  /** Loaded on first use, so `--help` works even with a broken environment. */
  config(): KfsConfig
  openObjectStore(): Promise<ObjectStore>
  readonly clock: Clock
  /** The process environment, for commands that spawn children; read config through `config()`. */
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface Command {
  readonly name: string
  /** One line, shown by `kfs --help`. */
  readonly summary: string
  /** e.g. `kfs apply [--features <path>] [--json]`. */
  readonly usage: string
  /** Details, options and examples, shown by `kfs <command> --help`. */
  readonly help: string
  readonly options?: OptionsConfig
  /** Upper bound on positional arguments (default 0). */
  readonly maxPositionals?: number
  /** Returns the exit code: 0 ok, 1 failure. Throw UsageError for exit code 2. */
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>
}

/** Bad command line: the router prints the message and the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name]
  return typeof v === 'string' ? v : undefined
}
