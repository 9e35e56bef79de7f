/** `kfs dead-letters list | show | redrive`: inspect refused records and re-drive them after a fix. */
import type { FeatureViewDef } from '../../features/types.ts'
import type { EventLog } from '../../ports/event-log.ts'
import { DEAD_LETTER_REASONS, parsePositionId, positionId, type DeadLetterFilter } from '../../replay/dead-letters/dead-letter-entry.ts'
import { assessLetters, redriveTargets, selectLetters, type AssessedLetter } from '../../replay/dead-letters/redrive-plan.ts'
import { openRedriveSession, readDeadLetters, type DeadLetterSnapshot } from '../../replay/dead-letters/redrive.ts'
import type { Registry } from '../../registry/index.ts'
import type { Runtime } from '../runtime.ts'
import { flagOption, listOption, numberOption, stringOption, UsageError, type Command, type CommandContext, type ParsedArgs } from './command.ts'
import { heldLines, letterJson, renderList, renderShow, showJson, summaryJson } from './dead-letters-format.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { didYouMean } from './did-you-mean.ts'
import { progressFor } from './progress.ts'
import { openReadSideRuntime, readSideRetry } from './read-side.ts'
import { DEAD_LETTER_TOPIC } from '../internal-topics.ts'

const SUBCOMMANDS = ['list', 'show', 'redrive'] as const
const STATUSES = ['redrivable', 'held', 'redriven'] as const
const DEFAULT_LIMIT = 50

export const deadLettersCommand: Command = {
  name: 'dead-letters',
  summary: 'List and inspect refused records; re-drive a selection into its source after a fix, exactly once',
  usage:
    'kfs dead-letters list [filters] [--status <s>] [--limit <n>] [--json]\n       kfs dead-letters show <letter> [--json]\n       kfs dead-letters redrive (filters | --all) [--dry-run] [--json]',
  help: `
Every record the engine refuses (late, undecodable, unknown schema, missing key, …) is kept in
the dead-letter topic ${DEAD_LETTER_TOPIC} with its reason, detail, the view that refused it (when
only one did) and where it was read. A letter is named <topic>/<partition>/<offset> or just
<offset> (the topic has one partition).

  list      the letters, newest last, with counts by reason and status
  show      one letter: headers, key, value, and the value decoded now with its source's schema
  redrive   publish a copy of each selected record back where the refusing views read it, for
            the engine to consume again once the cause outside kfs is fixed (a schema registered,
            a producer's clock corrected). A fix in a view's definition is a new view version,
            whose backfill reads the archive: those records are held, not re-driven.

Status of a letter's record:
  redrivable  every view reading its topic refused it, and no view's current version read it in
              a backfill — or that version refused it there (a backfill's own letters, which
              name the view's version): a copy is applied exactly once
  held        re-driving could count it twice (a view accepted it, or a backfill read it from the
              archive); the reason is shown
  redriven    already re-driven, by this letter or another letter of the same record

Exactly once: each batch of copies is committed in one transaction together with a marker per
record in ${DEAD_LETTER_TOPIC}.redriven; a run skips every record a marker names. Running
redrive twice, or again after a crash or a kill, re-drives each record once. A copy gets a new
offset and timestamp (the time of the re-drive) and headers kfs-redriven-from and
kfs-redriven-letter. A copy the engine refuses again becomes a new letter.

Filters (list and redrive; every one given must hold):
  --reason <a,b>         these reasons (late, undecodable, unknown_schema, future_event_time, …)
  --views <a,b>          records these views refused
  --topic <topic>        records of this source topic
  --from <time>          letters written at or after: ISO-8601 (no zone: UTC), epoch ms, or a duration ago (1h)
  --until <time>         letters written before (same forms)
Options:
${FEATURES_HELP}
                         (which views read each topic, for the status)
  --status <s>           list: only redrivable, held or redriven letters
  --limit <n>            list: show the last n matching letters (default ${DEFAULT_LIMIT})
  --all                  redrive: every redrivable letter (without a filter, redrive needs it)
  --dry-run              redrive: say what would be re-driven, publish nothing
  --json                 print JSON

Exit codes: 0 done; 1 when nothing matches, or redrive finds nothing to re-drive; 2 usage.

Examples:
  kfs dead-letters list
  kfs dead-letters list --reason late --from 1h --json
  kfs dead-letters show 42
  kfs dead-letters redrive --reason future_event_time --dry-run
  kfs dead-letters redrive --topic purchases --reason unknown_schema
`,
  options: {
    ...FEATURES_OPTION,
    reason: { type: 'string', kind: 'names' },
    views: { type: 'string', kind: 'names' },
    topic: { type: 'string', kind: 'name' },
    from: { type: 'string', kind: 'time' },
    until: { type: 'string', kind: 'time' },
    status: { type: 'string', kind: 'name' },
    limit: { type: 'string', kind: 'count' },
    all: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  },
  maxPositionals: 2,
  subcommands: SUBCOMMANDS,
  async run(args, ctx) {
    // The router checked the subcommand: one of SUBCOMMANDS.
    const [sub, letter] = args.positionals as [string, string | undefined]
    checkOptionsFit(sub, letter, args)
    const filter = filterOf(args)
    const runtime = await openReadSideRuntime(ctx)
    try {
      const { registry } = await openRegistry(ctx, { readRetry: readSideRetry(ctx, runtime) })
      const { set } = await loadFeatures(args, ctx, registry)
      const log = await runtime.eventLog()
      if (sub === 'redrive') return await redrive(ctx, runtime, log, registry, set.views, filter, args)
      const snapshot = await readDeadLetters(log, DEAD_LETTER_TOPIC)
      checkNames(filter, set.views, snapshot)
      const assessed = await assess(snapshot, registry, set.views)
      if (sub === 'show') return await show(ctx, runtime, set.views, snapshot, assessed, letter!)
      return list(ctx, assessed, filter, args)
    } finally {
      await runtime.close()
    }
  },
}

