/**
 * `isCaughtUp` of a live engine on the embedded log while a re-keyed view has not yet been handed
 * the records the re-key stage committed to its internal topic. The embedded log's commits leave
 * no marker, so the last offset of an internal partition is a record; the engine used to count a
 * partition one short of its end as caught up once its slot was quiet — true here at once, the
 * test asking with quietMs 0 —, and `kfs run --until-caught-up` (and the fault tests' second
 * engine, under CPU load) stopped before the view processed it. A gate holds the views'
 * deliveries of chosen internal batches; the engine must not be caught up while one is held, and
 * once they pass it must process every internal record (the archive holds each offset).
 * Cases: the whole internal topic forwarded by one transaction (each partition one bundle record),
 * one internal partition held while the others are processed, and a later run's transaction
 * held after the first run's records were processed (each partition then one record past them).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { planRekeys } from '../../../engine/plan-sources.ts'
import { rekeyGroupId } from '../../../engine/rekey-stage.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import type { LogBatch } from '../../../ports/event-log.ts'
import type { TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../../../schemas/encoder.ts'
import { waitFor } from '../../support/scenario.ts'
import { PARTITIONS, T0, buy, buys, itemSpend } from './crash-chaos-workload.ts'

const GROUP = 'kfs-engine'
const INTERNAL = planRekeys([itemSpend])[0]!.topic
const REKEY_GROUP = rekeyGroupId(GROUP, planRekeys([itemSpend])[0]!)
const ITEMS = ['i0', 'i1', 'i2', 'i3', 'i4']

/** Holds the views' deliveries of internal batches it is told to, until opened. */
class DeliveryGate {
  /** Internal partitions with a delivery held (and where it starts). */
  readonly held = new Map<number, bigint>()
  holds: (partition: number, from: bigint, next: bigint) => Promise<boolean> = () => Promise.resolve(false)
  #open: () => void = () => {}
  readonly #opened = new Promise<void>((resolve) => (this.#open = resolve))

  open(): void {
    this.#open()
  }

