/**
 * Views unpack the bundles of an internal re-key topic (docs/semantics.md §16): the same events fed
 * to a partition slot once as single (legacy) records and once as bundles — mixed with legacy
 * records, cut at arbitrary points, a malformed bundle among them — give the same rows in the same
 * order (event-time ties of `last` included), the same dead letters (origin, value, reason, view)
 * plus one `undecodable` letter for the malformed bundle; the archive keeps each bundle whole and a
 * replay of it gives the live rows again. On a source topic a bundle is just an undecodable value.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import type { FeatureViewDef, FeatureRow } from '../../../features/types.ts'
import { CheckpointStore } from '../../../engine/checkpoint-store.ts'
import { PartitionSlot } from '../../../engine/partition-slot.ts'
import { consumedView } from '../../../engine/plan-sources.ts'
import { encodeBundle } from '../../../engine/rekey-bundle.ts'
import { REKEY_HEADERS } from '../../../engine/rekey-records.ts'
import { drainPartition } from '../../../engine/source-driver.ts'
import { archiveSource } from '../../../engine/sources/archive-source.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import type { ArchiveRow } from '../../../ports/offline.ts'
import type { SourceRecord } from '../../../ports/source.ts'
import { createDecoder, type Decoder } from '../../../schemas/decoder.ts'
import { createEncoder, type Encoder } from '../../../schemas/encoder.ts'
import { clicks, itemClicks, userClicks } from '../../fixtures/features/rekey-scoped.ts'
import type { Click } from '../../fixtures/features/rekey-clicks.ts'
import { prng } from '../../support/scenario.ts'

const view = consumedView(itemClicks)
const INTERNAL = view.source.topic
const BASE = Date.UTC(2026, 0, 1)
const STAMP = BASE + 86_400_000

/** Clicks in threes sharing an event time (ties for `last`), a few filtered out, one genuinely late. */
function clickStream(): Click[] {
  const rand = prng(77)
  const out: Click[] = Array.from({ length: 90 }, (_, i) => ({
    user_id: `u${Math.floor(rand() * 12)}`,
    item_id: `i${Math.floor(rand() * 4)}`,
    category: 'books',
    dwell_ms: rand() < 0.15 ? 100 : 500 + Math.floor(rand() * 1_000),
    ts: BASE + Math.floor(i / 3) * 7_000,
  }))
  out.splice(60, 0, { user_id: 'late', item_id: 'i1', category: 'books', dwell_ms: 900, ts: BASE })
  return out
}

interface Fed {
  readonly rows: FeatureRow[]
  readonly deadLetters: DeadLetter[]
  readonly slot: PartitionSlot
  readonly offline: IcebergOfflineSink
}

async function feed(v: FeatureViewDef, decoder: Decoder, batches: readonly (readonly SourceRecord[])[]): Promise<Fed> {
  const offline = new IcebergOfflineSink(new MemoryObjectStore())
  const deps = {
    offline,
    checkpoints: new CheckpointStore(new MemoryObjectStore(), 'g'),
    clock: systemClock,
    logger: silentLogger,
  }
  const slot = await PartitionSlot.restore(
    { topic: v.source.topic, partition: 0, source: v.source, views: [v], decoder, archive: true },
    deps,
  )
  const rows: FeatureRow[] = []
  const deadLetters: DeadLetter[] = []
  for (const batch of batches) {
    const out = await slot.processRecords(batch, STAMP)
    rows.push(...out.rows[0]!)
    deadLetters.push(...out.deadLetters)
  }
  return { rows, deadLetters, slot, offline }
}

const originOf = (i: number) => ({
  [REKEY_HEADERS.topic]: clicks.topic,
  [REKEY_HEADERS.partition]: '0',
  [REKEY_HEADERS.offset]: String(i),
})
/** The archive positions (offset/index) of the rows a slot keeps for its next checkpoint. */
function positionsOf(slot: PartitionSlot): string[] {
  const kept = slot.rowsAwaitingCheckpoint(0)
  return kept.offsets.slice(0, kept.length).map((offset, i) => `${offset}/${kept.rowIndexes[i]}`)
}
const shown = (rows: readonly FeatureRow[]) => rows.map((r) => ({ key: r.entityKey, asOfMs: r.asOfMs, values: r.values }))
const letterShown = (l: DeadLetter) => ({
  reason: l.reason,
  view: l.view,
  origin: l.origin,
  value: [...(l.value ?? [])],
  detail: l.detail,
})

