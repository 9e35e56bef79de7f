/**
 * The backfill hand-off (docs/semantics.md §14) of a change view under the outside audit's faults:
 * a Debezium changelog of orders (test/support/change-fault-workload.ts) is archived by live runs
 * of its attribute view; a current-state aggregation added then is backfilled from that archive
 * (replay/backfill-before-live.ts), live runs on without it, and the next live process adopts the
 * backfill and catches the view up from the archive. That process, and the one after it, meet a
 * fault at a random call of a random store step (failed once, answer lost, an outage past the
 * retries, the process dying before or after the call: test/support/audit-chaos-faults.ts) or a
 * crash at a random point — mid-adoption, mid-catch-up, mid-checkpoint — before a last one runs
 * clean to the end. The added view's offline rows (tombstones, retractions), online rows and dead
 * letters must be those of a clean live run of both views from the start.
 * Seeded: a failure names its seed; KFS_TEST_SEED replays it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { silentLogger, type LogFn, type Logger } from '../../../core/logger.ts'
import type { FeatureViewDef, SourceDef } from '../../../features/types.ts'
import { createDeadLetterTopicSink, DEAD_LETTER_HEADERS } from '../../../engine/dead-letter-topic.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { scanTopic } from '../../../ingest/scan-topic.ts'
import type { BackfillStatus } from '../../../registry/index.ts'
import { settleBackfills, type BackfillRegistry } from '../../../replay/backfill-before-live.ts'
import { createChangeJsonDecoder } from '../../../schemas/change-json-decoder.ts'
import { prng } from '../../../examples/generate-events.ts'
import { orderAttrs, orderTotals, orders } from '../../fixtures/features/change-faults.ts'
import { FAULT_MODES, Switchboard } from '../../support/audit-chaos-faults.ts'
import { DEAD_LETTER_TOPIC, generateChangeBursts, produceChanges } from '../../support/change-fault-workload.ts'
import { faultedChangeEngine } from '../../support/change-step-chaos.ts'
import { waitFor } from '../../support/scenario.ts'
import { unlockedStoreFiles } from '../../support/unlocked-store-files.ts'

const BASE_SEED = Number(process.env.KFS_TEST_SEED ?? 35_400)
const SEEDS = process.env.KFS_TEST_SEED === undefined ? 3 : 1
const ADDED = orderTotals
const clock: Clock = { nowMs: () => Date.now(), sleep: () => new Promise((resolve) => setImmediate(resolve)) }
const decoderFor = (source: SourceDef) => createChangeJsonDecoder({ rowSchema: source.changes!.rowSchema })

interface Outcome {
  readonly offline: unknown
  readonly online: unknown
  readonly letters: string[]
}

async function outcomeOf(log: EmbeddedEventLog, warehouse: string, onlinePath: string, label: string): Promise<Outcome> {
  const rows = await readFeatureRowsByEntity(new LocalObjectStore(warehouse), ADDED)
  const offline = Object.fromEntries(
    [...rows]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, list]) => [k, list.map((r) => ({ asOfMs: r.asOfMs, values: r.values, deleted: r.deleted === true }))]),
  )
  const online = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
  const features = ADDED.features.map((f) => f.name)
  const reads = await online.readRows(
    Object.keys(offline).map((entityKey) => ({ view: ADDED, entityKey, features })),
    Date.now(),
  )
  await online.close()
  const letters = new Set<string>()
  await scanTopic(
    log,
    DEAD_LETTER_TOPIC,
    (records) => {
      for (const r of records) {
        const h = r.headers
        if (h[DEAD_LETTER_HEADERS.view] !== ADDED.name) continue
        letters.add(`${h[DEAD_LETTER_HEADERS.partition]}/${h[DEAD_LETTER_HEADERS.offset]} ${h[DEAD_LETTER_HEADERS.reason]}`)
      }
    },
    { groupPrefix: `check-${label}` },
  )
  return {
    offline,
    online: reads.map((r) => ({ status: r.status, asOfMs: r.asOfMs, values: r.values })),
    letters: [...letters].sort(),
  }
}

/** Runs generations of live engines over `log`; each may be armed with a fault or crashed (`chaos`). */
async function runSeed(seed: number, chaos: boolean): Promise<{ outcome: Outcome; drawn: string[]; handedOver: number }> {
  const rand = prng(seed * 11 + (chaos ? 1 : 0))
  const bursts = generateChangeBursts(seed, 4, 150)
  const dir = await mkdtemp(join(tmpdir(), 'kfs-change-hand-off-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never', maxBatchRecords: 30 })
  const warehouse = join(dir, 'warehouse')
  const onlinePath = join(dir, 'online.json')
  const board = new Switchboard()
  const inFlight = new Set<Promise<unknown>>()
  const drawn: string[] = []
  let handedOver = 0
  const info: LogFn = (a: object | string, msg?: string) => {
    if ((typeof a === 'string' ? a : msg) === 'backfilled views handed over to live') handedOver++
  }
  const logger: Logger = { ...silentLogger, info, child: () => logger }
  const generation = async (views: readonly FeatureViewDef[], faulted: boolean): Promise<void> => {
    while (inFlight.size > 0) await Promise.all([...inFlight])
    board.recount()
    const fault = faulted
      ? {
          step: [...board.steps].sort()[Math.floor(rand() * board.steps.size)]!,
          k: 1 + Math.floor(rand() * 4),
          mode: FAULT_MODES[Math.floor(rand() * FAULT_MODES.length)]!,
        }
      : undefined
    board.arm(fault)
    if (fault) drawn.push(`${fault.mode} at ${fault.step} #${fault.k}`)
    const running = await faultedChangeEngine({ board, log, warehouse, onlinePath, inFlight, rand }, views, logger)
    const { engine, freezer, online } = running
    const started = await Promise.race([engine.start().then(() => true), freezer.frozen.then(() => false)]).catch(() => false)
    const stopAt = chaos && faulted ? Math.floor(rand() * 300) : Infinity
    if (started)
      await waitFor(
        async () =>
          running.died() ||
          engine.failure !== undefined ||
          engine.stats.consumed >= stopAt ||
          (await Promise.race([engine.isCaughtUp(150), freezer.frozen.then(() => false)])),
        `seed ${seed}: a generation ran [${drawn.join('; ')}]`,
      )
    const outage = board.struck.some((s) => s.startsWith('outage'))
    assert.ok(
      running.died() || outage || (started && engine.failure === undefined),
      `seed ${seed}: an engine failed with no outage [${drawn.join('; ')}]: ${String(engine.failure)}`,
    )
    board.arm(undefined)
    if (!running.died() && faulted && rand() < 0.5) {
      drawn.push('crashed')
      await freezer.crash(() => void engine.stop().catch(() => undefined))
    } else if (!running.died()) {
      await Promise.race([engine.stop().catch(() => undefined), freezer.frozen])
      if (!freezer.isFrozen) await online.close()
    }
  }
  try {
    await log.createTopic(orders.topic, orders.partitions)
    if (!chaos) {
      await produceChanges(log, bursts.flat())
      await generation([orderAttrs, ADDED], false)
    } else {
      // The archive without the added view, its backfill, live on without it, then the hand-off.
      for (const burst of bursts.slice(0, 2)) await produceChanges(log, burst)
      await generation([orderAttrs], false)
      const statuses = new Map<string, BackfillStatus>()
      const registry: BackfillRegistry = {
        getBackfillStatus: async (view, version) => statuses.get(`${view}@${version}`),
        setBackfillStatus: async (view, version, status) =>
          void statuses.set(`${view}@${version}`, { completeThrough: [], ...status } as BackfillStatus),
      }
      const store = new LocalObjectStore(warehouse)
      const online = await EmbeddedOnlineStore.open({ path: onlinePath, files: unlockedStoreFiles })
      const env = {
        offline: new IcebergOfflineSink(store),
        stateStore: store,
        decoderFor,
        clock,
        online: async () => online,
        deadLetters: async () => createDeadLetterTopicSink(log, DEAD_LETTER_TOPIC),
      }
      await settleBackfills([ADDED], registry, env, 'kfs-engine', silentLogger, () => {})
      assert.equal(statuses.get(`${ADDED.name}@${ADDED.version}`)?.state, 'complete', 'the backfill completed')
      await online.close()
      await produceChanges(log, bursts[2]!)
      await generation([orderAttrs], false)
      await produceChanges(log, bursts[3]!)
      await generation([orderAttrs, ADDED], true)
      await generation([orderAttrs, ADDED], true)
      await generation([orderAttrs, ADDED], false)
    }
    return { outcome: await outcomeOf(log, warehouse, onlinePath, `${seed}-${chaos}`), drawn, handedOver }
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

for (let seed = BASE_SEED; seed < BASE_SEED + SEEDS; seed++) {
  void test(`seed ${seed}: a change view backfilled and handed over to live amid faults and crashes equals a clean live run`, async () => {
    const clean = await runSeed(seed, false)
    assert.ok(Object.keys(clean.outcome.offline as object).length > 5, 'the clean run wrote rows')
    assert.ok(clean.outcome.letters.length > 0, 'the clean run refused changes: dead letters are compared')
    const { outcome, drawn, handedOver } = await runSeed(seed, true)
    const where = `seed ${seed} (KFS_TEST_SEED=${seed} replays it) [${drawn.join('; ')}]`
    if (process.env.KFS_TEST_DEBUG) console.log(where)
    assert.ok(drawn.length > 0, `${where}: nothing drawn`)
    assert.ok(handedOver > 0, `${where}: no partition adopted the backfill`)
    assert.deepEqual(outcome.offline, clean.outcome.offline, `${where}: offline rows of ${ADDED.name}`)
    assert.deepEqual(outcome.online, clean.outcome.online, `${where}: online rows of ${ADDED.name}`)
    assert.deepEqual(outcome.letters, clean.outcome.letters, `${where}: dead letters of ${ADDED.name}`)
  })
}
