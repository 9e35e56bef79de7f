/** `kfs run`: the live engine over the applied views (Kafka or the embedded log). */
import type { Logger } from '../../core/logger.ts'
import { FeatureStoreError, reasonOf } from '../../core/errors.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../engine/live-engine.ts'
import { createEngineMetrics, listenForMetrics, MetricsPortError, type MetricsServer } from '../metrics-server.ts'
import { createRuntime } from '../runtime.ts'
import { flagOption, listOption, numberOption, stringOption, UsageError, type Command } from './command.ts'
import { errorJson, EXIT_FAILURE, printFailure } from './router.ts'
import { deadLetteredText } from './dead-letters-format.ts'
import { progressFor } from './progress.ts'
import { FEATURES_HELP, FEATURES_OPTION, loadFeatures, openRegistry } from './definitions.ts'
import { backfillReadRetry, settleBackfills } from '../../replay/backfill-before-live.ts'
import { backfillEnvironment, publishedViews } from './live-views.ts'
import { DEAD_LETTER_TOPIC } from '../internal-topics.ts'
import { listenForStop, type StopSignal } from './stop-signal.ts'
import { stopWithin } from './stop-within.ts'
import { consumedTopics, requireSoleLiveGroup } from './live-groups.ts'
import { requireClaimHeld } from './topic-claims.ts'
import { requireDeclaredPartitions, sourcesReadBy } from '../../engine/source-partitions.ts'

export const DEFAULT_GROUP = 'kfs-engine'

