/**
 * Another owner publishes a partition's checkpoint before the live engine's final one at the stop
 * (a dead process's publish landing late: engine/stop-fence.ts) — raced in at each object-store
 * call of the stop's checkpoints in turn, so every partition is fenced at every step of its
 * checkpoint before the publish. The fenced slot used to be dropped and stop() resolved: `kfs run
 * --until-caught-up` exited 0 while the records after the winner's position were in no table.
 * Now the stop re-processes them from the winner's record: whenever stop() resolves, the tables
 * hold every record consumed; a fence that repeats on every attempt rejects the stop, naming the
 * partitions, and the next start publishes what was left out.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { silentLogger } from '../../../core/logger.ts'
import { CheckpointError } from '../../../core/errors.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { CheckpointStore } from '../../../engine/checkpoint-store.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngine } from '../../../engine/live-engine.ts'
import { PartitionSlot } from '../../../engine/partition-slot.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { createDecoder, type Decoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { fastRetryClock } from '../../support/checkpoint-fault-scenario.ts'
import { liveSlotOptions } from '../../support/deploy-sequence.ts'
import { StepStore } from '../../support/step-store.ts'
import {
  assertSameRows,
  expectedRowsByEntity,
  generatePurchases,
  offlineRowsByEntity,
  produceEvents,
  waitFor,
  type ProducedRecord,
} from '../../support/scenario.ts'

const GROUP = 'kfs-engine'
const events = generatePurchases({ count: 240, users: 30, seed: 11 })

/** What one stop under a race did. */
interface Outcome {
  readonly calls: readonly string[]
  readonly fenced: number
  readonly stopError: unknown
}

/** The other owner: restored from each partition's latest record, it publishes the next seq over `store` (a late publish). */
async function otherOwnerPublishes(store: ObjectStore, decoder: Decoder, onlyDir?: string): Promise<void> {
  const deps = {
    offline: new IcebergOfflineSink(store, { clock: fastRetryClock }),
    checkpoints: new CheckpointStore(store, GROUP),
    clock: fastRetryClock,
    logger: silentLogger,
  }
  for (let p = 0; p < purchases.partitions; p++) {
    if (onlyDir !== undefined && !onlyDir.endsWith(`/${p}/`)) continue
    const slot = await PartitionSlot.restore(liveSlotOptions(store, decoder, p, [userPurchases]), deps)
    assert.ok(await slot.checkpoint(), `the other owner's checkpoint of partition ${p} published`)
  }
}

/**
 * Runs a first engine to a clean stop over the first half, then a second one over the rest whose
 * stop meets the other owner: `raceAt` (the numbered call of the stop it races in front of), or
 * every engine publish of a checkpoint record when `always`. Then checks the tables, or the error.
 */
