/**
 * The live engine: reads the sources of the applied views from the event log (Kafka or the
 * embedded log) as an unbounded source (ports/source.ts, sources/event-log-source.ts), one
 * PartitionSlot per owned partition — the slots replay drains bounded sources into
 * (source-driver.ts) —, writes rows online as soon as a batch is processed (freshness), and
 * offline at checkpoints (exactly once).
 *
 * Views whose entity is not the one their topic is keyed by run in two stages (docs/design.md §2): a
 * re-key stage per (source, entity) fills an internal topic exactly once (rekey-stage.ts), and
 * the views consume that topic, read-committed, like any source — slots, archive, checkpoints,
 * backfill hand-off and replay all see the internal topic as the view's source (plan-sources.ts).
 *
 * Backpressure is structural: a partition's online writes and dead letters go through a delivery
 * queue (slot-delivery.ts) — one write in flight while later batches are processed (Redis works
 * on the other core) and queue up to a bound, then coalesce into the next write — and the offline
 * buffer is bounded by `checkpointMaxRecords` (a checkpoint runs inline when it is reached), so
 * nothing buffers without bound. A checkpoint publishes only after the deliveries of the rows it
 * covers (partition-slot.ts).
 */
import { createYielder } from '../core/event-loop.ts'
import { retry } from '../core/retry.ts'
import type { FeatureViewDef } from '../features/types.ts'
import type { Decoder } from '../schemas/decoder.ts'
import type { SourceBatch, SourceReader, StreamPartition } from '../ports/source.ts'
import { backfillGroupId } from './backfill-hand-off.ts'
import { CheckpointStore } from './checkpoint-store.ts'
import { createEngineStats } from './engine-stats.ts'
import { createEngineCheckpoints } from './engine-checkpoints.ts'
import { StopFailures } from './stop-failures.ts'
import { finishFencedAtStop, readRange, type StopFenceDeps } from './stop-fence.ts'
import { PartitionSlot } from './partition-slot.ts'
import { createSlotDelivery } from './slot-delivery.ts'
import { eventLogSource } from './sources/event-log-source.ts'
import { planRekeys, planSources, type SourcePlan } from './plan-sources.ts'
import { createRekeyStage, type RekeyStage } from './rekey-stage.ts'
import { isTransactional } from '../ports/event-log-transaction.ts'
import { createSourceTopic } from './source-topics.ts'
import { isCaughtUp } from './caught-up.ts'
import { ConfigError, InvariantViolation } from '../core/errors.ts'
import { resumeInLog } from './resume-position.ts'
import { ResumeChecks } from './resume-check.ts'
import { everyRefusedPartition, FreshStartRefusal } from './fresh-start-guard.ts'
import { batchGapHandler, idleGapHandler } from './batch-gap.ts'
import { PartitionWatch } from './partition-watch.ts'
import { logCaughtUp } from './restore-point.ts'
import { assignedPastDeclared, sourcesReadBy } from './source-partitions.ts'
import type { LiveEngine, LiveEngineOptions } from './live-engine-contract.ts'
import { watchOnlineLosses } from './online-loss-watch.ts'
import { StopDeadline } from './stop-deadline.ts'

export type { LiveEngine, LiveEngineOptions }