/** `; 1500 records of clicks deleted by retention before they were read` (docs/semantics.md §17); empty when none. */
function deletedText(byTopic: Readonly<Record<string, number>>): string {
  const parts = Object.entries(byTopic).map(([topic, n]) => `${n} records of ${topic}`)
  return parts.length === 0 ? '' : `; ${parts.join(', ')} deleted by retention before they were read`
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Run the streaming engine: sources → views → online and offline stores',
  usage: 'kfs run [--features <path>] [--views a,b] [--group <id>] [--until-caught-up [--idle <duration>]] [--json]',
  help: `
Consumes the sources of the applied feature views, computes every view with the same operators
replay uses, writes each row to the online store (conditional on as_of) as soon as it is produced
and to the offline Iceberg tables at checkpoints (exactly once), and archives every record.
Views not yet backfilled are backfilled from the archive first, then handed over to live.
A view keyed by another entity than its topic (e.g. item views over a topic keyed by user) reads
an internal topic kfs.<topic>.by-<entity> that the engine fills exactly once (Kafka transactions)
and archives like any source.
Runs on Kafka/Redis/S3 when configured (KFS_KAFKA_BROKERS, KFS_REDIS_URL, KFS_S3_BUCKET) and on
the embedded defaults under KFS_DATA_DIR otherwise. Stops cleanly (final checkpoint) on
SIGINT/SIGTERM; a kill at any instant loses and duplicates nothing.

Compacts the old day partitions of the views' offline tables and the old files of their topics'
archives by itself, in the background: at most every 10 minutes per table (KFS_COMPACT_EVERY_MS),
those older than KFS_COMPACT_OLDER_THAN_MS (2 days; off: only kfs compact compacts), two day
partitions (KFS_COMPACT_MAX_PARTITIONS) or about 10,000 archive files (KFS_COMPACT_MAX_ARCHIVE_FILES)
at a time; a failure is logged and tried again later, rows unchanged. kfs_compaction_* metrics.

Every topic read must hold the partitions its source declares: one with another count is refused
before anything is written, and one grown while the engine runs stops it (exit 1, naming the topic
and both counts; docs/semantics.md §10).

Exit codes: 0 after a clean stop; 1 when the engine failed, or when its stop could not finish
(a partition's final checkpoint or the dead-letter flush failed: one line names them, and the next
start resumes from the last checkpoint that was published, losing nothing); 2 for a usage error.
A stop gives its final checkpoints KFS_STOP_TIMEOUT_MS (25s) — then it gives up, names the step that
failed, and exits 1 within about 2 s more — so it ends inside a supervisor's kill grace (Kubernetes:
30 s; give docker the same: docker stop -t 30, or stop_grace_period).

Options:
${FEATURES_HELP}
  --views <a,b>          run only these views (default: every view of the module)
  --group <id>           consumer group and checkpoint namespace (default ${DEFAULT_GROUP}); one live
                         group per topic per store: the run claims each topic it reads before it
                         writes (claims/<topic>.json), and a topic another group claimed or
                         consumed here exits 1, naming it (kfs groups lists them; kfs groups
                         retire removes a group that stopped for good)
  --until-caught-up      stop (exit 0) once every partition is consumed to its end
  --idle <duration>      with --until-caught-up: how long the end must hold (default 2s)
  --json                 print a JSON summary on exit

Examples:
  kfs run
  kfs run --views user_purchases --until-caught-up
  KFS_KAFKA_BROKERS=127.0.0.1:19092 KFS_REDIS_URL=redis://127.0.0.1:16379 kfs run
`,
  options: {
    ...FEATURES_OPTION,
    views: { type: 'string', kind: 'names' },
    group: { type: 'string', kind: 'name' },
    'until-caught-up': { type: 'boolean' },
    idle: { type: 'string', kind: 'duration' },
  },
  async run(args, ctx) {
    const untilCaughtUp = flagOption(args, 'until-caught-up')
    if (!untilCaughtUp && args.values.idle !== undefined) throw new UsageError('--idle goes with --until-caught-up')
    const only = listOption(args, 'views')
    const groupId = stringOption(args, 'group') ?? DEFAULT_GROUP
    const idleMs = numberOption(args, 'idle') ?? 2_000
    const config = ctx.config()
    const runtime = await createRuntime(config, { compactsTables: true })
    const logger = runtime.logger.child({ component: 'cli.run' })
    let metrics: MetricsServer | undefined
    let stop: StopSignal | undefined
    try {
      // First, so a busy port stops the command before it consumes or backfills anything.
      if (config.metricsPort !== undefined) {
        try {
          metrics = await listenForMetrics(config.serveHost, config.metricsPort, (err) => logger.warn({ err }, 'metrics endpoint error'))
        } catch (err: unknown) {
          if (!(err instanceof MetricsPortError)) throw err
          // A port another process holds is the environment, not the command line: exit 1 and
          // CONFIG_INVALID, as kfs serve's busy --port is (README, "CLI": 2 is for usage errors).
          throw new FeatureStoreError('CONFIG_INVALID', err.message, {
            cause: err,
            context: { host: config.serveHost, port: config.metricsPort },
          })
        }
      }
      // Its reads retried as the backfills' other reads are (settleBackfills reads their status).
      const { registry } = await openRegistry(ctx, { readRetry: backfillReadRetry(runtime.clock, logger) })
      const { set } = await loadFeatures(args, ctx, registry)
      const views = await publishedViews(set, registry, only)
      if (views.length === 0) throw new FeatureStoreError('NOT_FOUND', 'nothing to run: the features module defines no view')
      // Before anything is claimed, replayed or consumed: a topic with another partition count than
      // its source declares would split entities' state (engine/source-partitions.ts).
      await requireDeclaredPartitions(await runtime.eventLogReader(), sourcesReadBy(views))
      // Before the backfills (they write feature tables) and the engine (the archives, the re-key
      // topics): claims the topics, so of two groups starting at once one runs (./topic-claims.ts).
      await requireSoleLiveGroup(runtime.store, groupId, consumedTopics(views), runtime.clock.nowMs())
      await settleBackfills(views, registry, backfillEnvironment(runtime), groupId, logger, (line) => ctx.err(`${line}\n`))

      const log = await runtime.eventLog()
      const engine = createLiveEngine({
        log,
        stateStore: runtime.store,
        offline: runtime.offline,
        online: await runtime.onlineStore(),
        // Rows the online store loses (a restart without persistence, a flush, evictions) are
        // reloaded from these by the engine itself (engine/online-loss-watch.ts).
        offlineRows: runtime.offline,
        deadLetters: createDeadLetterTopicSink(log, DEAD_LETTER_TOPIC),
        deadLetterTopic: DEAD_LETTER_TOPIC,
        decoderFor: runtime.decoderFor,
        views,
        groupId,
        clock: runtime.clock,
        logger,
        checkpointIntervalMs: config.checkpointIntervalMs,
        checkpointMaxRecords: config.checkpointMaxRecords,
        // The stop gives its final checkpoints up at this (engine/stop-deadline.ts): exit 1 in bounded time.
        stopTimeoutMs: config.stopTimeoutMs,
        // Each checkpoint asks first: a member left running when its group was retired stops (§14).
        checkClaim: (topic) => requireClaimHeld(runtime.store, groupId, topic),
      })
      metrics?.expose(createEngineMetrics(engine.stats, runtime.clock, views, runtime.compactionStats))
      // Listened for before start: a signal sent on seeing "engine running" must find a listener.
      stop = listenForStop()
      await engine.start()
      ctx.err(
        `engine running: ${views.map((v) => `${v.name}@${v.version}`).join(', ')}${metrics ? ` — metrics on http://${config.serveHost}:${config.metricsPort}/metrics` : ''}\n`,
      )

      const caughtUp = untilCaughtUp ? waitUntilCaughtUp(engine, idleMs, runtime.clock, logger) : new Promise<never>(() => {})
      // Catching up can take minutes: say how far it is (on a terminal only, and not with --json).
      const progress = untilCaughtUp ? progressFor(ctx) : undefined
      const progressTimer = progress ? setInterval(() => progress.update(catchUpLine(engine.stats)), 500) : undefined
      const outcome = await Promise.race([stop.received, caughtUp.then(() => 'caught-up'), engine.failed]).finally(() => {
        clearInterval(progressTimer)
        progress?.done()
      })
      if (outcome instanceof Error) {
        logger.fatal({ err: outcome }, 'engine failed')
        printFailure(ctx, errorJson(outcome), `engine failed: ${reasonOf(outcome)}\n`)
        return EXIT_FAILURE
      }
      // A checkpoint that fails is retried by the stop's own checkpoint (its rows were kept); if
      // that fails too — or any partition's final checkpoint, the dead-letter flush, a re-key
      // stage's last transaction — stop rejects, naming what failed: exit 1, not the summary of a
      // clean stop. Either way a run during which the engine failed is a failure.
      try {
        await stopWithin(() => engine.stop(), config.stopTimeoutMs)
      } catch (err: unknown) {
        logger.fatal({ err }, 'engine stop failed')
        const message = `engine stop failed: ${reasonOf(err)}`
        printFailure(ctx, { ...errorJson(err), message }, `${message}\n`)
        return EXIT_FAILURE
      }
      if (engine.failure !== undefined) {
        printFailure(ctx, errorJson(engine.failure), `engine failed: ${reasonOf(engine.failure)}\n`)
        return EXIT_FAILURE
      }
      const { consumed, emittedRows, deadLettered, checkpoints, deletedBeforeRead } = engine.stats
      const summary = { stoppedBy: outcome, consumed, emittedRows, deadLettered, checkpoints, deletedBeforeRead }
      const text = `engine stopped (${outcome}): ${consumed} records consumed, ${emittedRows} rows emitted, ${checkpoints} checkpoints${deadLetteredText(deadLettered)}${deletedText(deletedBeforeRead)}`
      ctx.out(ctx.json ? `${JSON.stringify(summary)}\n` : `${text}\n`)
      return 0
    } finally {
      stop?.dispose()
      metrics?.close()
      await runtime.close()
    }
  },
}

