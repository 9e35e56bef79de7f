/**
 * The embedded online store keeps its rows in a file and a journal (durable: a crash loses no
 * row a checkpoint counted). Deleted — its directory removed, or a new disk —, the next `kfs run`
 * opened an empty store and went on from its checkpoints: every entity with no new event read
 * MISSING. The engine now finds no marker of its group there and reloads the rows from the
 * offline tables before it consumes anything (engine/online-loss-watch.ts). Before, this test
 * failed on the first entity with no event after the restart.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import {
  assertOnlineHoldsLastRows,
  expectedRowsByEntity,
  generatePurchases,
  produceEvents,
  waitFor,
} from '../../support/scenario.ts'

void test("embedded online store deleted between two runs: the second run reloads every entity's row", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-online-deleted-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const offline = new IcebergOfflineSink(store)
    const onlinePath = join(dir, 'online', 'rows.json')
    const view = userPurchases
    const source = purchases
    await log.createTopic(source.topic, source.partitions)
    const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
    const events = generatePurchases({ count: 2_000, users: 60, seed: 5 })
    const run = async (batch: typeof events, consumedBefore: number) => {
      await mkdir(join(dir, 'online'), { recursive: true })
      const online = await EmbeddedOnlineStore.open({ path: onlinePath })
      const engine = createLiveEngine({
        log,
        stateStore: store,
        offline,
        offlineRows: offline,
        online,
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [view],
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointMaxRecords: 400,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })
      await engine.start()
      const produced = await produceEvents(log, source.topic, encoder, batch)
      await waitFor(() => engine.stats.consumed >= produced.length, `${consumedBefore + produced.length} records consumed`)
      await engine.stop()
      assert.equal(engine.failure, undefined)
      return { online, produced, engine }
    }

    const first = await run(events.slice(0, 1_200), 0)
    await first.online.close()
    await rm(join(dir, 'online'), { recursive: true, force: true })
    // After the deletion only every fourth user has new events: the others' rows come back only by the reload.
    const second = await run(
      events.slice(1_200).filter((e) => Number(e.user_id.slice(1)) % 4 === 0),
      1_200,
    )
    const expected = expectedRowsByEntity([view], source, [...first.produced, ...second.produced]).get(view.name)!
    await assertOnlineHoldsLastRows(second.online, view, expected)
    assert.equal(second.engine.stats.onlineLosses.marker_missing, 1)
    await second.online.close()
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
})