  wrap(inner: EmbeddedEventLog): TransactionalEventLog {
    return {
      createTopic: (topic, partitions) => inner.createTopic(topic, partitions),
      partitionCount: (topic) => inner.partitionCount(topic),
      produce: (topic, records) => inner.produce(topic, records),
      endOffsets: (topic) => inner.endOffsets(topic),
      startOffsets: (topic) => inner.startOffsets(topic),
      committedOffsets: (groupId, topic) => inner.committedOffsets(groupId, topic),
      transaction: (id) => inner.transaction(id),
      consumer: (options) => {
        const consumer = inner.consumer(options)
        if (options.groupId !== GROUP) return consumer
        return {
          run: (handlers) =>
            consumer.run({ ...handlers, eachBatch: (batch) => this.#deliver(batch, () => handlers.eachBatch(batch)) }),
          commit: (offsets) => consumer.commit(offsets),
          seek: (position) => consumer.seek(position),
          pause: (partitions) => consumer.pause(partitions),
          resume: (partitions) => consumer.resume(partitions),
          stop: () => consumer.stop(),
        }
      },
      close: () => inner.close(),
    }
  }

  async #deliver<T>(batch: LogBatch, deliver: () => Promise<T>): Promise<T> {
    const from = BigInt(batch.span?.from ?? batch.records[0]!.offset)
    const next = BigInt(batch.records.at(-1)!.offset) + 1n
    if (batch.topic === INTERNAL && (await this.holds(batch.partition, from, next))) {
      this.held.set(batch.partition, from)
      await this.#opened
    }
    return deliver()
  }
}

interface Case {
  readonly what: string
  /** Purchases per source partition, per phase: each phase is a run of its own, to the end. */
  readonly phases: readonly number[]
  /**
   * Which internal deliveries of the last phase to hold (read from `from`, records up to `next`),
   * given where each partition ended before it.
   */
  readonly holds: (
    log: EmbeddedEventLog,
    before: readonly bigint[],
  ) => (partition: number, from: bigint, next: bigint) => Promise<boolean>
}

const cases: readonly Case[] = [
  {
    what: 'one transaction forwarded the whole internal topic (each partition one record): all held',
    phases: [12],
    holds: () => () => Promise.resolve(true),
  },
  {
    what: 'one internal partition held, the others processed',
    phases: [12],
    holds: (log) => async (partition) => partition === (await log.endOffsets(INTERNAL)).findIndex((end) => end !== '0'),
  },
  {
    what: "a later run's transaction held after the first run's records were processed",
    phases: [8, 6],
    // A restored view reads from the last record its checkpoint processed (docs/semantics.md §17): the
    // batch that brings the new records may start with it.
    holds: (_log, before) => (partition, _from, next) => Promise.resolve(next > before[partition]!),
  },
]

async function produce(log: EmbeddedEventLog, encoder: Encoder, perPartition: number, phase: number): Promise<number> {
  const records = []
  for (let p = 0; p < PARTITIONS; p++)
    for (let i = 0; i < perPartition; i++) {
      const n = phase * 1_000 + p * 100 + i
      const value = encoder.encode(buy(`p${p}u${i % 3}`, ITEMS[n % ITEMS.length]!, 1 + (n % 7), T0 + phase * 600_000 + i * 5_000))
      records.push({ key: 'k', partition: p, timestampMs: T0, value })
    }
  await log.produce(buys.topic, records)
  return records.length
}

for (const c of cases) {
  void test(`caught up waits for a re-keyed view's delivery: ${c.what}`, { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-caught-up-'))
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    const gate = new DeliveryGate()
    try {
      const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
      const encoder = await createEncoder({ registry, subject: `${buys.topic}-value`, schema: buys.schema })
      await log.createTopic(buys.topic, PARTITIONS)
      const store = new LocalObjectStore(join(dir, 'warehouse'))
      const offline = new IcebergOfflineSink(store)
      const engineLog = gate.wrap(log)
      const makeEngine = () =>
        createLiveEngine({
          log: engineLog,
          stateStore: store,
          offline,
          online: new EmbeddedOnlineStore(),
          deadLetters: createDeadLetterTopicSink(engineLog, 'kfs.dead-letters'),
          deadLetterTopic: 'kfs.dead-letters',
          decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
          views: [itemSpend],
          groupId: GROUP,
          clock: systemClock,
          logger: silentLogger,
          checkpointIntervalMs: 60_000,
          tickMs: 20,
        })
      // Each phase is a run over a backlog (as `kfs run --until-caught-up` after producers wrote):
      // the stage knows every partition's end when it starts, so it forwards the phase in one transaction.
      for (const [phase, perPartition] of c.phases.entries()) {
        const last = phase === c.phases.length - 1
        if (last) gate.holds = c.holds(log, (await log.endOffsets(INTERNAL).catch(() => [])).map(BigInt))
        const produced = await produce(log, encoder, perPartition, phase)
        const engine = makeEngine()
        await engine.start()
        let caughtUpWhileHeld: boolean | undefined
        try {
          if (last) {
            try {
              // The stage has re-keyed and committed everything, and the views hold a delivery of it back.
              await waitFor(async () => {
                const [ends, committed] = await Promise.all([
                  log.endOffsets(buys.topic),
                  log.committedOffsets(REKEY_GROUP, buys.topic),
                ])
                return gate.held.size > 0 && engine.stats.rekeyed === produced && ends.every((end, p) => committed[p] === end)
              }, 'every purchase re-keyed and a delivery of it held')
              caughtUpWhileHeld = await engine.isCaughtUp(0)
            } finally {
              gate.open()
            }
          }
          await waitFor(() => engine.isCaughtUp(0), `phase ${phase} caught up`)
        } finally {
          await engine.stop()
        }
        if (last)
          assert.equal(
            caughtUpWhileHeld,
            false,
            `caught up with internal partitions ${[...gate.held.keys()].join(', ')} not delivered`,
          )
        assert.equal(engine.failure, undefined)
      }

      // Every internal record was processed (archived once), and the view has a row for every item.
      const ends = (await log.endOffsets(INTERNAL)).map(Number)
      for (let p = 0; p < ends.length; p++) {
        let archived = 0
        for await (const row of offline.readArchive(INTERNAL, p)) if (row.markerWatermarkMs === null) archived++
        assert.equal(archived, ends[p], `internal partition ${p}: archived records`)
      }
      const rows = await readFeatureRowsByEntity(store, planRekeys([itemSpend])[0]!.views[0]!)
      assert.deepEqual([...rows.keys()].sort(), ITEMS, 'item_spend entities')
    } finally {
      gate.open()
      await log.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
}