async function runCase(raceAt: number, mode: 'step' | 'always' | 'first-while-running' = 'step'): Promise<Outcome> {
  const always = mode !== 'step'
  const whileRunning = mode === 'first-while-running'
  const dir = await mkdtemp(join(tmpdir(), 'kfs-fenced-at-stop-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const encoder = await createEncoder({ registry, subject: `${purchases.topic}-value`, schema: purchases.schema })
    const decoder = createDecoder({ registry, readerSchema: purchases.schema })
    await log.createTopic(purchases.topic, purchases.partitions)
    const inner = new MemoryObjectStore()
    const steps = new StepStore(inner)
    let racing = false
    // first-while-running: the checkpoint directories raced once already.
    const racedDirs = new Set<string>()
    const store: ObjectStore = always
      ? {
          ...steps.store,
          putIfAbsent: async (key, body) => {
            const dir = /^(.*\/)ckpt-\d+\.json$/.exec(key)?.[1]
            if (racing && dir !== undefined && !(whileRunning && racedDirs.has(dir))) {
              racedDirs.add(dir)
              await otherOwnerPublishes(inner, decoder, dir)
            }
            return inner.putIfAbsent(key, body)
          },
        }
      : steps.store
    const engine = (): LiveEngine =>
      createLiveEngine({
        log,
        stateStore: store,
        offline: new IcebergOfflineSink(store, { clock: fastRetryClock }),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [userPurchases],
        groupId: GROUP,
        clock: fastRetryClock,
        logger: silentLogger,
        // Only the stops checkpoint — but first-while-running, whose timed checkpoints are raced.
        checkpointIntervalMs: whileRunning ? 100 : 3_600_000,
        tickMs: 20,
      })
    const run = async (produced: ProducedRecord[], arm: boolean): Promise<{ engine: LiveEngine; stopError: unknown }> => {
      const e = engine()
      racing = arm && whileRunning
      await e.start()
      try {
        if (racing) await waitFor(() => e.stats.fenced >= purchases.partitions, 'every partition fenced while running', 20_000)
        // A partition fenced while running and idle since is caught up once restored and read again.
        await waitFor(() => e.isCaughtUp(50), 'caught up', 20_000)
      } catch (err: unknown) {
        await e.stop().catch(() => undefined)
        throw err
      }
      // Read again from the winner's position after a fence while running: counted again.
      if (whileRunning && arm) assert.ok(e.stats.consumed > produced.length, 'the fenced records were read again')
      else assert.equal(e.stats.consumed, produced.length, 'the engine consumed the new records')
      if (arm && !always) {
        steps.calls = []
        steps.at = raceAt
        steps.race = () => otherOwnerPublishes(inner, decoder)
        steps.armed = true
      }
      racing = arm && always
      const stopError = await e.stop().then(
        () => undefined,
        (err: unknown) => err,
      )
      steps.armed = false
      racing = false
      return { engine: e, stopError }
    }
    const first = await produceEvents(log, purchases.topic, encoder, events.slice(0, 120))
    assert.equal((await run(first, false)).stopError, undefined, 'the first stop is clean')
    const second = await produceEvents(log, purchases.topic, encoder, events.slice(120))
    const { engine: raced, stopError } = await run(second, true)
    const expected = expectedRowsByEntity([userPurchases], purchases, [...first, ...second]).get(userPurchases.name)!
    const where = whileRunning
      ? 'raced once while running'
      : always
        ? 'fenced at every attempt'
        : `raced at call ${raceAt} (${steps.calls[raceAt] ?? 'past the last'})`
    if (stopError === undefined) {
      // A clean stop: what a `kfs run --until-caught-up` exiting 0 leaves is every record's rows.
      assertSameRows(await offlineRowsByEntity(inner, userPurchases), expected, `${where}: offline rows after a clean stop`)
      await assertArchiveWhole(inner, [...first, ...second], where)
    } else {
      assert.ok(stopError instanceof CheckpointError, `${where}: kfs's error, not ${String(stopError)}`)
      assert.match(
        stopError.message,
        /checkpoint fenced at stop: another owner published first for purchases\/\d.*; the next run resumes purchases\/\d from offset \d+/,
      )
      assert.doesNotMatch(stopError.message, /\n/, 'one line')
      // Nothing is lost: the next start publishes what the fenced stop could not.
      const next = engine()
      await next.start()
      await waitFor(() => next.isCaughtUp(50), 'the next start caught up')
      await next.stop()
      assertSameRows(await offlineRowsByEntity(inner, userPurchases), expected, `${where}: offline rows after the next start`)
      await assertArchiveWhole(inner, [...first, ...second], where)
    }
    return { calls: [...steps.calls], fenced: raced.stats.fenced, stopError }
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

async function assertArchiveWhole(store: ObjectStore, produced: readonly ProducedRecord[], where: string): Promise<void> {
  const sink = new IcebergOfflineSink(store, { clock: fastRetryClock })
  for (let p = 0; p < purchases.partitions; p++) {
    const offsets: string[] = []
    for await (const row of sink.readArchive(purchases.topic, p)) if (row.markerWatermarkMs === null) offsets.push(row.offset)
    const want = produced.filter((r) => r.partition === p).map((r) => r.offset)
    assert.deepEqual(offsets, want, `${where}: archive of partition ${p}, every offset once`)
  }
}

void test('another owner publishes before each step of the final checkpoints at the stop: a stop that resolves left every consumed record in the tables', async () => {
  const clean = await runCase(-1)
  assert.equal(clean.fenced, 0, 'unraced, nothing is fenced')
  const publishes = clean.calls.filter((c) => /^putIfAbsent .*\/ckpt-\d+\.json$/.test(c)).length
  assert.equal(publishes, purchases.partitions, `one final checkpoint per partition: ${clean.calls.join(', ')}`)
  let fencedCases = 0
  for (let at = 0; at < clean.calls.length; at++) {
    const outcome = await runCase(at)
    assert.equal(
      outcome.stopError,
      undefined,
      `raced at call ${at} (${clean.calls[at]}): a fence that the stop can finish is no failure`,
    )
    if (outcome.fenced > 0) fencedCases++
  }
  // Not vacuous: a race before a partition's publish fences it, and calls before the first publish fence them all.
  assert.ok(
    fencedCases >= clean.calls.findIndex((c) => c.startsWith('putIfAbsent')),
    `only ${fencedCases} raced stops were fenced`,
  )
})

void test('a fence at the stop that repeats on every attempt: stop rejects naming the partitions, and the next start publishes the rest', async () => {
  const outcome = await runCase(-1, 'always')
  assert.ok(outcome.stopError !== undefined, 'the stop rejected')
})

void test('a running checkpoint fenced, its partition idle since: it is read again from the winner, and the stop publishes it', async () => {
  const outcome = await runCase(-1, 'first-while-running')
  assert.ok(outcome.fenced >= purchases.partitions, `every partition fenced while running (${outcome.fenced})`)
  assert.equal(outcome.stopError, undefined, `the stop is clean: ${String(outcome.stopError)}`)
})
