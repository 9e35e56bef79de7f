/**
 * The live engine on the embedded defaults (local event log, local-directory Iceberg tables,
 * embedded online store): the offline table equals the reference model's rows and the online
 * store holds each entity's latest reference row — including across a stop and restart.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { userPurchases, purchases } from '../../../examples/features.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { assertSameRows, expectedRowsByEntity, generatePurchases, offlineRowsByEntity, produceEvents, valuesClose, waitFor } from '../../support/scenario.ts'

void test('embedded engine: offline rows equal the reference, online holds the latest row, across a restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-e2e-'))
  try {
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const online = new EmbeddedOnlineStore()
    const offline = new IcebergOfflineSink(store)
    const view = userPurchases
    const source = purchases
    await log.createTopic(source.topic, source.partitions)
    const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
    const events = generatePurchases({ count: 3_000, users: 60, seed: 7 })

    const makeEngine = () =>
      createLiveEngine({
        log,
        stateStore: store,
        offline,
        online,
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [view],
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointMaxRecords: 700,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })

    const first = await produceEvents(log, source.topic, encoder, events.slice(0, 1_500))
    const engine1 = makeEngine()
    await engine1.start()
    await waitFor(() => engine1.stats.consumed >= first.length, 'first half consumed')
    await engine1.stop()

    const second = await produceEvents(log, source.topic, encoder, events.slice(1_500))
    const engine2 = makeEngine()
    await engine2.start()
    await waitFor(() => engine2.stats.consumed >= second.length, 'second half consumed')
    await engine2.stop()

    const produced = [...first, ...second]
    const expected = expectedRowsByEntity([view], source, produced).get(view.name)!
    assertSameRows(await offlineRowsByEntity(store, view), expected, 'offline table')

    const keys = [...expected.keys()]
    const reads = await online.readRows(keys.map((entityKey) => ({ view, entityKey, features: view.features.map((f) => f.name) })), Date.UTC(2026, 0, 2))
    keys.forEach((key, i) => {
      const latest = expected.get(key)!.at(-1)!
      const read = reads[i]!
      assert.equal(read.asOfMs, latest.asOfMs, `online as_of of ${key}`)
      assert.ok(read.values.every((v, j) => valuesClose(v, latest.values[j])), `online values of ${key}`)
    })
    assert.ok((engine1.stats.deadLettered.late ?? 0) + (engine2.stats.deadLettered.late ?? 0) > 0, 'the stream has late events, dead-lettered')

    // Replay from the archive through the same code path reproduces the live rows exactly.
    const parityOptions = {
      offline,
      decoder: createDecoder({ registry, readerSchema: source.schema }),
      view,
      groupId: 'kfs-engine',
      scratch: new MemoryObjectStore(),
    }
    const parity = await verifyParity(parityOptions)
    assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
    assert.equal(parity.liveRows, [...expected.values()].reduce((n, r) => n + r.length, 0))

    // A row the live engine never produced is caught.
    const someKey = keys[0]!
    const forged = { ...expected.get(someKey)!.at(-1)!, asOfMs: expected.get(someKey)!.at(-1)!.asOfMs + 1, createdAtMs: 0, origin: { partition: 0, offset: '999999', seq: 0, marker: false } }
    const staged = await offline.stageFeatureRows(view, [forged])
    await offline.commit(staged.table, [staged], {}, {})
    const tampered = await verifyParity(parityOptions)
    assert.equal(tampered.ok, false)
    assert.equal(tampered.differences[0]?.entityKey, someKey)
    await log.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
