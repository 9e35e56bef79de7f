/** Shared by commands that read a definitions module and the registry. */
import { hostname } from 'node:os'
import { isRunning, startTimeOf } from '../../adapters/event-log/embedded/index.ts'
import { createRegistry, loadDefinitions, objectStoreApplyLock, type DefinitionSet, type Registry } from '../../registry/index.ts'
import type { RetryOptions } from '../../core/retry.ts'
import { objectStoreReadsRetried } from '../../engine/retried-reads.ts'
import { stringOption, type CommandContext, type ParsedArgs } from './command.ts'
import type { OptionSpecs } from './options.ts'
import { DefinitionError } from '../../core/errors.ts'
import { createFastType } from '../../schemas/avro-type.ts'

export const FEATURES_OPTION: OptionSpecs = {
  features: { type: 'string', kind: 'input-path', short: 'f' },
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
  const path = stringOption(args, 'features') ?? ctx.config().featuresModule
  // Published definitions count as known, so a module may reference views it no longer defines.
  const set = await loadDefinitions(path, { cwd: ctx.cwd, known: await registry.known() })
  checkAvroSchemas(set)
  return { set, path }
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
