import type { Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { renderApply } from './registry-format.ts'

export const applyCommand: Command = {
  name: 'apply',
  summary: 'Publish feature definitions to the registry',
  usage: 'kfs apply [--features <path>] [--json]',
  help: `
Loads the definitions module, checks it (fields, windows, cross-references), and publishes new
entities, sources, view versions, services and request features. Owner, description, tags,
freshness SLA, the online flag and turning offline off may change in place; its logic may not, nor
may offline be turned on (its offline table would hold nothing from before): such a changed
published view is refused (exit 1, nothing written) with the version to publish instead.
So is a new version without a feature that a published service or request feature reads without
@version (such a reference reads the latest version): keep the feature, or pin the version.
Applying the same definitions twice changes nothing. One apply at a time: a second one waits
for the first (up to 60 s, then exit 1 naming it) and is checked against what it published.

Options:
${FEATURES_HELP}
  --json                 print the plan as JSON

Examples:
  kfs apply
  kfs apply --features examples/features.ts
  KFS_DATA_DIR=/var/lib/kfs kfs apply -f features/ --json
`,
  options: FEATURES_OPTION,
  async run(args, ctx) {
    const { registry, where } = await openRegistry(ctx)
    const { set } = await loadFeatures(args, ctx, registry)
    const plan = await registry.apply(set)
    ctx.out(ctx.json ? `${JSON.stringify({ registry: where, plan }, null, 2)}\n` : renderApply(plan, where))
    return 0
  },
}