/** `run --until-caught-up: 12,345 records consumed, 9,876 rows emitted, 1,234 behind` (lag as last measured). */
export function catchUpLine(stats: { consumed: number; emittedRows: number; lag: Readonly<Record<string, Readonly<Record<number, number>>>> }): string {
  let behind = 0
  for (const partitions of Object.values(stats.lag)) for (const n of Object.values(partitions)) behind += n
  const n = (x: number): string => x.toLocaleString('en')
  return `run --until-caught-up: ${n(stats.consumed)} records consumed, ${n(stats.emittedRows)} rows emitted, ${n(behind)} behind`
}

/**
 * Caught up once the engine says so continuously for `idleMs`. A failed check (the broker's
 * offsets briefly unavailable, e.g. during a rebalance) counts as "not yet"; only a failure that
 * lasts about a minute ends the wait with it.
 */
async function waitUntilCaughtUp(
  engine: { isCaughtUp(quietMs: number): Promise<boolean> },
  idleMs: number,
  clock: { nowMs(): number; sleep(ms: number): Promise<void> },
  logger: Logger,
): Promise<void> {
  let since: number | undefined
  let failures = 0
  for (;;) {
    await clock.sleep(200)
    let caughtUp: boolean
    try {
      caughtUp = await engine.isCaughtUp(idleMs)
      failures = 0
    } catch (err: unknown) {
      if (++failures >= 300) throw err
      // One failed check is routine (kafkajs's offset lookup can fail while the broker's metadata
      // settles after topic creation or a rebalance); a run of them is worth a warning.
      if (failures % 10 === 0) logger.warn({ err, failures }, 'caught-up check keeps failing; checking again')
      else logger.debug({ err, failures }, 'caught-up check failed; checking again')
      caughtUp = false
    }
    if (!caughtUp) since = undefined
    else if (since === undefined) since = clock.nowMs()
    else if (clock.nowMs() - since >= idleMs) return
  }
}
