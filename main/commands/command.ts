/**
 * The shape of a CLI command. Adding one = a module in main/commands/ exporting a `Command`, plus
 * one line in ./index.ts. Arguments are parsed with node's own `util.parseArgs` (no framework: the
 * surface is small, and this keeps help text, exit codes and `--json` uniform across commands);
 * every option declares the kind of its value (./options.ts), checked before the command runs.
 */
import type { Clock } from '../../core/clock.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { KfsConfig } from '../config.ts'
import type { Runtime, RuntimeOptions } from '../runtime.ts'
import type { OptionSpecs, OptionValue } from './options.ts'
import type { StopSignal } from './stop-signal.ts'

export interface ParsedArgs {
  /** Checked and typed by the option's kind: paths absolute, durations and times in ms, lists split. */
  readonly values: Readonly<Record<string, OptionValue | undefined>>
  readonly positionals: readonly string[]
}

export interface CommandContext {
  readonly cwd: string
  /** `--json` was given: print one JSON document to stdout instead of text. */
  readonly json: boolean
  /** stderr is a terminal: long commands may draw a progress line there (./progress.ts). */
  readonly interactive?: boolean
  /** Results (stdout). */
  out(text: string): void
  /** Diagnostics and progress (stderr). */
  err(text: string): void
  /** Loaded on first use, so `--help` works even with a broken environment. */
  config(): KfsConfig
  openObjectStore(): Promise<ObjectStore>
  readonly clock: Clock
  /**
   * Builds the runtime of a command (main/runtime.ts createRuntime on `config()`, the default when
   * absent); a test passes its own to give the command faulted ports.
   */
  openRuntime?(options: RuntimeOptions): Promise<Runtime>
  /**
   * What stops `kfs serve`: SIGINT/SIGTERM (./stop-signal.ts,
   * the default when absent); a test running the command in its own process passes its own.
   */
  listenForStop?(): StopSignal
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
  readonly options?: OptionSpecs
  /** Upper bound on positional arguments (default 0). */
  readonly maxPositionals?: number
  /**
   * The words the first positional may be, for a command with subcommands. The router checks it,
   * on the run path and beside --help alike (./router.ts checkSubcommand): a command runs only with
   * one of them first in its positionals.
   */
  readonly subcommands?: readonly string[]
  /** The subcommand run when none is given (`kfs groups` is `kfs groups list`); without one, none is a usage error. */
  readonly defaultSubcommand?: string
  /**
   * Returns the exit code: 0 ok, 1 failure (including "nothing to do": no rows, empty archive).
   * Throw UsageError for exit code 2 (a bad option, or a name that names nothing).
   */
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>
}

export { UsageError } from './usage-error.ts'

/** A string-valued option (text, name, id, or a path made absolute). */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name]
  return typeof v === 'string' ? v : undefined
}

/** A numeric option (count, port, fraction, percent; durations and times in ms). */
export function numberOption(args: ParsedArgs, name: string): number | undefined {
  const v = args.values[name]
  return typeof v === 'number' ? v : undefined
}

/** A list option ('names'): never empty when present. */
export function listOption(args: ParsedArgs, name: string): readonly string[] | undefined {
  const v = args.values[name]
  return Array.isArray(v) ? (v as readonly string[]) : undefined
}

export function flagOption(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true
}
