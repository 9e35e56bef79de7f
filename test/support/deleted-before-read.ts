/**
 * Readers of a log when retention deleted records before they read them (docs/semantics.md §14,
 * §16, §17): the live engine, the backfill hand-off's catch-up, the re-key stage. Each scenario
 * deletes records of one partition (`K`) in one of three ways, over the embedded log made to
 * behave like a Kafka client whose position retention passed (retained-log.ts), and returns what
 * test/unit/engine/deleted-before-read.test.ts checks: the engines' failures and deletion counts,
 * the warnings, what each engine consumed, and the tables and online rows against a run over the
 * records that survived.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../core/clock.ts'
import type { Logger, LogFn } from '../../core/logger.ts'
import type { FeatureRow, FeatureViewDef } from '../../features/types.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import type { EventLog } from '../../ports/event-log.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../../schemas/encoder.ts'
import type { SourceDef } from '../../features/types.ts'
import { offlineRowsByEntity, waitFor } from './scenario.ts'
import { retainedLog } from './retained-log.ts'

/** The partition whose records retention deletes. */
export const K = 1
export const QUIET_MS = 250

/**
 * - `all`: every record of partition K (those read and those not yet) is deleted while the reader
 *   is down; it restarts.
 * - `prefix`: the first half of what K received while the reader was down is deleted; it restarts.
 * - `idle`: the reader runs, caught up; K receives records that are all deleted before its next
 *   fetch (which goes out of range, the client restarting at the end), and nothing new arrives.
 */
export type Deletion = 'all' | 'prefix' | 'idle'
export const DELETIONS: readonly Deletion[] = ['all', 'prefix', 'idle']

export interface Warning {
  readonly msg: string
  readonly fields: Record<string, unknown>
}

export interface Env {
  readonly dir: string
  readonly log: EmbeddedEventLog
  readonly retained: ReturnType<typeof retainedLog>
  readonly store: MemoryObjectStore
  readonly offline: IcebergOfflineSink
  readonly online: EmbeddedOnlineStore
  readonly warnings: Warning[]
  readonly encoder: Encoder
  readonly decoderFor: (s: SourceDef) => ReturnType<typeof createDecoder>
  /** A live engine over the retained log (started by the caller). */
  engine(views: readonly FeatureViewDef[]): LiveEngine
  close(): Promise<void>
}

/** A logger that keeps every warning (the deletions are said there) and drops the rest. */
function warningsLogger(warnings: Warning[]): Logger {
  const noop: LogFn = () => {}
  const warn: LogFn = (a: object | string, msg?: string) =>
    void warnings.push(typeof a === 'string' ? { msg: a, fields: {} } : { msg: msg ?? '', fields: a as Record<string, unknown> })
  const logger: Logger = { fatal: noop, error: noop, warn, info: noop, debug: noop, trace: noop, child: () => logger }
  return logger
}

/** `retainedTopic`: the topic retention deletes from (default the source's). */
export async function openEnv(source: SourceDef, retainedTopic = source.topic): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-deleted-before-read-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const store = new MemoryObjectStore()
  const offline = new IcebergOfflineSink(store, { parquetWorker: false })
  const online = new EmbeddedOnlineStore()
  const warnings: Warning[] = []
  const logger = warningsLogger(warnings)
  await log.createTopic(source.topic, source.partitions)
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  const retained = retainedLog(log, 'latest', false, retainedTopic)
  const decoderFor = (s: SourceDef) => createDecoder({ registry, readerSchema: s.schema })
  const deadLetters = createDeadLetterTopicSink(log, 'kfs.dead-letters')
  return {
    dir,
    log,
    retained,
    store,
    offline,
    online,
    warnings,
    encoder,
    decoderFor,
    engine: (views) =>
      createLiveEngine({
        log: retained.log,
        stateStore: store,
        offline,
        online,
        deadLetters,
        deadLetterTopic: 'kfs.dead-letters',
        decoderFor,
        views,
        groupId: 'kfs-engine',
        clock: systemClock,
        logger,
        checkpointIntervalMs: 200,
        tickMs: 50,
      }),
    close: async () => {
      await log.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** End offsets of the topic, as numbers. */
export async function endsOf(log: EventLog, topic: string): Promise<number[]> {
  return (await log.endOffsets(topic)).map(Number)
}

/**
 * While `engine` runs caught up at `reached`: retention passes K's position (its next fetch is out
 * of range, the client restarts at the end), `produce` adds records, and every one of K's left
 * unread is deleted (`prefix`: the first half of them). Resolves the bounds (K's: where its log
 * starts now; the others' 0).
 */
export async function deleteWhileIdle(
  env: Env,
  topic: string,
  reached: readonly number[],
  produce: () => Promise<unknown>,
  prefix = false,
): Promise<number[]> {
  const resetsOfK = () => env.retained.resets.filter((r) => r.startsWith(`${K}:`)).length
  const before = resetsOfK()
  env.retained.deleteBefore(reached.map((at, p) => (p === K ? at + 1_000_000 : 0)))
  await produce()
  await waitFor(() => resetsOfK() > before, `partition ${K} out of range`)
  const bounds = (await endsOf(env.log, topic)).map((end, p) =>
    p !== K ? 0 : prefix ? reached[p]! + Math.floor((end - reached[p]!) / 2) : end,
  )
  env.retained.deleteBefore(bounds)
  return bounds
}

/** K's bound when the reader is down at `reached` and the log ends at `ends`. */
export function boundsWhileDown(
  deletion: Exclude<Deletion, 'idle'>,
  reached: readonly number[],
  ends: readonly number[],
): number[] {
  return ends.map((end, p) => (p !== K ? 0 : deletion === 'all' ? end : reached[p]! + Math.floor((end - reached[p]!) / 2)))
}

/** Starts an engine and waits until it has read everything the log holds (or failed). */
export async function runCaughtUp(engine: LiveEngine, what: string): Promise<void> {
  await engine.start()
  await waitFor(async () => engine.failure !== undefined || (await engine.isCaughtUp(QUIET_MS)), what)
}

/** The view's online rows as [as_of, ...values] per key (sorted), against the last row of each key's expected sequence. */
export async function onlineVersusLast(
  online: EmbeddedOnlineStore,
  view: FeatureViewDef,
  expected: Map<string, FeatureRow[]>,
): Promise<{ actual: unknown[][]; expected: unknown[][] }> {
  const keys = [...expected.keys()].sort()
  const features = view.features.map((f) => f.name)
  const last = keys.map((k) => expected.get(k)!.at(-1)!)
  const nowMs = Math.max(...last.map((r) => r.asOfMs))
  const reads = await online.readRows(
    keys.map((entityKey) => ({ view, entityKey, features })),
    nowMs,
  )
  return {
    actual: reads.map((r) => [r.asOfMs, ...r.values]),
    expected: last.map((r) => [r.asOfMs, ...r.values]),
  }
}

export { offlineRowsByEntity }
