/**
 * `kfs compact`: rewrite the many small files of old feature-table partitions into few large ones,
 * then expire the old snapshots of the feature tables and their source topics' archives, and
 * (`--remove-orphans`, opt-in as Iceberg's action is) delete the files no table metadata names.
 */
import { pinnedSnapshots } from '../../training/records.ts'
import type { OfflineTable } from '../../ports/offline.ts'
import type { CompactionSummary } from '../../ports/offline-compaction.ts'
import { flagOption, listOption, numberOption, UsageError, type Command } from './command.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { publishedViews, viewsWith } from './live-views.ts'
import { removeOrphans } from './compact-orphans.ts'
import { openReadSideRuntime, readSideRetry } from './read-side.ts'

export const compactCommand: Command = {
  name: 'compact',
  summary: 'Compact old partitions of the offline feature tables and the raw archives (small-file hygiene)',
  usage:
    'kfs compact [--views a,b] [--older-than <duration>] [--no-archive] [--no-expire] [--remove-orphans [--dry-run]] [--json]',
  help: `
Checkpoints append small Parquet files. For every day partition of a view's offline table older
than --older-than, rewrites its files into few of at most 262,144 rows (a "replace" snapshot),
streamed, never a whole day in memory (kfs run does the same by itself, KFS_COMPACT_OLDER_THAN_MS,
two days at a time): readers see the same rows,
time travel to earlier snapshots keeps working, and a concurrent engine commit simply retries.
A read or write of the object store that fails with a passing fault is asked again (ten
attempts); one that outlasts that, or is refused, fails the command with one line naming what it
read or wrote (exit 1), and the table is as it was (the files written so far are left unnamed).
No partition old enough is a normal outcome (exit 0: "nothing to compact"), so it can run on a
schedule; a --views name that is not an offline view of the module exits 2.

Then, per source topic of those views, merges its raw archive's files committed more than
--older-than ago (one per partition per checkpoint; a replay opens each), partition by
partition in offset order, into files of up to 262,144 rows (and the last file merged): every
partition reads the same records and markers in the same order, where it ends stays the same,
and snapshots from before still read as they did. A commit that races the engine's checkpoints
is rebuilt on the fresh table; one that finds its files already merged by another compaction
commits nothing and says "superseded" (run it again). --no-archive skips it. (kfs run does the
same by itself, KFS_COMPACT_OLDER_THAN_MS, about 10,000 files at a time.)

Then expires old snapshots of each view's table and of its source topic's archive: every
checkpoint commits one, and the table metadata every commit rewrites holds them all. Kept: the
current snapshot, those superseded less than KFS_SNAPSHOT_RETENTION_MS ago (1 day) among the newest
KFS_SNAPSHOT_MAX_KEEP (2,000), the newest KFS_SNAPSHOT_MIN_KEEP (100), and every snapshot a recorded training set pinned (so it rebuilds).
Files only expired snapshots named are deleted after the commit; a time-travel read of an expired
snapshot fails naming it. (kfs run also expires by itself, every 100 commits of a table.)

With --remove-orphans, then deletes each table's orphan files: objects under its location that
no metadata names (a failed commit's uploads, files expiry could not delete, a crashed
compaction's output) and that were last written more than KFS_ORPHAN_MIN_AGE_MS ago (3 days: a
younger file may be a commit's in flight). Files a published checkpoint record staged stay (a
restart commits them). A table whose metadata, manifest lists or manifests cannot be read is
refused, nothing deleted (exit 1). --dry-run reports what would go and deletes nothing.

Options:
${FEATURES_HELP}
  --views <a,b>          views to compact (default: every view of the module)
  --older-than <d>       only day partitions older than this (default 2d)
  --no-archive           leave the topics' raw archives as they are
  --no-expire            compact only; keep every snapshot
  --remove-orphans       then delete files no table metadata names (older than KFS_ORPHAN_MIN_AGE_MS)
  --dry-run              with --remove-orphans: report them, delete nothing
  --json                 print a JSON summary

Examples:
  kfs compact
  kfs compact --views user_purchases --older-than 7d
  kfs compact --remove-orphans --dry-run
`,
  options: {
    ...FEATURES_OPTION,
    views: { type: 'string', kind: 'names' },
    'older-than': { type: 'string', kind: 'duration' },
    'no-archive': { type: 'boolean' },
    'no-expire': { type: 'boolean' },
    'remove-orphans': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  },
  async run(args, ctx) {
    const only = listOption(args, 'views')
    const olderThanMs = numberOption(args, 'older-than') ?? 2 * 86_400_000
    const orphans = flagOption(args, 'remove-orphans')
    const dryRun = flagOption(args, 'dry-run')
    if (dryRun && !orphans) throw new UsageError('--dry-run needs --remove-orphans (compaction and expiry have no dry run)')
    // Its writes too: one passing fault of a data file's or a manifest's write must not fail the run.
    const runtime = await openReadSideRuntime(ctx, 'writes retried')
    try {
      const { registry } = await openRegistry(ctx, { readRetry: readSideRetry(ctx, runtime) })
      const { set } = await loadFeatures(args, ctx, registry)
      const olderThanDay = Math.floor((runtime.clock.nowMs() - olderThanMs) / 86_400_000)
      const results: Record<string, unknown>[] = []
      const views = viewsWith('offline', await publishedViews(set, registry, only), only !== undefined, 'compact')
      const tables: OfflineTable[] = [
        ...views.map((view) => ({ kind: 'feature' as const, view })),
        ...[...new Set(views.map((v) => v.source.topic))].map((topic) => ({ kind: 'archive' as const, topic })),
      ]
      for (const view of views) {
        const { removedFiles, addedFiles, status } = await runtime.offline.compactFeatureTable(view, { olderThanDay })
        results.push({ view: `${view.name}@${view.version}`, removedFiles, addedFiles, status: status ?? 'nothing to compact' })
        if (!ctx.json)
          ctx.out(
            `${view.name} v${view.version}: ${removedFiles} files rewritten into ${addedFiles}${status ? ` (${status})` : ''}\n`,
          )
      }
      if (!flagOption(args, 'no-archive')) {
        const committedBeforeMs = runtime.clock.nowMs() - olderThanMs
        for (const { topic } of tables.filter((t) => t.kind === 'archive')) {
          const summary = await runtime.offline.compactArchive(topic, { committedBeforeMs })
          results.push({ archive: topic, ...archiveResult(summary) })
          if (!ctx.json)
            ctx.out(
              `archive ${topic}: ${summary.removedFiles} files rewritten into ${summary.addedFiles}${summary.status ? ` (${summary.status})` : ''}\n`,
            )
        }
      }
      if (!flagOption(args, 'no-expire')) {
        // Read after compacting: a training set recorded meanwhile pinned a snapshot current then, which stays anyway.
        const pins = await pinnedSnapshots(runtime.store)
        for (const table of tables) {
          const id = runtime.offline.tableId(table)
          const keep = pins.get(id) ?? new Set<string>()
          const summary = await runtime.offline.expireSnapshots(table, { ...ctx.config().snapshotRetention, keep })
          // --json keeps printing the compaction results alone (the array scripts already parse).
          if (!ctx.json && summary.expiredSnapshots > 0)
            ctx.out(
              `${id}: ${summary.expiredSnapshots} snapshots expired, ${summary.keptSnapshots} kept, ${summary.deletedFiles} files deleted\n`,
            )
        }
      }
      // After expiry: what it could not delete is an orphan now.
      const removed = orphans
        ? await removeOrphans(runtime, tables, { minAgeMs: ctx.config().orphanMinAgeMs, dryRun }, ctx)
        : undefined
      // --json without --remove-orphans keeps printing the compaction results alone (the array scripts already parse).
      if (ctx.json) ctx.out(`${JSON.stringify(removed === undefined ? results : { compacted: results, orphans: removed })}\n`)
      return 0
    } finally {
      await runtime.close()
    }
  },
}

function archiveResult({ removedFiles, addedFiles, status }: CompactionSummary): {
  removedFiles: number
  addedFiles: number
  status: string
} {
  return { removedFiles, addedFiles, status: status ?? 'nothing to compact' }
}
