/**
 * `kfs replay --views`: the backfill mode (./replay.ts parses the command and picks the mode).
 * Checks every view before writing, leaves a view already complete as it is (with --online loads
 * its online store from its offline table), and backfills the others from their pinned archive
 * snapshots, reporting each.
 */
import { FeatureStoreError } from '../../core/errors.ts'
import { isoTextOrMs } from '../../core/iso-time.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import type { BackfillStatus, Registry } from '../../registry/index.ts'
import { backfillRecorded } from '../../replay/backfill-before-live.ts'
import { reloadOnlineFromOffline } from '../../replay/online-from-offline.ts'
import { DEAD_LETTER_TOPIC } from '../internal-topics.ts'
import type { Runtime } from '../runtime.ts'
import { completeThroughText, isLiveFromStart, neverBackfilledText, topicOffsets } from './backfill-wording.ts'
import { flagOption, numberOption, stringOption, UsageError, type CommandContext, type ParsedArgs } from './command.ts'
import { requireHandOverGroup } from './hand-over-group.ts'
import { backfillDeadLetters, backfillEnvironment, type BackfillDeadLetters } from './live-views.ts'
import { progressLine } from './progress-line.ts'
import { archiveSnapshotAsOf, type PinnedAsOf } from './replay-as-of.ts'
import { DEFAULT_GROUP } from './run.ts'

/**
 * Every view is checked (the snapshot exists, the archive has records) before the first one is
 * backfilled, so a bad --views, --snapshot-id or --as-of changes nothing. A view already complete is left
 * as it is and reported so: a re-run after a run that completed (or whose answer was lost) finds
 * the work done, which is success, not a failure to recompute it — a new version does that.
 * With --online, such a view's online rows are loaded from its offline table (`alreadyComplete`).
 */
export async function backfill(
  views: readonly FeatureViewDef[],
  registry: Registry,
  runtime: Runtime,
  args: ParsedArgs,
  ctx: CommandContext,
): Promise<Record<string, unknown>[]> {
  const asOfMs = numberOption(args, 'as-of')
  const groupId = stringOption(args, 'group') ?? DEFAULT_GROUP
  const summary: Record<string, unknown>[] = []
  const pending: FeatureViewDef[] = []
  // Per topic: views of one topic read one archive table, so they share its snapshot.
  const asOf = new Map<string, PinnedAsOf>()
  const pins = new Map<FeatureViewDef, Pin>()
  const complete: Complete[] = []
  for (const view of views) {
    const status = await registry.getBackfillStatus(view.name, view.version)
    if (status?.state === 'complete') {
      complete.push({ view, status })
      continue
    }
    pending.push(view)
    const topic = view.source.topic
    if (asOfMs !== undefined && !asOf.has(topic)) asOf.set(topic, await archiveSnapshotAsOf(runtime.offline, topic, asOfMs))
    const pinnedAsOf = asOf.get(topic)
    const snapshotId = pinnedAsOf?.snapshotId ?? stringOption(args, 'snapshot-id')
    pins.set(view, {
      snapshotId,
      ...(pinnedAsOf === undefined || asOfMs === undefined ? {} : { asOf: { timeMs: asOfMs, ...pinnedAsOf } }),
    })
    if (snapshotId !== undefined) {
      const snapshots = (await runtime.offline.snapshots(runtime.offline.tableId({ kind: 'archive', topic }))).map(
        (s) => s.snapshotId,
      )
      if (!snapshots.includes(snapshotId)) {
        throw new UsageError(
          `--snapshot-id: the archive of ${topic} has no snapshot ${snapshotId}; latest: ${snapshots.slice(-5).reverse().join(', ') || '(none)'}`,
        )
      }
    }
    const end = await runtime.offline.archiveEnd(topic, snapshotId)
    if (Object.keys(end.nextOffsets).length === 0) {
      throw new FeatureStoreError(
        'NOT_FOUND',
        `nothing to backfill for ${view.name}: the archive of ${topic} holds no records (kfs run starts the view from the beginning of the topic)`,
      )
    }
    await requireHandOverGroup(runtime.store, groupId, topic, args.values.group !== undefined, `${view.name} v${view.version}`)
  }
  for (const done of complete) summary.push(await alreadyComplete(done, flagOption(args, 'online'), runtime, ctx))
  if (pending.length === 0) return summary
  const deadLetters = backfillDeadLetters(runtime)
  try {
    await backfillEach(pending, pins, registry, runtime, deadLetters, args, ctx, summary)
  } finally {
    deadLetters.finish()
  }
  const waiting = deadLetters.waiting()
  // On stderr either way: stdout carries the --json document.
  if (waiting !== undefined)
    ctx.err(
      `${waiting.letters} dead letters wait in ${waiting.dir}: process ${waiting.heldByPid} holds the event log (a kfs run); it moves them into ${DEAD_LETTER_TOPIC} within KFS_EMBEDDED_LOG_HANDOVER_MS (1 s) while it runs, else the next kfs command that opens the log does (e.g. kfs dead-letters list)\n`,
    )
  return summary
}