function checkOptionsFit(sub: string, letter: string | undefined, args: ParsedArgs): void {
  const given = (names: readonly string[]) => names.filter((n) => args.values[n] !== undefined)
  const filters = given(['reason', 'views', 'topic', 'from', 'until'])
  if (sub === 'show') {
    if (letter === undefined) throw new UsageError('dead-letters show needs a letter, e.g. kfs dead-letters show 42')
    const extra = given([...filters, 'status', 'limit', 'all', 'dry-run'])
    if (extra.length > 0) throw new UsageError(`--${extra[0]} does not apply to dead-letters show`)
    return
  }
  if (letter !== undefined) throw new UsageError(`dead-letters ${sub} takes no argument ('${letter}'); filter with --reason, --views, --topic, --from, --until`)
  if (sub === 'list') {
    const extra = given(['all', 'dry-run'])
    if (extra.length > 0) throw new UsageError(`--${extra[0]} applies only to dead-letters redrive`)
    const status = stringOption(args, 'status')
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`--status: '${status}' is not one of ${STATUSES.join(', ')}.${didYouMean(status, STATUSES)}`)
    }
    return
  }
  const extra = given(['status', 'limit'])
  if (extra.length > 0) throw new UsageError(`--${extra[0]} applies only to dead-letters list`)
  if (filters.length === 0 && !flagOption(args, 'all')) {
    throw new UsageError('redrive needs a selection: --reason, --views, --topic, --from or --until (or --all for every re-drivable letter)')
  }
}

