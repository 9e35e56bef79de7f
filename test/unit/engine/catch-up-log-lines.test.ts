/**
 * What the live engine says a catch-up from the archive did (engine/restore-point.ts logCaughtUp),
 * one line per cause and only for what happened: "backfilled views handed over to live" only for
 * views adopted from a backfill checkpoint of the partition. A view new to a partition that no
 * backfill checkpointed (a view added to `kfs run` with no backfill of this group: another group's
 * marked it complete) starts empty at the archive's start and is said to — before, it was logged as
 * handed over from a backfill that never ran.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { silentLogger, type LogFn, type Logger } from '../../../core/logger.ts'
import { purchases, userBigSpends, userPurchases } from '../../../examples/with-new-view.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { logCaughtUp, type CatchUpDue } from '../../../engine/restore-point.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import {
  assertSameRows,
  expectedRowsByEntity,
  generatePurchases,
  offlineRowsByEntity,
  produceEvents,
  type ProducedRecord,
} from '../../support/scenario.ts'
import { runLiveUntilConsumed } from '../../support/live-until-consumed.ts'

const HANDED_OVER = 'backfilled views handed over to live'
const UNBACKFILLED =
  'views new to the partition with no backfill checkpoint of it caught up from the start of the archive: no backfill ran here'
const STALE =
  'views caught up from the archive past a checkpoint older than the tables (its newer records are gone): no backfill ran'
const LINE_OF: Record<CatchUpDue['cause'], string> = { adopted: HANDED_OVER, unbackfilled: UNBACKFILLED, stale: STALE }

/** A logger that keeps the messages logged at info with their fields. */
function recordingLogger(): Logger & { infos: { msg: string; fields: Record<string, unknown> }[] } {
  const infos: { msg: string; fields: Record<string, unknown> }[] = []
  const info: LogFn = (a: object | string, msg?: string) =>
    void (typeof a === 'string'
      ? infos.push({ msg: a, fields: {} })
      : infos.push({ msg: msg ?? '', fields: a as Record<string, unknown> }))
  const logger: Logger = { ...silentLogger, info, child: () => logger }
  return Object.assign(logger, { infos })
}

void describe('live engine > what a catch-up from the archive is said to be', () => {
  void test('every mix of causes: one line per cause present, naming exactly its views and rows', () => {
    const causes: CatchUpDue['cause'][] = ['adopted', 'unbackfilled', 'stale']
    const views = [userPurchases, userBigSpends, { ...userBigSpends, version: 2 }]
    // Every assignment of a cause (or none) to each of the three views.
    for (let mix = 0; mix < 4 ** views.length; mix++) {
      const due: (CatchUpDue & { from: string })[] = []
      views.forEach((_, v) => {
        const pick = Math.floor(mix / 4 ** v) % 4
        if (pick < 3) due.push({ view: v, cause: causes[pick]!, from: '5' })
      })
      const logger = recordingLogger()
      const rows = views.map((_, v) => Array.from({ length: v + 1 }, () => []))
      logCaughtUp(logger, { topic: 't', partition: 2, views }, due, '9', rows)
      const expected = causes
        .map((cause) => {
          const of = due.filter((d) => d.cause === cause)
          if (of.length === 0) return undefined
          return {
            msg: LINE_OF[cause],
            views: of.map((d) => `${views[d.view]!.name}@${views[d.view]!.version}`),
            rows: of.reduce((n, d) => n + d.view + 1, 0),
          }
        })
        .filter((line) => line !== undefined)
      assert.deepEqual(
        logger.infos.map((i) => ({ msg: i.msg, views: i.fields.views, rows: i.fields.rows })),
        expected,
        `mix ${mix}`,
      )
    }
  })

  void test('a view added to the live engine with no backfill is said to start from the archive, not handed over from a backfill, and has every row', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-unbackfilled-'))
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    try {
      const schemas = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
      const store = new LocalObjectStore(join(dir, 'warehouse'))
      const parts = {
        log,
        stateStore: store,
        offline: new IcebergOfflineSink(store),
        online: new EmbeddedOnlineStore(),
        decoderFor: () => createDecoder({ registry: schemas, readerSchema: purchases.schema }),
      }
      await log.createTopic(purchases.topic, purchases.partitions)
      const encoder = await createEncoder({ registry: schemas, subject: `${purchases.topic}-value`, schema: purchases.schema })
      const events = generatePurchases({ count: 900, users: 30, seed: 36 })
      const produced: ProducedRecord[] = []
      const produce = async (from: number, to: number) => {
        const batch = await produceEvents(log, purchases.topic, encoder, events.slice(from, to))
        produced.push(...batch)
        return batch.length
      }
      const logger = recordingLogger()
      await runLiveUntilConsumed(parts, [userPurchases], await produce(0, 450), { checkpointMaxRecords: 150 })
      await runLiveUntilConsumed(parts, [userPurchases, userBigSpends], await produce(450, 900), {
        checkpointMaxRecords: 150,
        logger,
      })

      assert.deepEqual(
        logger.infos.filter((i) => i.msg === HANDED_OVER),
        [],
        'no backfill ran: nothing handed over',
      )
      const started = logger.infos.filter((i) => i.msg === UNBACKFILLED)
      assert.deepEqual(
        started.map((i) => i.fields.partition).sort(),
        Array.from({ length: purchases.partitions }, (_, p) => p),
        'one line per partition the view was new to',
      )
      for (const line of started) assert.deepEqual(line.fields.views, [`${userBigSpends.name}@${userBigSpends.version}`])
      assert.ok(
        started.reduce((n, i) => n + Number(i.fields.rows), 0) > 0,
        'the catch-up emitted the rows of the stretch live ran without the view',
      )
      const expected = expectedRowsByEntity([userBigSpends], purchases, produced).get(userBigSpends.name)!
      assertSameRows(await offlineRowsByEntity(store, userBigSpends), expected, 'user_big_spends offline table')
    } finally {
      await log.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