/** A view whose backfill is complete, through these offsets per partition. */
interface Complete {
  readonly view: FeatureViewDef
  readonly status: BackfillStatus
}

/**
 * A view already complete is not backfilled again. Asked for --online, its history is in its
 * offline table (the backfill's rows, and live's since the hand-off), so the online store is
 * loaded from there as --online-from-offline does — the latest row per entity, conditional writes,
 * so fresher live values stay. Without it, a backfill run without --online left the view's history
 * out of the online store for good, and the re-run with --online said "nothing written".
 */
async function alreadyComplete(
  { view, status }: Complete,
  online: boolean,
  runtime: Runtime,
  ctx: CommandContext,
): Promise<Record<string, unknown>> {
  // Never backfilled: kfs run computed it live from the start of its topic (backfill-wording.ts).
  const liveFromStart = isLiveFromStart(status)
  const through = liveFromStart
    ? neverBackfilledText(view.source.topic)
    : `already backfilled (complete through ${completeThroughText(status.completeThrough)})`
  const entry = {
    view: `${view.name}@${view.version}`,
    alreadyComplete: true,
    completeThrough: Object.fromEntries(status.completeThrough.map((t) => [t.partition, t.offset])),
    ...(liveFromStart ? { liveFromStart } : {}),
  }
  if (!online) {
    const recompute = liveFromStart
      ? 'publish a new version to backfill it from the archive'
      : 'publish a new version to recompute it'
    if (!ctx.json) ctx.out(`${view.name} v${view.version}: ${through}; nothing written — ${recompute}\n`)
    return entry
  }
  const loaded = await reloadOnlineFromOffline({
    view,
    online: await runtime.onlineStore(),
    rows: runtime.offline,
    nowMs: runtime.clock.nowMs(),
  })
  if (!ctx.json)
    ctx.out(
      `${view.name} v${view.version}: ${through}; online store loaded from its offline table: ${loaded.entities} entities, ${loaded.written} rows written online, ${loaded.stale} already fresher\n`,
    )
  return { ...entry, onlineLoaded: loaded }
}

/** The archive snapshot a view is backfilled from: the current one (undefined), given, or current at --as-of. */
interface Pin {
  readonly snapshotId: string | undefined
  readonly asOf?: PinnedAsOf & { readonly timeMs: number }
}

async function backfillEach(
  views: readonly FeatureViewDef[],
  pins: ReadonlyMap<FeatureViewDef, Pin>,
  registry: Registry,
  runtime: Runtime,
  deadLetters: BackfillDeadLetters,
  args: ParsedArgs,
  ctx: CommandContext,
  summary: Record<string, unknown>[],
): Promise<void> {
  const groupId = stringOption(args, 'group') ?? DEFAULT_GROUP
  for (const view of views) {
    const { snapshotId, asOf } = pins.get(view) ?? { snapshotId: undefined }
    // A progress bar on a terminal only: CI logs and --json stay quiet.
    const interactive = !ctx.json && process.stderr.isTTY
    const startedAt = runtime.clock.nowMs()
    let shownAt = -Infinity
    const result = await backfillRecorded(registry, backfillEnvironment(runtime, deadLetters), {
      view,
      liveGroupId: groupId,
      ...(flagOption(args, 'online') ? { online: await runtime.onlineStore() } : {}),
      ...(snapshotId === undefined ? {} : { archiveSnapshotId: snapshotId }),
      logger: runtime.logger,
      onProgress: (p) => {
        const now = runtime.clock.nowMs()
        if (!interactive || (!p.partitionDone && now - shownAt < 250)) return
        shownAt = now
        ctx.err(`\r${progressLine(view.name, { done: p.records, total: p.totalRecords, rows: p.rows }, now - startedAt)}   `)
      },
    })
    if (interactive)
      ctx.err(
        `\r${progressLine(view.name, { done: result.records, total: result.records, rows: result.rows }, runtime.clock.nowMs() - startedAt, true)}   \n`,
      )
    summary.push({
      view: `${view.name}@${view.version}`,
      ...result,
      ...(asOf === undefined ? {} : { asOfMs: asOf.timeMs, archiveSnapshotCommittedAtMs: asOf.committedAtMs }),
    })
    const from =
      asOf === undefined
        ? `archive snapshot ${result.archiveSnapshotId ?? '(none)'}`
        : `archive snapshot ${asOf.snapshotId}, current at ${isoTextOrMs(asOf.timeMs)} (committed ${isoTextOrMs(asOf.committedAtMs)})`
    if (!ctx.json)
      ctx.out(
        `${view.name} v${view.version}: backfilled ${result.records} records → ${result.rows} rows, ${result.deadLetters} dead letters, from ${from} (complete through ${completeThroughText(topicOffsets(view.source.topic, result.completeThrough))})\n`,
      )
  }
}
