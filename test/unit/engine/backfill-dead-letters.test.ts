/**
 * A backfill is the first time a new view reads the archived records, so the records it refuses —
 * a value its aggregation cannot take, a key it cannot use, its filter throwing, an event late for
 * it — are dead-lettered by the backfill, named for the view, each with its reason (before, they
 * vanished: the backfill dropped every dead letter). A record refused before any view (it does not
 * decode) was dead-lettered when live first read it and is not written again. A backfill killed
 * mid-way by a failing dead-letter sink and run again loses no letter and doubles no row. The live
 * engine's catch-up of an adopted view (the stretch live read without it) returns its refusals too.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { featureView } from '../../../features/index.ts'
import type { FeatureRow } from '../../../features/types.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { purchases, user } from '../../../examples/features.ts'
import type { DeadLetter, DeadLetterReason, DeadLetterSink } from '../../../ports/dead-letters.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import { catchUpFromArchive } from '../../../engine/backfill-hand-off.ts'
import { PartitionProcessor } from '../../../engine/partition-processor.ts'
import { archiveSource } from '../../../engine/sources/archive-source.ts'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { backfillView, type BackfillResult } from '../../../replay/backfill.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { generatePurchases, type Purchase } from '../../support/scenario.ts'

const schemaDir = mkdtempSync(join(tmpdir(), 'kfs-backfill-letters-'))
after(() => rmSync(schemaDir, { recursive: true, force: true }))

/** Retries back off without waiting: a failing sink fails the backfill at once. */
const clock: Clock = { nowMs: () => Date.now(), sleep: async () => undefined }

const spends = featureView({
  name: 'user_spends',
  version: 1,
  entity: user,
  source: purchases,
  filter: (event) => {
    if (event.item_id === 'explodes') throw new Error('the filter cannot price this item')
    return true
  },
  aggregations: [
    { op: 'sum', field: 'amount', windows: ['1d'] },
    { op: 'count', windows: ['1h'] },
  ],
  ttl: '7d',
  freshnessSla: '1m',
  owner: 'test@shop.example',
  description: 'Spend per user, over archived purchases with poison among them',
})

/** Poison the view refuses (the archived record decodes: live accepted it), and the reason. */
const POISON: readonly [string, (p: Purchase) => Purchase, DeadLetterReason][] = [
  ['amount NaN', (p) => ({ ...p, amount: Number.NaN }), 'out_of_range'],
  ['amount Infinity', (p) => ({ ...p, amount: Number.POSITIVE_INFINITY }), 'out_of_range'],
  ['amount beyond 2^960', (p) => ({ ...p, amount: 2 ** 1000 }), 'out_of_range'],
  ['empty user id', (p) => ({ ...p, user_id: '' }), 'invalid_key'],
  ['user id with a control character', (p) => ({ ...p, user_id: 'u\u0001' }), 'invalid_key'],
  ['user id over 512 bytes', (p) => ({ ...p, user_id: 'u'.repeat(600) }), 'invalid_key'],
  ['the filter throws', (p) => ({ ...p, item_id: 'explodes' }), 'map_failed'],
  ['an hour older than the watermark', (p) => ({ ...p, ts: p.ts - 3_600_000 }), 'late'],
]

interface Archive {
  readonly store: MemoryObjectStore
  /** `partition/offset` → the reason the view must give, for each poison record. */
  readonly poison: ReadonlyMap<string, DeadLetterReason>
  readonly undecodable: readonly string[]
  readonly decoder: ReturnType<typeof createDecoder>
}

const PARTITIONS = 3

/** Where a letter or a record is: `partition/offset`. */
const at = (partition: number, offset: string): string => `${partition}/${offset}`

/**
 * 600 purchases over three partitions (a user's on one), each poison kind spliced in several
 * times, and two undecodable records, committed in a few snapshots per partition.
 */