/** --views and --topic must name a view or topic of the module, or one some letter names. */
function checkNames(filter: DeadLetterFilter, views: readonly FeatureViewDef[], snapshot: DeadLetterSnapshot): void {
  const knownViews = new Set([...views.map((v) => v.name), ...snapshot.entries.flatMap((e) => (e.view === undefined ? [] : [e.view]))])
  const unknownViews = (filter.views ?? []).filter((v) => !knownViews.has(v))
  if (unknownViews.length > 0) {
    throw new UsageError(
      `--views: ${unknownViews.join(', ')} names no view of the features module or of a letter (views: ${[...knownViews].join(', ') || 'none'}).${didYouMean(unknownViews[0]!, [...knownViews])}`,
    )
  }
  const knownTopics = new Set([...views.map((v) => v.source.topic), ...snapshot.entries.flatMap((e) => [e.target.topic, e.read.topic])])
  const topic = filter.topics?.find((t) => !knownTopics.has(t))
  if (topic !== undefined) {
    throw new UsageError(
      `--topic: no source of the features module and no letter has topic ${topic} (topics: ${[...knownTopics].join(', ') || 'none'}).${didYouMean(topic, [...knownTopics])}`,
    )
  }
}

function filterOf(args: ParsedArgs): DeadLetterFilter {
  const wrong = listOption(args, 'reason')?.find((r) => !(DEAD_LETTER_REASONS as readonly string[]).includes(r))
  if (wrong !== undefined) throw new UsageError(`--reason: '${wrong}' is no reason kfs refuses a record for (${DEAD_LETTER_REASONS.join(', ')}).${didYouMean(wrong, DEAD_LETTER_REASONS)}`)
  const topic = stringOption(args, 'topic')
  const fromMs = numberOption(args, 'from')
  const untilMs = numberOption(args, 'until')
  // An empty span selects nothing: a typo, not a filter (kfs skew-report refuses it alike).
  if (fromMs !== undefined && untilMs !== undefined && fromMs >= untilMs) throw new UsageError('--from must be before --until')
  return {
    ...(listOption(args, 'reason') ? { reasons: listOption(args, 'reason') } : {}),
    ...(listOption(args, 'views') ? { views: listOption(args, 'views') } : {}),
    ...(topic === undefined ? {} : { topics: [topic] }),
    ...(fromMs === undefined ? {} : { fromMs }),
    ...(untilMs === undefined ? {} : { untilMs }),
  }
}

async function assess(snapshot: DeadLetterSnapshot, registry: Registry, views: readonly FeatureViewDef[]): Promise<AssessedLetter[]> {
  const states = await Promise.all(views.map(async (view) => ({ view, backfill: await registry.getBackfillStatus(view.name, view.version) })))
  return assessLetters(snapshot.entries, states, new Set(snapshot.redriven.keys()))
}

function list(ctx: CommandContext, assessed: readonly AssessedLetter[], filter: DeadLetterFilter, args: ParsedArgs): number {
  const status = stringOption(args, 'status')
  const selected = selectLetters(assessed, filter).filter((a) => status === undefined || a.status.kind === status)
  const shown = selected.slice(-(numberOption(args, 'limit') ?? DEFAULT_LIMIT))
  if (ctx.json) {
    ctx.out(`${JSON.stringify({ topic: DEAD_LETTER_TOPIC, total: assessed.length, ...summaryJson(selected), shown: shown.length, list: shown.map((a) => letterJson(a)) }, null, 2)}\n`)
  } else {
    ctx.out(renderList(DEAD_LETTER_TOPIC, selected, shown, assessed.length))
  }
  // An empty dead-letter topic is good news, not a failure; a filter that matches nothing is "nothing found".
  return selected.length > 0 || (assessed.length === 0 && Object.keys(filter).length === 0 && status === undefined) ? 0 : 1
}

