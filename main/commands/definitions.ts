/** Shared by commands that read a definitions module and the registry. */
import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { ConfigError, DefinitionError } from '../../core/errors.ts'
import { isRunning, startTimeOf } from '../../adapters/event-log/embedded/index.ts'
import {
  createRegistry,
  definitionModuleProblem,
  loadDefinitions,
  objectStoreApplyLock,
  type DefinitionSet,
  type Registry,
} from '../../registry/index.ts'
import type { RetryOptions } from '../../core/retry.ts'
import { objectStoreReadsRetried } from '../../engine/retried-reads.ts'
import { DEFAULT_FEATURES_MODULE } from '../config.ts'
import { stringOption, type CommandContext, type ParsedArgs } from './command.ts'
import type { OptionSpecs } from './options.ts'
import { createFastType } from '../../schemas/avro-type.ts'

export const FEATURES_OPTION: OptionSpecs = {
  features: { type: 'string', kind: 'module-path', short: 'f' },
}

export const FEATURES_HELP =
  '  -f, --features <path>  definitions module (.ts file or folder with index.ts); default KFS_FEATURES or examples/features.ts'

/** `readRetry`: the registry's reads retried so (a backfill's status checks: engine/retried-reads.ts); its writes as they are. */
export async function openRegistry(
  ctx: CommandContext,
  options: { readonly readRetry?: RetryOptions } = {},
): Promise<{ registry: Registry; where: string }> {
  const store = await ctx.openObjectStore()
  // An apply's lock names this process, so one left by a process of this host that died is taken
  // over at once (the embedded log's LOCK does the same), not only when its lease runs out.
  const applyLock = objectStoreApplyLock(store, ctx.clock, {
    self: { pid: process.pid, startTime: startTimeOf(process.pid), host: hostname() },
    isRunning,
  })
  const read = options.readRetry === undefined ? store : objectStoreReadsRetried(store, options.readRetry)
  return { registry: createRegistry({ store: read, clock: ctx.clock, applyLock }), where: `${store.rootUri}/registry` }
}

export async function loadFeatures(
  args: ParsedArgs,
  ctx: CommandContext,
  registry: Registry,
): Promise<{ set: DefinitionSet; path: string }> {
  const path = definitionsModule(stringOption(args, 'features'), ctx)
  return { set: await loadCheckedDefinitions(path, ctx, registry), path }
}

/**
 * The module's definitions, as every command loads them: published definitions count as known (a
 * module may reference views it no longer defines), and every source's schema is checked as Avro.
 */
export async function loadCheckedDefinitions(path: string, ctx: CommandContext, registry: Registry): Promise<DefinitionSet> {
  const set = await loadDefinitions(path, { cwd: ctx.cwd, known: await registry.known() })
  checkAvroSchemas(set)
  return set
}

/**
 * The definitions module: the --features given (checked by its option kind), else KFS_FEATURES or
 * its default — one that does not exist or is no module is a configuration error naming the
 * variable, not a "pass --features" the user never left out.
 */
export function definitionsModule(given: string | undefined, ctx: CommandContext): string {
  if (given !== undefined) return given
  const path = ctx.config().featuresModule
  const absolute = resolve(ctx.cwd, path)
  const problem = existsSync(absolute) ? definitionModuleProblem(absolute) : `${absolute} does not exist`
  if (problem === undefined) return path
  const which =
    path === DEFAULT_FEATURES_MODULE
      ? 'the default definitions module (KFS_FEATURES unset)'
      : `KFS_FEATURES=${JSON.stringify(path)}`
  throw new ConfigError(
    `${which}: ${problem}; point KFS_FEATURES at a .ts file or a folder with index.ts, or pass --features <path>`,
    {
      context: { variable: 'KFS_FEATURES' },
    },
  )
}

/**
 * Every source's schema must be Avro the decoder can build: the DSL (features/) checks the record's
 * shape and that it is JSON, but not Avro itself (no client library there), so a misspelt type or
 * a default of the wrong type was published and every later `kfs run` failed building its decoder.
 */
function checkAvroSchemas(set: DefinitionSet): void {
  for (const source of set.sources) {
    try {
      createFastType(source.schema)
    } catch (err: unknown) {
      const message = err instanceof Error ? err.message : String(err)
      throw new DefinitionError(`source ${source.name}: its schema is not valid Avro: ${message}`, { cause: err })
    }
  }
}