async function archiveWithPoison(): Promise<Archive> {
  const schemas = new EmbeddedSchemaRegistry({ dir: schemaDir })
  const encoder = await createEncoder({ registry: schemas, subject: 'purchases-value', schema: purchases.schema })
  const events = generatePurchases({ count: 600, users: 20, seed: 7, stepMs: 5_000 })
  const partitions: ArchiveRow[][] = Array.from({ length: PARTITIONS }, () => [])
  const poison = new Map<string, DeadLetterReason>()
  const undecodable: string[] = []
  for (const [i, event] of events.entries()) {
    const partition = Number(event.user_id.slice(1)) % PARTITIONS
    const rows = partitions[partition]!
    const offset = String(rows.length)
    const kind = i >= 100 && i % 20 === 0 ? POISON[(i / 20) % POISON.length] : undefined
    const bad = i === 250 || i === 450
    const value = kind !== undefined ? kind[1](event) : event
    const payload = bad ? Uint8Array.of(0, 0, 0, 0, 1, 0xff, 0xff) : encoder.encode(value)
    if (kind !== undefined) poison.set(at(partition, offset), kind[2])
    if (bad) undecodable.push(at(partition, offset))
    const key = new TextEncoder().encode(value.user_id)
    rows.push({
      partition,
      offset,
      eventTimeMs: value.ts,
      key,
      schemaId: 1,
      payload,
      markerWatermarkMs: null,
      timestampMs: event.ts,
    })
  }
  assert.equal(new Set(poison.values()).size, new Set(POISON.map(([, , r]) => r)).size, 'every reason is in the archive')
  const store = new MemoryObjectStore()
  const sink = new IcebergOfflineSink(store, { parquetWorker: false })
  const table = sink.tableId({ kind: 'archive', topic: purchases.topic })
  for (const [partition, rows] of partitions.entries()) {
    for (let from = 0, seq = 1; from < rows.length; from += 70, seq++) {
      const staged = await sink.stageArchiveRows(purchases.topic, rows.slice(from, from + 70))
      await sink.commit(table, [staged], { [`live/${purchases.topic}/${partition}`]: seq }, {})
    }
  }
  return { store, poison, undecodable, decoder: createDecoder({ registry: schemas, readerSchema: purchases.schema }) }
}

/** Keeps the letters; fails every write from the `failFrom`-th on (a kill mid-backfill). */
function letterSink(failFrom = Infinity): DeadLetterSink & { letters: DeadLetter[] } {
  const letters: DeadLetter[] = []
  let writes = 0
  return {
    letters,
    async write(batch) {
      if (++writes >= failFrom) throw new Error('dead-letter topic unavailable')
      letters.push(...batch)
    },
    flush: async () => undefined,
  }
}

async function backfill(archive: Archive, stateStore: MemoryObjectStore, deadLetters: DeadLetterSink): Promise<BackfillResult> {
  return backfillView({
    offline: new IcebergOfflineSink(archive.store, { parquetWorker: false }),
    stateStore,
    decoder: archive.decoder,
    view: spends,
    liveGroupId: 'live',
    deadLetters,
    clock,
    logger: silentLogger,
    checkpointEveryRecords: 40,
  })
}

function rowsOf(rows: Map<string, FeatureRow[]>): string[] {
  return [...rows.entries()].flatMap(([key, list]) => list.map((r) => JSON.stringify([key, r.asOfMs, r.values])))
}

