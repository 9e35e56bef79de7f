import { focusLineage, viewNodeId } from '../../registry/index.ts'
import { numberOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { listJson, renderDiff, renderLineage, renderList, renderShow, showJson } from './registry-format.ts'
import { readSideRetry } from './read-side.ts'

const SUBCOMMANDS = ['list', 'show', 'diff', 'lineage'] as const

export const registryCommand: Command = {
  name: 'registry',
  summary: 'Inspect the registry: list, show <view>, diff, lineage',
  usage: 'kfs registry list | show <view>[@N] | diff [--features <path>] | lineage [<name>]  [--json]',
  help: `
Subcommands:
  list              views (versions, hashes, backfill status, owner, tags), services,
                    request features, sources, entities
  show <view>[@N]   one view version in full (the latest, or version N), with what uses it
  diff              compare the definitions module with the registry: added, changed (with what
                    changed), metadata-changed, unchanged. Exit 1 if apply would be refused.
  lineage [<name>]  source → view → request feature → service; <name> narrows the graph to what
                    is upstream and downstream of a source, view (view@2), service or entity

A view, version or name the registry does not have exits 2. A read of the registry that fails in
passing (a timeout, a 503) is asked again (ten attempts); one that outlasts that, or is refused,
fails with one line naming what was read (exit 1).

Options:
  --version <N>          deprecated spelling of show <view>@N (still works, with a warning;
                         everywhere else --version prints kfs's version)
${FEATURES_HELP}
  --json                 print JSON

Examples:
  kfs registry list
  kfs registry show user_purchases@1
  kfs registry diff --features examples/features.ts
  kfs registry lineage clicks
`,
  options: { ...FEATURES_OPTION, version: { type: 'string', kind: 'count' } },
  maxPositionals: 2,
  subcommands: SUBCOMMANDS,
  async run(args, ctx) {
    // The router checked the subcommand: one of SUBCOMMANDS.
    const [sub, given] = args.positionals
    let name = given
    if (sub !== 'show' && sub !== 'lineage' && name !== undefined)
      throw new UsageError(`registry ${sub} takes no argument ('${name}')`)
    if (sub !== 'show' && args.values.version !== undefined) throw new UsageError('--version applies only to registry show')
    if (sub !== 'diff' && args.values.features !== undefined) throw new UsageError('--features applies only to registry diff')
    // Every subcommand only reads: one passing fault of the registry's store must not fail it.
    const { registry, where } = await openRegistry(ctx, { readRetry: readSideRetry(ctx) })
    const print = (value: unknown, text: string): void => ctx.out(ctx.json ? `${JSON.stringify(value, null, 2)}\n` : text)
    switch (sub) {
      case 'list': {
        const snap = await registry.snapshot()
        print(listJson(snap, where), renderList(snap))
        return 0
      }
      case 'show': {
        if (name === undefined) throw new UsageError('registry show needs a view name, e.g. kfs registry show user_clicks')
        const at = /^(.+)@(\d+)$/.exec(name)
        if (at !== null && args.values.version !== undefined) throw new UsageError(`give the version once: ${name} or --version`)
        if (args.values.version !== undefined)
          ctx.err(`kfs registry: warning: --version N is deprecated: use kfs registry show ${name}@${String(args.values.version)} (--version prints kfs's version)\n`)
        const version = at !== null ? Number(at[2]) : numberOption(args, 'version')
        name = at !== null ? at[1]! : name
        const snap = await registry.snapshot()
        const versions = snap.views.filter((v) => v.name === name).map((v) => v.version)
        if (versions.length === 0) {
          throw new UsageError(
            `no view named ${name} in the registry. Views: ${[...new Set(snap.views.map((v) => v.name))].join(', ') || '(none; run kfs apply)'}`,
          )
        }
        const chosen = version ?? Math.max(...versions)
        const view = snap.views.find((v) => v.name === name && v.version === chosen)
        if (view === undefined)
          throw new UsageError(`${at === null ? '--version: ' : ''}view ${name} has no version ${chosen}. Versions: ${versions.join(', ')}`)
        const lineage = await registry.lineage()
        const id = viewNodeId(name, chosen)
        const usedBy = lineage.edges
          .filter((e) => e.from === id)
          .map((e) => lineage.nodes.find((n) => n.id === e.to)?.label ?? e.to)
        print(showJson(view, versions, usedBy), renderShow(view, versions, usedBy))
        return 0
      }
      case 'diff': {
        const { set } = await loadFeatures(args, ctx, registry)
        const plan = await registry.diff(set)
        print(plan, renderDiff(plan))
        return plan.views.some((v) => v.change === 'changed') ? 1 : 0
      }
      case 'lineage': {
        let lineage = await registry.lineage()
        if (name !== undefined) {
          lineage = focusLineage(lineage, name)
          if (lineage.nodes.length === 0) throw new UsageError(`nothing named ${name} in the registry lineage`)
        }
        print(lineage, renderLineage(lineage))
        return 0
      }
    }
    return 2
  },
}
