/** Shared by commands that read a definitions module and the registry. */
import { createRegistry, loadDefinitions, type DefinitionSet, type Registry } from '../../registry/index.ts'
import { stringOption, type CommandContext, type ParsedArgs } from './command.ts'
import type { OptionSpecs } from './options.ts'

export const FEATURES_OPTION: OptionSpecs = {
  features: { type: 'string', kind: 'input-path', short: 'f' },
}

export const FEATURES_HELP =
  '  -f, --features <path>  definitions module (.ts file or folder with index.ts); default KFS_FEATURES or examples/features.ts'

export async function openRegistry(ctx: CommandContext): Promise<{ registry: Registry; where: string }> {
  const store = await ctx.openObjectStore()
  return { registry: createRegistry({ store, clock: ctx.clock }), where: `${store.rootUri}/registry` }
}

export async function loadFeatures(
  args: ParsedArgs,
  ctx: CommandContext,
  registry: Registry,
): Promise<{ set: DefinitionSet; path: string }> {
  const path = stringOption(args, 'features') ?? ctx.config().featuresModule
  // Published definitions count as known, so a module may reference views it no longer defines.
  const set = await loadDefinitions(path, { cwd: ctx.cwd, known: await registry.known() })
  return { set, path }
}