async function show(
  ctx: CommandContext,
  runtime: Runtime,
  views: readonly FeatureViewDef[],
  snapshot: DeadLetterSnapshot,
  assessed: readonly AssessedLetter[],
  name: string,
): Promise<number> {
  const wanted = /^\d+$/.test(name) ? `${DEAD_LETTER_TOPIC}/0/${name}` : /^\d+\/\d+$/.test(name) ? `${DEAD_LETTER_TOPIC}/${name}` : name
  if (parsePositionId(wanted) === undefined) throw new UsageError(`'${name}' is not a letter: give <offset>, <partition>/<offset> or <topic>/<partition>/<offset>`)
  const found = assessed.find((a) => positionId(a.entry.at) === wanted)
  if (found === undefined) {
    const last = assessed.at(-1)
    throw new UsageError(`no dead letter ${wanted}${last ? ` (letters run up to ${positionId(last.entry.at)})` : ' (the dead-letter topic is empty)'}`)
  }
  const target = positionId(found.entry.target)
  const siblings = assessed.filter((a) => a !== found && positionId(a.entry.target) === target)
  const source = views.find((v) => v.source.topic === found.entry.target.topic)?.source
  const details = {
    assessed: found,
    siblings,
    marker: snapshot.redriven.get(target),
    decoded: source === undefined ? undefined : await runtime.decoderFor(source).decode(found.entry.value),
    source: source?.name,
  }
  ctx.out(ctx.json ? `${JSON.stringify(showJson(details), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n` : renderShow(details))
  return 0
}

async function redrive(
  ctx: CommandContext,
  runtime: Runtime,
  log: EventLog,
  registry: Registry,
  views: readonly FeatureViewDef[],
  filter: DeadLetterFilter,
  args: ParsedArgs,
): Promise<number> {
  const dryRun = flagOption(args, 'dry-run')
  const progress = progressFor(ctx)
  progress.ticking('reading dead letters…')
  // A dry run must not fence a running re-drive: it reads like list does.
  const session = dryRun ? undefined : await openRedriveSession(log, DEAD_LETTER_TOPIC, runtime.clock)
  const snapshot = session?.snapshot ?? (await readDeadLetters(log, DEAD_LETTER_TOPIC))
  checkNames(filter, views, snapshot)
  const selected = selectLetters(await assess(snapshot, registry, views), filter)
  const targets = redriveTargets(selected)
  progress.done()
  const summary = summaryJson(selected)
  if (selected.length === 0) {
    ctx.out(ctx.json ? `${JSON.stringify({ ...summary, redriven: 0, dryRun })}\n` : `no dead letter matches (${snapshot.entries.length} in ${DEAD_LETTER_TOPIC})\n`)
    return 1
  }
  const done = session === undefined ? targets : await session.redrive(targets, (n, total) => progress.update(`re-driving ${n}/${total} records…`))
  progress.done()
  const byTopic: Record<string, number> = {}
  for (const t of done) byTopic[t.to.topic] = (byTopic[t.to.topic] ?? 0) + 1
  if (ctx.json) {
    ctx.out(`${JSON.stringify({ ...summary, dryRun, redriven: done.length, byTopic, records: done.map((t) => ({ record: t.id, to: positionId(t.to), letter: positionId(t.letter.at) })), held: heldLines(selected).slice(2).map((l) => l.trim()) }, null, 2)}\n`)
  } else {
    const lines = [`selected ${summary.letters as number} letters of ${summary.records as number} records`]
    if (done.length === 0) lines.push('nothing to re-drive: every selected record is held or was re-driven before')
    else
      lines.push(
        `${dryRun ? 'would re-drive' : 're-drove'} ${done.length} records: ${Object.entries(byTopic).map(([t, n]) => `${t} ${n}`).join(', ')}` +
          (dryRun ? '' : ' — the engine applies them as it consumes (kfs run)'),
      )
    const before = selected.filter((a) => a.status.kind === 'redriven').length
    if (before > 0) lines.push(`${before} letters name records re-driven before`)
    lines.push(...heldLines(selected), '')
    ctx.out(lines.join('\n'))
  }
  return done.length > 0 ? 0 : 1
}
