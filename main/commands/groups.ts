/** `kfs groups`: the live groups of the store per topic, and `kfs groups retire <group>` (docs/semantics.md §14). */
import { ConfigError } from '../../core/errors.ts'
import { formatDurationMs } from '../../core/duration.ts'
import { flagOption, numberOption, UsageError, type Command } from './command.ts'
import { didYouMean } from './did-you-mean.ts'
import { knownGroups, planRetire, retireGroup, storeGroups, type GroupTopic, type RetirePlan } from './store-groups.ts'

const SUBCOMMANDS = ['list', 'retire'] as const
const DEFAULT_QUIET_MS = 15 * 60_000

const iso = (ms: number | undefined): string => (ms === undefined ? '—' : new Date(ms).toISOString())

function table(rows: readonly GroupTopic[]): string {
  if (rows.length === 0) return 'no live group on this store (no topic claim, no checkpoint)\n'
  const lines = [
    ['TOPIC', 'GROUP', 'STATE', 'SINCE', 'LAST CHECKPOINT'],
    ...rows.map((r) => [r.topic, r.group, r.state, iso(r.retiredAtMs ?? r.claimedAtMs), iso(r.lastCheckpointMs)]),
  ]
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)))
  return (
    lines
      .map((l) =>
        l
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  )
}

/** What retiring does, as a plan (`would …`) or as done. */
function planText(plan: RetirePlan, done: boolean): string {
  const [del, keep, free] = done ? ['deleted', 'kept', 'freed'] : ['delete', 'keep', 'free']
  const parts = [
    `${del} its ${plan.checkpointKeys.length} checkpoint object(s) (its backfills' too)`,
    ...(plan.retire.length > 0 ? [`${keep} ${plan.retire.join(', ')} retired: no group can start over them on this store`] : []),
    ...(plan.free.length > 0 ? [`${free} ${plan.free.join(', ')} (claimed, never checkpointed) for any group`] : []),
  ]
  return parts.join('; ')
}

export const groupsCommand: Command = {
  name: 'groups',
  summary: 'List the live groups of the store per topic; retire a group that stopped for good',
  usage: 'kfs groups [list] | retire <group> --yes [--quiet <duration>]  [--json]',
  help: `
One live group consumes a topic on a store: kfs run claims each topic it reads
(claims/<topic>.json, created only if absent) before it writes anything, and a group that finds a
topic claimed by another exits 1 (docs/semantics.md §14).

Subcommands:
  list (default)    each topic with its group, the state of its claim and when it was made, and the
                    group's last checkpoint of the topic. States: claimed; retired; unclaimed (a
                    store from before claims: the group's checkpoints decide, and its next kfs run
                    claims the topic)
  retire <group>    remove a group that stopped for good: its checkpoints (its backfills' too) and
                    its claims. A topic it has checkpoints of stays retired: its raw archive,
                    re-key internal topic and feature tables hold what the group read, and a group
                    starting over would write every record into them again, so every kfs run over
                    it exits 1 (a new deployment over it needs its own store). A topic it only
                    claimed (a start that failed or stopped before its first checkpoint) is freed.
                    To go on consuming a topic, start its group again rather than retire it.

Retire is refused (exit 1, nothing changed) while the group looks alive: a checkpoint or claim
newer than --quiet. Stop every member first: a member still running stops at its next checkpoint
(it reads its topics' claims before each one, and exits 1 naming the retire), and its next start
would find no checkpoint to resume from. An engine with no records checkpoints once per idle
timeout of its sources, so --quiet must exceed the longest.
A group the store does not know, a missing --yes, or a stray argument exits 2.

Options:
  --yes                  retire: do it (without, nothing is changed and the plan is named)
  --quiet <duration>     retire: how long the group must have written nothing (default 15m)
  --json                 print JSON

Examples:
  kfs groups
  kfs groups retire old-engine --yes
`,
  options: { yes: { type: 'boolean' }, quiet: { type: 'string', kind: 'duration' } },
  maxPositionals: 2,
  subcommands: SUBCOMMANDS,
  defaultSubcommand: 'list',
  async run(args, ctx) {
    // The router checked the subcommand (one of SUBCOMMANDS), list when none was given.
    const [sub, group] = args.positionals
    if (sub === 'list') {
      if (group !== undefined) throw new UsageError(`groups list takes no argument ('${group}')`)
      for (const flag of ['yes', 'quiet'])
        if (args.values[flag] !== undefined) throw new UsageError(`--${flag} applies only to groups retire`)
      const rows = await storeGroups(await ctx.openObjectStore())
      ctx.out(ctx.json ? `${JSON.stringify({ topics: rows }, null, 2)}\n` : table(rows))
      return 0
    }
    if (group === undefined)
      throw new UsageError('groups retire needs a group, e.g. kfs groups retire old-engine --yes (kfs groups lists them)')
    const store = await ctx.openObjectStore()
    const plan = await planRetire(store, group)
    if (plan === undefined) {
      const known = await knownGroups(store)
      throw new UsageError(
        `no live group ${group} on this store: no topic claim and no checkpoint names it; ${known.length === 0 ? 'the store has none' : `groups: ${known.join(', ')}`}.${didYouMean(group, known)}`,
      )
    }
    if (plan.alreadyRetired) {
      ctx.out(
        ctx.json
          ? `${JSON.stringify({ group, retired: [], freed: [], deletedCheckpointObjects: 0, alreadyRetired: true })}\n`
          : `group ${group} is retired already\n`,
      )
      return 0
    }
    if (!flagOption(args, 'yes'))
      throw new UsageError(`groups retire ${group} would ${planText(plan, false)}; add --yes to do it`)
    const quietMs = numberOption(args, 'quiet') ?? DEFAULT_QUIET_MS
    const now = ctx.clock.nowMs()
    if (plan.lastActiveMs !== undefined && now - plan.lastActiveMs < quietMs) {
      throw new ConfigError(
        `cannot retire group ${group}: it wrote a checkpoint or claim ${formatDurationMs(Math.max(0, Math.round(now - plan.lastActiveMs)))} ago (${iso(plan.lastActiveMs)}), within --quiet ${formatDurationMs(quietMs)}, so it may still be running; stop every member of it first (a running member would stop at its next checkpoint, the rows it read since its last one never written), then retire it once it has been quiet that long`,
      )
    }
    await retireGroup(store, plan, now)
    const summary = { group, retired: plan.retire, freed: plan.free, deletedCheckpointObjects: plan.checkpointKeys.length }
    ctx.out(ctx.json ? `${JSON.stringify(summary)}\n` : `retired group ${group}: ${planText(plan, true)}\n`)
    return 0
  },
}