void describe('replay > backfill > dead letters', () => {
  void test("every record the new view refuses is a dead letter named for it, with its reason; the record's own refusals are not repeated", async () => {
    const archive = await archiveWithPoison()
    const sink = letterSink()
    const result = await backfill(archive, new MemoryObjectStore(), sink)
    assert.equal(result.records, 600)
    assert.equal(result.deadLetters, sink.letters.length, 'the count reported is the count written')
    const byOffset = new Map(sink.letters.map((l) => [at(l.partition, l.offset), l]))
    assert.equal(byOffset.size, sink.letters.length, 'one letter per refused record')
    for (const [offset, reason] of archive.poison) {
      const letter = byOffset.get(offset)
      assert.ok(letter !== undefined, `${offset} (${reason}) was dead-lettered`)
      assert.equal(letter.reason, reason, `${offset}: ${letter.detail}`)
      assert.equal(letter.view, spends.name)
      assert.equal(letter.topic, purchases.topic)
      assert.ok(letter.value !== null && letter.value.length > 0, 'the record bytes travel with the letter')
    }
    // Good records late behind a poison one are refused too; nothing else is.
    for (const l of sink.letters)
      assert.ok(archive.poison.has(at(l.partition, l.offset)) || l.reason === 'late', `${at(l.partition, l.offset)}: ${l.reason}`)
    for (const offset of archive.undecodable)
      assert.ok(!byOffset.has(offset), `undecodable ${offset} was dead-lettered by live, not again`)
  })

  void test('killed by a failing dead-letter sink and run again: no letter lost, no row doubled', async () => {
    const archive = await archiveWithPoison()
    const clean = letterSink()
    const cleanState = new MemoryObjectStore()
    await backfill(archive, cleanState, clean)
    const expectedRows = rowsOf(await new IcebergOfflineSink(archive.store, { parquetWorker: false }).readFeatureRows(spends))
    assert.ok(expectedRows.length > 400, `${expectedRows.length} rows`)

    for (const failFrom of [1, 2, 3]) {
      const again = await archiveWithPoison()
      const state = new MemoryObjectStore()
      const first = letterSink(failFrom)
      await assert.rejects(
        backfill(again, state, first),
        (err: unknown) => err instanceof Error && String(err.cause).includes('dead-letter topic unavailable'),
        `write ${failFrom} and every one after it fail the backfill, once its retries run out`,
      )
      const second = letterSink()
      await backfill(again, state, second)
      const written = [...first.letters, ...second.letters]
      for (const letter of clean.letters) {
        assert.ok(
          written.some((l) => at(l.partition, l.offset) === at(letter.partition, letter.offset) && l.reason === letter.reason),
          `failing from write ${failFrom}: the letter of ${at(letter.partition, letter.offset)} (${letter.reason}) was written`,
        )
      }
      const rows = rowsOf(await new IcebergOfflineSink(again.store, { parquetWorker: false }).readFeatureRows(spends))
      assert.deepEqual(rows, expectedRows, `failing from write ${failFrom}: the offline rows are the clean run's, once each`)
    }
  })

  void test("the hand-off's catch-up from the archive returns the view's refusals with its rows, the same as the backfill's", async () => {
    const archive = await archiveWithPoison()
    const backfilled = letterSink()
    await backfill(archive, new MemoryObjectStore(), backfilled)
    const offline = new IcebergOfflineSink(archive.store, { parquetWorker: false })
    const source = archiveSource(offline, purchases.topic)
    const { ends } = await source.ends()
    const caughtUp: DeadLetter[] = []
    for (const [partition, until] of Object.entries(ends)) {
      const task = createPartitionTask({ views: [spends], source: purchases })
      const processor = new PartitionProcessor({
        topic: purchases.topic,
        partition: Number(partition),
        source: purchases,
        task,
        nextOffset: '0',
      })
      const out = await catchUpFromArchive(processor, source, archive.decoder, until, 0)
      assert.ok(out.rows.length > 0, `partition ${partition} emitted rows`)
      caughtUp.push(...out.deadLetters)
    }
    const key = (l: DeadLetter) => `${at(l.partition, l.offset)} ${l.reason} ${l.view}`
    assert.ok(caughtUp.length >= archive.poison.size, `${caughtUp.length} letters`)
    assert.deepEqual(caughtUp.map(key).sort(), backfilled.letters.map(key).sort())
  })
})