void test('views unpack bundles: rows, dead letters, archive and replay as with one record per event', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-bundle-views-'))
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const encoder: Encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    const decoder = createDecoder({ registry, readerSchema: clicks.schema })
    const stream = clickStream()
    const events = stream.map((c, i) => ({
      key: c.item_id,
      value: encoder.encode(c),
      headers: { trace: `t${i}`, ...originOf(i) },
    }))

    // One record per event, as internal topics were written before bundles.
    const single = events.map((e, i): SourceRecord => ({
      offset: String(i),
      key: Buffer.from(e.key),
      value: e.value,
      timestampMs: STAMP,
      headers: e.headers,
    }))
    const legacy = await feed(view, decoder, [single.slice(0, 40), single.slice(40)])

    // Two legacy records, then bundles of uneven sizes at offsets with gaps (commit markers), a malformed one among them.
    const records: SourceRecord[] = [single[0]!, single[1]!]
    const sizes = [3, 1, 7, 20, 1, 2]
    let offset = 5
    let from = 2
    const malformed = new Uint8Array([0xff, 0x6b, 0x66, 0x62, 1, 0, 0, 0, 2, 0, 0])
    for (const size of [...sizes, Infinity]) {
      if (from >= events.length) break
      const part = events.slice(from, from + size)
      records.push({ offset: String(offset), key: null, value: encodeBundle(part), timestampMs: STAMP, headers: {} })
      if (size === 7)
        records.push({ offset: String((offset += 2)), key: null, value: malformed, timestampMs: STAMP, headers: {} })
      from += part.length
      offset += 2
    }
    const bundled = await feed(view, decoder, [records.slice(0, 4), records.slice(4, 6), records.slice(6)])

    assert.ok(legacy.rows.length > 50, 'the stream emits rows')
    assert.deepEqual(shown(bundled.rows), shown(legacy.rows), 'the same rows, in the same order')
    const lastUser = view.features.findIndex((f) => f.name.includes('_last_'))
    assert.ok(lastUser >= 0)
    const tied = bundled.rows.filter((r) => r.asOfMs === BASE + 7_000 && r.values[lastUser] !== null)
    const tiedEvents = stream.slice(3, 6).filter((c) => c.dwell_ms! >= 500)
    assert.equal(
      tied.at(-1)!.values[lastUser],
      tiedEvents.at(-1)!.user_id,
      'an event-time tie goes to the later event of a bundle',
    )
    const positions = positionsOf(bundled.slot)
    assert.equal(positions.length, bundled.rows.length)
    assert.equal(new Set(positions).size, positions.length, 'every row has its own archive position')

    assert.ok(
      legacy.deadLetters.some((l) => l.reason === 'late'),
      'the stream holds a late event',
    )
    const [broken, ...others] = [...bundled.deadLetters].sort((a, b) =>
      a.reason === 'undecodable' ? -1 : b.reason === 'undecodable' ? 1 : 0,
    )
    assert.deepEqual(
      others.map(letterShown),
      legacy.deadLetters.map(letterShown),
      'the same dead letters, origin and bytes included',
    )
    assert.equal(broken!.reason, 'undecodable')
    assert.match(broken!.detail, /^bundle cut short/)
    assert.deepEqual(
      [broken!.topic, broken!.offset, broken!.origin, broken!.view],
      [INTERNAL, records.find((r) => r.value === malformed)!.offset, undefined, undefined],
    )

    // The archive keeps the records as read (bundles whole); a replay of it gives the live rows.
    assert.equal(await bundled.slot.checkpoint(), true)
    const archived: ArchiveRow[] = []
    for await (const row of bundled.offline.readArchive(INTERNAL, 0)) archived.push(row)
    assert.deepEqual(
      archived.map((r) => [r.offset, r.eventTimeMs === null, r.schemaId === null]),
      records.map((r, i) => [r.offset, i >= 2, i >= 2]),
    )
    assert.deepEqual(
      archived.map((r) => [...r.payload!]),
      records.map((r) => [...r.value!]),
    )
    // A recomputation that never checkpoints (as verify-parity's): its scratch group starts over tables that hold the partition.
    const replay = await PartitionSlot.restore(
      { topic: INTERNAL, partition: 0, source: view.source, views: [view], decoder, archive: false, scratch: true },
      {
        offline: bundled.offline,
        checkpoints: new CheckpointStore(new MemoryObjectStore(), 'replay'),
        clock: systemClock,
        logger: silentLogger,
      },
    )
    const replayed: FeatureRow[] = []
    const replayLetters: DeadLetter[] = []
    await drainPartition(replay, archiveSource(bundled.offline, INTERNAL, { batchRecords: 3 }).read(0), {
      createdAtMs: () => STAMP,
      onOutput: (out) => void (replayed.push(...out.rows[0]!), replayLetters.push(...out.deadLetters)),
    })
    assert.deepEqual(shown(replayed), shown(bundled.rows), 'replay: the live rows')
    assert.deepEqual(positionsOf(replay), positions, 'replay: the same archive positions')
    assert.deepEqual(
      replayLetters.map(letterShown),
      bundled.deadLetters.map(letterShown),
      "replay: the same dead letters (the archive holds the events' headers)",
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

void test('on a source topic a bundle is not unpacked: its value is undecodable, as any unframed bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-bundle-views-'))
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    const click: Click = { user_id: 'u1', item_id: 'i1', category: 'books', dwell_ms: 900, ts: BASE }
    const forged = encodeBundle([{ key: 'u1', value: encoder.encode(click), headers: originOf(3) }])
    const fed = await feed(userClicks, createDecoder({ registry, readerSchema: clicks.schema }), [
      [{ offset: '0', key: Buffer.from('u1'), value: forged, timestampMs: STAMP, headers: {} }],
    ])
    assert.deepEqual(fed.rows, [])
    assert.deepEqual(
      fed.deadLetters.map((l) => [l.reason, l.origin]),
      [['undecodable', undefined]],
    )
    assert.doesNotMatch(fed.deadLetters[0]!.detail, /bundle/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
