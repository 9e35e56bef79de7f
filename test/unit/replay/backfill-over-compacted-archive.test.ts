/**
 * A backfill over a compacted archive (adapters/offline/iceberg/archive-compaction.ts) writes what
 * one over the uncompacted archive writes: over random streams a live run archives (a checkpoint
 * every 25 records: many small files, idle markers, late events, records that do not decode), one
 * view is backfilled, the archive compacted (random file sizes), the same logic under another name
 * backfilled again — offline rows, online rows per key and dead letters (by origin) are the first
 * backfill's and the live run's, and each partition of the archive reads as it did.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { readFeatureRowsByEntity } from '../../../adapters/offline/iceberg/feature-rows.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import { backfillView } from '../../../replay/backfill.ts'
import { live, liveRun, onlineRows, rowsOf, stretch, taps, tapsView, type LiveRun, type Stretch } from './taps-stream.ts'

async function backfill(
  store: LocalObjectStore,
  parts: LiveRun,
  name: string,
): Promise<{ offline: unknown; online: EmbeddedOnlineStore; letters: string[] }> {
  const view = tapsView(name)
  const online = new EmbeddedOnlineStore()
  const letters: DeadLetter[] = []
  await backfillView({
    offline: new IcebergOfflineSink(store),
    stateStore: store,
    decoder: parts.decoderFor(),
    view,
    liveGroupId: 'kfs-engine',
    online,
    deadLetters: { write: async (l) => void letters.push(...l), flush: async () => {} },
    clock: systemClock,
    logger: silentLogger,
    checkpointEveryRecords: 17,
  })
  return {
    offline: rowsOf(await readFeatureRowsByEntity(store, view)),
    online,
    letters: [...new Set(letters.map((l) => `${l.partition}/${l.offset}/${l.reason}`))].sort(),
  }
}

async function archiveRows(sink: IcebergOfflineSink): Promise<unknown[][]> {
  const out: unknown[][] = []
  for (let p = 0; p < taps.partitions; p++) {
    const rows: unknown[] = []
    for await (const r of sink.readArchive(taps.topic, p)) rows.push(r)
    out.push(rows)
  }
  return out
}

const totals = { removedFiles: 0, entities: 0, letters: 0 }

async function oneStream(stretches: readonly Stretch[], rowsPerFile: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-compacted-archive-'))
  try {
    const parts = await liveRun(dir, stretches)
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const sink = new IcebergOfflineSink(store)
    const archived = await archiveRows(sink)
    const before = await backfill(store, parts, 'taps_before')

    const compacted = await sink.compactArchive(taps.topic, { committedBeforeMs: Date.now() + 86_400_000, rowsPerFile })
    totals.removedFiles += compacted.removedFiles
    assert.deepEqual(await archiveRows(new IcebergOfflineSink(store)), archived, 'the archive reads as before')

    const after = await backfill(store, parts, 'taps_after')
    const liveRows = rowsOf(await readFeatureRowsByEntity(store, live))
    assert.deepEqual(after.offline, before.offline, 'offline rows: over the compacted archive = over the uncompacted one')
    assert.deepEqual(after.offline, liveRows, 'offline rows: = live')
    assert.deepEqual(after.letters, before.letters, 'dead letters by origin')
    const keys = Object.keys(liveRows)
    const afterView = tapsView('taps_after')
    assert.deepEqual(
      await onlineRows(after.online, afterView, keys),
      await onlineRows(before.online, tapsView('taps_before'), keys),
      'online rows per key',
    )
    totals.entities += keys.length
    totals.letters += after.letters.length
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

void test('a backfill over a compacted archive writes what one over the uncompacted archive writes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(stretch, { minLength: 2, maxLength: 4 }),
      fc.integer({ min: 3, max: 60 }),
      async (stretches, rowsPerFile) => oneStream(stretches, rowsPerFile),
    ),
    { numRuns: 4, endOnFailure: true },
  )
  // The runs together compacted files and compared rows and dead letters: the comparisons checked something.
  assert.ok(totals.removedFiles > 0 && totals.entities > 0 && totals.letters > 0, JSON.stringify(totals))
})
