/**
 * The kfs every read-fault case starts from (test/support/read-command-faults.ts runs the commands
 * over it): the backfill fault scenario's live run (backfill-fault-scenario.ts: user_purchases
 * computed, its archive and checkpoints; user_big_spends published, not computed) plus a
 * served-feature log archive, a dead letter and a label file.
 */
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { archiveTablePath, IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { purchases, userPurchases } from '../../examples/with-new-view.ts'
import { DEAD_LETTER_TOPIC } from '../../main/internal-topics.ts'
import { createRegistry } from '../../registry/index.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { SERVED_FEATURES_SCHEMA, toServedEvent, type ServedRecord } from '../../serving/served-log/index.ts'
import { buildBaseline } from './backfill-fault-scenario.ts'
import { fastRetryClock } from './checkpoint-fault-scenario.ts'

export const SERVED_TOPIC = 'served-features'

export interface ReadBaseline {
  /** The data dir: the embedded log (with one dead letter) and schema registry. */
  readonly dir: string
  readonly objects: ReadonlyMap<string, Uint8Array>
  /** A CSV label file of user_purchases' users at times across the run. */
  readonly labels: string
}

/** Builds the kfs every case starts from (a few seconds: one live run of 320 purchases). */
export async function buildReadBaseline(): Promise<ReadBaseline> {
  const base = await buildBaseline()
  const store = new MemoryObjectStore()
  for (const [key, body] of base.objects) await store.put(key, body)
  // As kfs run leaves a view it consumed from the start: its backfill complete (training sets check it).
  await createRegistry({ store, clock: fastRetryClock }).setBackfillStatus(userPurchases.name, userPurchases.version, {
    state: 'complete',
    completeThrough: [],
  })
  const times = base.produced.map((p) => p.event.ts)
  const [first, last] = [Math.min(...times), Math.max(...times)]
  const at = (i: number, n: number) => Math.round(first + ((last - first) * (i + 1)) / (n + 1))
  // The served-feature log, archived as kfs run archives any source topic.
  const sink = new IcebergOfflineSink(store, { parquetWorker: false })
  const schemas = new EmbeddedSchemaRegistry({ dir: join(base.dir, 'schemas') })
  const served = await createEncoder({ registry: schemas, subject: `${SERVED_TOPIC}-value`, schema: SERVED_FEATURES_SCHEMA })
  const features = userPurchases.features.map((f) => f.name)
  const records: ServedRecord[] = base.users.slice(0, 12).map((user, i) => ({
    requestId: `r${i}`,
    servedAtMs: at(i, 12),
    viewName: userPurchases.name,
    viewVersion: userPurchases.version,
    entityKey: user,
    status: 'MISSING',
    asOfMs: null,
    features,
    values: features.map(() => null),
  }))
  const staged = await sink.stageArchiveRows(
    SERVED_TOPIC,
    records.map((r, i) => ({
      partition: 0,
      offset: String(i),
      eventTimeMs: r.servedAtMs,
      key: null,
      schemaId: served.schemaId,
      payload: served.encode(toServedEvent(r)),
      markerWatermarkMs: null,
      timestampMs: 0,
    })),
  )
  await sink.commit(archiveTablePath(SERVED_TOPIC), [staged], {}, {})
  // One dead letter of a purchase, for dead-letters list and show (show decodes it with its writer schema).
  const log = new EmbeddedEventLog({ dir: join(base.dir, 'log'), fsync: 'never' })
  try {
    const encoder = await createEncoder({ registry: schemas, subject: `${purchases.topic}-value`, schema: purchases.schema })
    const letter = base.produced[0]!
    const letters = createDeadLetterTopicSink(log, DEAD_LETTER_TOPIC)
    await letters.write([
      {
        topic: purchases.topic,
        partition: letter.partition,
        offset: letter.offset,
        key: null,
        value: encoder.encode(letter.event),
        reason: 'late',
        detail: 'injected for the read-fault tests',
        view: userPurchases.name,
        viewVersion: userPurchases.version,
      },
    ])
    await letters.flush()
  } finally {
    await log.close()
  }
  const objects = new Map<string, Uint8Array>()
  for (const key of await store.list('')) objects.set(key, (await store.get(key))!)
  const labels = join(base.dir, 'labels.csv')
  const rows = base.users.map((user, i) => `${user},${at(i, base.users.length)}`)
  await writeFile(labels, `user_id,ts\n${rows.join('\n')}\n`)
  return { dir: base.dir, objects, labels }
}
