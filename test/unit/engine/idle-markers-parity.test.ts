/**
 * Idle periods: one idle period archives one marker per `idleTimeout`, all at the same offset, and
 * each marker can fire decay rows. Every row must still get a distinct archive position (`seq`),
 * also when the engine stops between two markers of one offset and a new one continues the
 * period, so that replay orders them exactly as live did (docs/semantics.md §12–§13).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { entity, featureView, source } from '../../../features/index.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { loadTableIfExists } from '../../../adapters/offline/iceberg/iceberg-table.ts'
import { featureTablePath, IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { readRows } from '../../../adapters/offline/iceberg/table-reader.ts'
import { LocalObjectStore, MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { waitFor } from '../../support/scenario.ts'

const taps = source({
  name: 'taps',
  topic: 'taps',
  schema: { type: 'record', name: 'Tap', fields: [{ name: 'user_id', type: 'string' }, { name: 'ts', type: 'long' }] },
  eventTimeField: 'ts',
  keyedBy: 'user',
  partitions: 2,
  outOfOrderness: 0,
  allowedLateness: 0,
  idleTimeout: '100ms',
})
const user = entity({ name: 'user', joinKeys: ['user_id'] })
// Tiles of 100 ms: each idle marker (≥ 100 ms of wall clock) moves the watermark past a boundary,
// so every marker of an idle period fires decay rows until the 2 s window is empty.
const taps2s = featureView({
  name: 'taps_2s',
  version: 1,
  entity: user,
  source: taps,
  aggregations: [{ op: 'count', windows: ['2s'], hop: '100ms' }],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'test@kfs',
  description: 'taps in the last 2 s',
})

void test('consecutive idle markers at one offset, a restart between two of them: distinct seq, parity holds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-idle-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    await log.createTopic(taps.topic, taps.partitions)
    const encoder = await createEncoder({ registry, subject: `${taps.topic}-value`, schema: taps.schema })
    const makeEngine = () =>
      createLiveEngine({
        log,
        stateStore: store,
        offline: new IcebergOfflineSink(store),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [taps2s],
        groupId: 'kfs-engine',
        clock: systemClock,
        logger: silentLogger,
        checkpointIntervalMs: 150,
        tickMs: 20,
      })
    const produce = (startMs: number, n: number) =>
      log.produce(
        taps.topic,
        Array.from({ length: n }, (_, i) => {
          const event = { user_id: `u${i % 2}`, ts: startMs + i * 37 }
          return { key: event.user_id, value: encoder.encode(event) }
        }),
      )
    const t0 = Date.UTC(2026, 0, 1)
    await produce(t0, 120)

    // First engine: the events, then an idle period of many markers; stopped in the middle of it.
    const first = makeEngine()
    await first.start()
    await waitFor(() => first.stats.consumed >= 120, 'events consumed')
    await new Promise((r) => setTimeout(r, 900))
    await first.stop()
    // Second engine: continues the same idle period (more markers at the same offsets), then more events.
    const second = makeEngine()
    await second.start()
    await new Promise((r) => setTimeout(r, 900))
    await produce(t0 + 120 * 37 + 60_000, 60)
    await waitFor(() => second.isCaughtUp(300), 'second engine caught up')
    await second.stop()

    const offline = new IcebergOfflineSink(store)
    let repeated = 0
    for (let p = 0; p < taps.partitions; p++) {
      const markerOffsets: string[] = []
      for await (const row of offline.readArchive(taps.topic, p)) if (row.markerWatermarkMs !== null) markerOffsets.push(row.offset)
      repeated += markerOffsets.length - new Set(markerOffsets).size
    }
    assert.ok(repeated >= 4, `idle periods archived consecutive markers at one offset (${repeated} repeats)`)

    const table = await loadTableIfExists(store, featureTablePath(taps2s))
    assert.ok(table)
    // seq is a position within a partition, and one entity's rows all come from one partition.
    const positions = new Set<string>()
    let rows = 0
    for await (const raw of readRows(table, { longAs: 'bigint' })) {
      positions.add(`${String(raw.entity_key)}@${String(raw.seq)}`)
      rows++
    }
    assert.equal(positions.size, rows, 'no two rows of an entity share an archive position')

    const parity = await verifyParity({
      offline,
      decoder: createDecoder({ registry, readerSchema: taps.schema }),
      view: taps2s,
      groupId: 'kfs-engine',
      scratch: new MemoryObjectStore(),
    })
    assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
    assert.ok(parity.liveRows > 120, `decay rows were emitted by markers (${parity.liveRows} rows)`)
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
})