export function createLiveEngine(options: LiveEngineOptions): LiveEngine {
  const { log, offline, deadLetters, clock } = options
  const logger = options.logger.child({ component: 'pipeline.engine' })
  const intervalMs = options.checkpointIntervalMs ?? 5_000
  const maxRecords = options.checkpointMaxRecords ?? 50_000
  const tickMs = options.tickMs ?? 250
  const maxQueuedRows = options.maxQueuedOnlineRows ?? 10_000
  const plans = planSources(options.views, options.rekey)
  const rekeyPlans = planRekeys(options.views, options.rekey)
  if (rekeyPlans.length > 0 && !isTransactional(log)) {
    throw new ConfigError(`views ${rekeyPlans.flatMap((r) => r.views.map((v) => v.name)).join(', ')} need re-keying, which needs an event log with transactions`)
  }
  const internalTopics = new Set(rekeyPlans.map((r) => r.topic))
  let rekeyStages: RekeyStage[] = []
  const planByTopic = new Map<string, SourcePlan>(plans.map((p) => [p.topic, p]))
  const decoders = new Map<string, Decoder>(plans.map((p) => [p.topic, options.decoderFor(p.source)]))
  const checkpoints = new CheckpointStore(options.stateStore, options.groupId)
  const slots = new Map<string, Promise<PartitionSlot>>()
  const stats = createEngineStats()
  // The engine writes online through the watch, which notes the keys written while it reloads.
  const lossWatch = watchOnlineLosses(options, { stats, logger, intervalMs, checkpointAll: () => checkpointEvery() })
  const online = lossWatch?.online ?? options.online
  // Every topic read: each holds its declared partitions (source-partitions.ts).
  const sources = sourcesReadBy(options.views, options.rekey)
  const partitions = new PartitionWatch({ log, sources, clock, logger })
  const stopDeadline = new StopDeadline(clock, options.stopTimeoutMs)
  let partitionsAskedAtMs = clock.nowMs()
  // Read at each cut: a caller (bench freshness) may swap the timings after the engine is made.
  const deps = {
    offline,
    checkpoints,
    clock,
    logger,
    deadline: stopDeadline, // passes only once stop() armed it: every checkpoint retry ends there
    ...(options.chainPolicy === undefined ? {} : { chainPolicy: options.chainPolicy }),
    ...(options.checkpointStepAttempts === undefined ? {} : { checkpointStepAttempts: options.checkpointStepAttempts }),
    // Asked before each publish: the claim (§14), then the partition counts (partition-watch.ts).
    checkClaim: async (topic: string) => {
      await options.checkClaim?.(topic)
      await partitions.require()
    },
    onCut: (wallMs: number, cpuMs: number) => stats.timings.checkpointCut(wallMs, cpuMs),
  }
  const source = eventLogSource(log)
  let reader: SourceReader | undefined
  let timer: NodeJS.Timeout | undefined
  let stopping = false
  /** While stop() runs: what failed so far (a final checkpoint at revocation, among others). */
  let stopFailures: StopFailures | undefined
  /** While stop() runs: partitions whose final checkpoint was fenced (at revocation or in the stop's pass). */
  const fencedAtStop: PartitionSlot[] = []
  let resolveFailed: (err: Error) => void = () => {}
  const failed = new Promise<Error>((resolve) => (resolveFailed = resolve))
  let failure: Error | undefined
  // A fatal error ends all work of the engine (timer, re-key stages), so the process can exit.
  const fail = (err: Error): void => {
    failure ??= err
    stopping = true
    if (timer) clearTimeout(timer)
    for (const stage of rekeyStages) void stage.stop().catch((e: unknown) => logger.warn({ err: e }, 're-key stage stop after a failure failed'))
    resolveFailed(err)
  }
  const retryForever = { clock, attempts: 60, maxDelayMs: 2_000, until: stopDeadline, onRetry: (err: unknown, attempt: number) => logger.warn({ err, attempt }, 'sink write retried') }
  const delivery = createSlotDelivery({ online, deadLetters, stats, clock, retry: retryForever, maxQueuedRows, fail })
  const commit = (at: StreamPartition, position: string) => reader?.commit(at, position)
  const landed = (slot: PartitionSlot) => delivery.landed(slot)
  const checkpointing = createEngineCheckpoints({ slots, stats, clock, logger, landed, commit, fail })
  async function checkpointEvery(): Promise<void> {
    const failures = new StopFailures()
    await checkpointing.all(failures)
    const err = failures.error()
    if (err) throw err
  }
  const slotKey = (topic: string, partition: number) => `${topic}/${partition}`
  const backfillCheckpoints = (view: FeatureViewDef) => new CheckpointStore(options.stateStore, backfillGroupId(options.groupId, view))
  const allTopics = plans.map((plan) => ({ ...plan, archive: true }))

  const stopFence: StopFenceDeps = {
    restore: (topic, partition) => restoreSlot(topic, partition, planByTopic.get(topic)!),
    read: (topic, partition, from, to, onRecords) => readRange(log, { topic, partition, from, to, group: options.groupId }, onRecords),
    deliver: (slot, output) => delivery.deliverNow(slot, output),
    checkpoint: (slot) => checkpointing.now(slot),
    publishedPosition: async (topic, partition) => (await checkpoints.latest(topic, partition))?.nextOffset,
    clock,
    logger,
  }
  const reads = <T>(read: () => Promise<T>) => retry(read, retryForever)
  const seek = (at: StreamPartition, position: string) => reader?.seek(at, position)
  const takeGap = batchGapHandler({ log, stats, logger, reads, seek })
  // kfs run --until-caught-up: a partition whose unread records were all deleted shows no batch.
  const passDeleted = idleGapHandler({ log, stats, logger, reads, seek })
  const resumeChecks = new ResumeChecks({ log, reads, logger, seek: (at, position) => reader?.seek(at, position) })
  /** A slot restored from the partition's latest checkpoint, the reader (while it runs) seeked to where it resumes. */
  async function restoreSlot(topic: string, partition: number, plan: SourcePlan): Promise<PartitionSlot> {
    const start = options.startOffsets ? await options.startOffsets(topic, partition) : '0'
    const slotOptions = { topic, partition, source: plan.source, views: plan.views, decoder: decoders.get(topic)!, archive: true, backfillCheckpoints }
    const s = await retry(() => PartitionSlot.restore(slotOptions, deps, start), retryForever)
    if (s.pendingCatchUp.length > 0) {
      const logStart = async () => (await reads(() => log.startOffsets(topic)))[partition] ?? '0'
      const due = s.pendingCatchUp.map((d) => ({ ...d, from: s.processors[d.view]!.nextOffset }))
      const caughtUp = await s.catchUp(clock.nowMs(), { logStart, logger })
      await delivery.deliverNow(s, caughtUp)
      logCaughtUp(logger, { topic, partition, views: s.options.views }, due, s.nextOffset, caughtUp.rows)
    }
    const by = s.nextOffset === start ? 'a partition with no checkpoint' : 'its checkpoint'
    const resume = await resumeInLog(log, { topic, partition, by }, s.nextOffset, (read) => retry(read, retryForever), { deletedBeforeRead: stats.deletedBeforeRead, logger })
    s.skipTo(resume.position)
    // At the stop (stop-fence.ts) the reader is gone: the records are read by a scan instead. Else
    // it reads from the checkpoint's last record, which the first batch checks (resume-check.ts).
    if (!stopping) reader?.seek({ stream: topic, partition }, resumeChecks.arm(s, s.nextOffset !== start, resume))
    return s
  }

  function slotFor(topic: string, partition: number): Promise<PartitionSlot> {
    const key = slotKey(topic, partition)
    let slot = slots.get(key)
    if (slot === undefined) {
      const plan = planByTopic.get(topic)
      if (plan === undefined) throw new Error(`no view reads topic ${topic}`)
      slot = restoreSlot(topic, partition, plan).catch(async (err: unknown) => {
        // A refused start names every partition of the engine's topics refused alike, not only the first it met.
        const reported = err instanceof FreshStartRefusal ? await everyRefusedPartition(err, deps, allTopics, (t) => log.partitionCount(t)) : err
        if (reported instanceof InvariantViolation) fail(reported)
        throw reported
      })
      slots.set(key, slot)
      checkpointing.dropped.delete(key)
      slot.catch(() => slots.delete(key))
    }
    return slot
  }

  // kafkajs hands over the batches of one fetch without a macrotask in between, and a batch no
  // longer waits for its online write: without yielding, one fetch could keep the event loop
  // (Redis replies, metrics, the tick) waiting for as long as it takes to process.
  const yieldToEventLoopNowAndThen = createYielder(20)

  // How far the reader has read each owned partition, past the slot's position when the log holds
  // entries it never delivers (a commit marker after a transactional topic's last record): without
  // it such a topic would never count as caught up.
  const readTo = new Map<string, bigint>()

  async function onBatch(batch: SourceBatch): Promise<void> {
    if (batch.records.length === 0) return
    const slot = await slotFor(batch.stream, batch.partition)
    await slot.run(async () => {
      // A batch fetched before the restore's seek is left untaken: the reader reads from there again.
      if (!(await resumeChecks.take(slot, batch))) return
      // Positions the source says hold no record (transaction markers: `span.from`) are no gap;
      // a batch past the slot's position is batch-gap.ts's (records deleted unread, or skipped).
      const first = batch.span?.from ?? batch.records[0]!.offset
      if (BigInt(first) > BigInt(slot.nextOffset) && !(await takeGap(slot, batch, first))) return
      const now = clock.nowMs()
      const processed = await slot.processRecords(batch.records, now)
      readTo.set(slotKey(batch.stream, batch.partition), BigInt(batch.span?.next ?? slot.nextOffset))
      stats.consumed += processed.records
      if (processed.records > 0) slot.lastRecordAtMs = now
      const last = batch.records.at(-1)
      if (last) (stats.lag[batch.stream] ??= {})[batch.partition] = Number(BigInt(batch.end) - BigInt(last.offset) - 1n)
      await delivery.enqueue(slot, processed)
      if (slot.buffered >= maxRecords) await checkpointing.inBackground(slot)
      await yieldToEventLoopNowAndThen()
    })
  }

  /** One value per restored slot, by `topic/partition`. */
  async function perSlot<T>(valueOf: (slot: PartitionSlot) => T): Promise<Record<string, T>> {
    const out: Record<string, T> = {}
    for (const [key, pending] of [...slots]) {
      const slot = await pending.catch(() => undefined)
      if (slot) out[key] = valueOf(slot)
    }
    return out
  }

  /** Idle markers and timed checkpoints; runs on a wall-clock tick, queued per partition. */
  async function tick(): Promise<void> {
    const now = clock.nowMs()
    lossWatch?.poll(now)
    // Timed checkpoints are spread over ticks (as few per tick as keeps every partition on its
    // interval): the part of a checkpoint that runs on this thread then never lines up for all
    // partitions at once, which used to be the freshness tail.
    let checkpointsLeft = Math.max(1, Math.ceil((slots.size * tickMs) / intervalMs))
    if (now - partitionsAskedAtMs >= intervalMs) {
      partitionsAskedAtMs = now
      void partitions.require().catch((err: unknown) => fail(err instanceof Error ? err : new Error(String(err))))
    }
    // A slot dropped as fenced whose partition gets no batch (idle, or read to its end) would wait for
    // one; restored now, the reader goes back to the winner's position and reads its records again.
    for (const slot of [...checkpointing.dropped.values()])
      void slotFor(slot.topic, slot.partition).catch((err: unknown) => logger.warn({ err, topic: slot.topic, partition: slot.partition }, 'restoring a fenced partition failed; its next batch restores it'))
    for (const pending of [...slots.values()]) {
      const slot = await pending.catch(() => undefined)
      if (!slot) continue
      await slot.run(async () => {
        const idleMs = slot.options.source.idleTimeoutMs
        const wm = slot.watermarkMs
        const idleSince = Math.max(slot.lastRecordAtMs, slot.lastMarkerAtMs)
        if (idleMs > 0 && Number.isFinite(wm) && now - slot.lastRecordAtMs >= idleMs && now - idleSince >= idleMs) {
          // While idle, event time is assumed to advance with wall-clock time; the marker is
          // archived, so replay reproduces this advance exactly.
          const marker = Math.min(wm + (now - idleSince), Number.MAX_SAFE_INTEGER)
          const processed = slot.processMarker(marker, now)
          slot.lastMarkerAtMs = now
          await delivery.enqueue(slot, processed)
        }
        if (checkpointsLeft > 0 && slot.buffered > 0 && now - slot.lastCheckpointAtMs >= intervalMs) {
          checkpointsLeft--
          await checkpointing.inBackground(slot)
        }
      })
    }
  }

  function scheduleTick(): void {
    if (stopping) return
    timer = setTimeout(() => {
      tick()
        .catch((err: unknown) => {
          logger.error({ err }, 'engine tick failed')
          fail(err instanceof Error ? err : new Error(String(err)))
        })
        .finally(scheduleTick)
    }, tickMs)
  }

  return {
    stats,
    failed,
    get failure() {
      return failure
    },
    async start() {
      for (const source of sources) await createSourceTopic(log, source)
      if (isTransactional(log)) {
        rekeyStages = rekeyPlans.map((plan) =>
          createRekeyStage({
            log,
            plan,
            groupId: options.groupId,
            decoder: options.decoderFor(plan.source),
            deadLetters,
            ...(options.deadLetterTopic === undefined ? {} : { deadLetterTopic: options.deadLetterTopic }),
            stats,
            clock,
            logger,
            onFatal: (err) => fail(err),
          }),
        )
      }
      for (const stage of rekeyStages) await stage.start()
      // Before any record is consumed: rows the store lost while no engine ran are back first.
      await lossWatch?.start()
      // Committed records only (the source's promise): internal topics are written in transactions.
      reader = source.reader({
        group: options.groupId,
        streams: plans.map((p) => p.topic),
        // A batch that still fails after the sinks' bounded retries is fatal: the process restarts
        // from its last checkpoint rather than carry on with a partially delivered batch.
        onCrash: (err) => fail(err instanceof Error ? err : new Error(String(err))),
      })
      await reader.run({
        batch: (batch) =>
          onBatch(batch).catch((err: unknown) => {
            logger.error({ err, topic: batch.stream, partition: batch.partition }, 'batch failed')
            fail(err instanceof Error ? err : new Error(String(err)))
            throw err
          }),
        assigned: async (assigned) => {
          // A partition past the declared count is never read: the topic grew (source-partitions.ts).
          const grown = await assignedPastDeclared(log, sources, assigned.map((a) => ({ topic: a.stream, partition: a.partition })))
          if (grown !== undefined) {
            fail(grown)
            throw grown
          }
          const keep = new Set(assigned.map((a) => slotKey(a.stream, a.partition)))
          for (const key of [...slots.keys()]) if (!keep.has(key)) slots.delete(key)
          for (const key of [...checkpointing.dropped.keys()]) if (!keep.has(key)) checkpointing.dropped.delete(key)
          for (const a of assigned) if (planByTopic.has(a.stream)) await slotFor(a.stream, a.partition)
          logger.info({ partitions: assigned.length }, 'partitions assigned')
        },
        // A read of only markers or aborted records moved the read position without a batch.
        moved: (at: StreamPartition, next: string) => {
          const key = slotKey(at.stream, at.partition)
          if (slots.has(key) && BigInt(next) > (readTo.get(key) ?? 0n)) readTo.set(key, BigInt(next))
        },
        revoked: async (revoked) => {
          for (const r of revoked) {
            const key = slotKey(r.stream, r.partition)
            readTo.delete(key)
            const pending = slots.get(key)
            const slot = await pending?.catch(() => undefined)
            // A rebalance hands the partition to an owner that resumes from its last checkpoint; at
            // stop there is no such owner until the next start, so stop() must report the failure.
            const ok = await slot?.run(() => checkpointing.now(slot)).catch((err: unknown) => {
              const where = { err, topic: slot.topic, partition: slot.partition }
              if (stopFailures === undefined) return logger.warn(where, 'checkpoint on revoke failed')
              logger.error(where, 'final checkpoint failed')
              stopFailures.checkpoint(slot.topic, slot.partition, err)
            })
            slots.delete(key)
            const dropped = checkpointing.dropped.get(key)
            checkpointing.dropped.delete(key)
            // Fenced at a rebalance (now, or earlier and not restored since), the new owner restores
            // from the winner's record and reads on from it; at the stop nobody does until the next
            // start: stop() finishes it.
            const fenced = ok === false ? slot : dropped
            if (fenced !== undefined && stopping) fencedAtStop.push(fenced)
          }
        },
      })
      scheduleTick()
      logger.info({ topics: plans.map((p) => p.topic), views: options.views.map((v) => `${v.name}@${v.version}`) }, 'engine started')
    },
    checkpointAll: checkpointEvery,
    internalTopics: [...internalTopics],
    async isCaughtUp(quietMs: number) {
      const slotAt = async (topic: string, partition: number) => slots.get(slotKey(topic, partition))?.catch(() => undefined)
      const readToOf = (topic: string, partition: number) => readTo.get(slotKey(topic, partition))
      const checkPending = (slot: PartitionSlot, nowMs: number) => resumeChecks.settleIdle(slot, nowMs, quietMs)
      return isCaughtUp({ log, source, rekeyStages, plans, slotAt, readToOf, nowMs: clock.nowMs(), quietMs, passDeleted, checkPending })
    },
    positions: () => perSlot((slot) => slot.nextOffset),
    watermarks: () => perSlot((slot) => slot.watermarkMs),
    async stop() {
      const failures = (stopFailures = new StopFailures())
      stopDeadline.arm()
      stopping = true
      if (timer) clearTimeout(timer)
      await lossWatch?.stop()
      const stageFailed = (stage: RekeyStage) => (err: unknown) => failures.other(`re-key stage ${stage.plan.topic}`, err)
      for (const stage of rekeyStages) await stage.stop().catch(stageFailed(stage))
      await reader?.stop().catch((err: unknown) => failures.other('leaving the consumer group', err))
      fencedAtStop.push(...(await checkpointing.all(failures)), ...checkpointing.dropped.values())
      checkpointing.dropped.clear()
      const fenced = new Map(fencedAtStop.splice(0).map((slot) => [slotKey(slot.topic, slot.partition), slot]))
      for (const slot of fenced.values()) await finishFencedAtStop(slot, stopFence, failures)
      await deadLetters.flush().catch((err: unknown) => failures.other('the dead-letter flush', err))
      if (stopDeadline.passed) failures.deadlinePassed(stopDeadline.what)
      const err = failures.error()
      if (err) {
        logger.error({ err }, 'engine stopped, not cleanly')
        throw err
      }
      logger.info({ consumed: stats.consumed, emittedRows: stats.emittedRows }, 'engine stopped')
    },
  }
}
