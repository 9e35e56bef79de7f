/**
 * The archive the replay benchmarks read (bench/replay.ts, ./replay-ab.ts): `events` skewed, partly
 * out-of-order and late purchases of 10,000 users (× KFS_BENCH_SCALE) over 4 partitions, produced to an embedded log
 * under `dir` and consumed by the embedded live engine, which archives them to a local-directory
 * Iceberg table (warehouse/ under `dir`). No servers.
 */
import { join } from 'node:path'
import { systemClock } from '../../core/clock.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../engine/live-engine.ts'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../adapters/object-store/index.ts'
import { createDecoder } from '../../schemas/decoder.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { generatePurchases, produceEvents } from '../../test/support/scenario.ts'
import { stderrLogger } from './report.ts'
import { scaled } from './scale.ts'
import { benchViews } from './views.ts'

export interface ReplayArchive {
  readonly offline: IcebergOfflineSink
  readonly registry: EmbeddedSchemaRegistry
  /** Rows the live engine emitted while it archived the events. */
  readonly emittedRows: number
}

export async function buildReplayArchive(dir: string, events: number): Promise<ReplayArchive> {
  const { source, view } = benchViews('replay')
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  const store = new LocalObjectStore(join(dir, 'warehouse'))
  const offline = new IcebergOfflineSink(store)
  await log.createTopic(source.topic, source.partitions)
  const encoder = await createEncoder({ registry, subject: `${source.topic}-value`, schema: source.schema })
  await produceEvents(
    log,
    source.topic,
    encoder,
    generatePurchases({ count: events, users: scaled(10_000, 10), seed: 11 }),
    5_000,
  )
  const engine = createLiveEngine({
    log,
    stateStore: store,
    offline,
    online: new EmbeddedOnlineStore(),
    deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
    decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
    views: [view],
    groupId: 'bench-replay',
    clock: systemClock,
    logger: stderrLogger(),
  })
  await engine.start()
  while (engine.stats.consumed < events) await new Promise((r) => setTimeout(r, 50))
  await engine.stop()
  await log.close()
  return { offline, registry, emittedRows: engine.stats.emittedRows }
}
