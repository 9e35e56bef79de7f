/**
 * `npm run bench -- replay`: replay throughput of the raw archive through engine/source-driver.ts
 * (the live slot, decoder and operators; rows counted, not written) against a bare Parquet scan of
 * the same archive files (adapters/offline/iceberg readDataFileBatches, every column decoded to JS values, no
 * processing), both in this run.
 *
 * The archive is built first by the live engine on the embedded defaults (local event log,
 * local-directory Iceberg tables, embedded online store; no servers): KFS_BENCH_REPLAY_EVENTS
 * (default 200,000 × KFS_BENCH_SCALE) skewed, partly out-of-order and late purchases over 4 partitions.
 *
 * KFS_BENCH_PROFILE=<dir> (or KFS_BENCH_ALLOC_PROFILE): a profile of the replay phase only
 * (./_support/profile.ts).
 *
 * BENCH replay events_per_s=… baseline_events_per_s=… ratio=…
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../core/clock.ts'
import { CheckpointStore } from '../engine/checkpoint-store.ts'
import { PartitionSlot } from '../engine/partition-slot.ts'
import { drainPartition } from '../engine/source-driver.ts'
import { archiveSource } from '../engine/sources/archive-source.ts'
import { createDecoder } from '../schemas/decoder.ts'
import { dataFilesOf, readDataFileBatches } from '../adapters/offline/iceberg/index.ts'
import { MemoryObjectStore } from '../adapters/object-store/index.ts'
import { benchLine, envNumber, progress, stderrLogger } from './_support/report.ts'
import { benchViews } from './_support/views.ts'
import { buildReplayArchive } from './_support/replay-archive.ts'
import { startProfile } from './_support/profile.ts'
import { scaled } from './_support/scale.ts'

const EVENTS = envNumber('KFS_BENCH_REPLAY_EVENTS', scaled(200_000, 100))
const dir = mkdtempSync(join(tmpdir(), 'kfs-bench-replay-'))
try {
  const { source, view } = benchViews('replay')
  const built = performance.now()
  const { offline, registry, emittedRows } = await buildReplayArchive(dir, EVENTS)
  progress(`archive built by the embedded engine: ${EVENTS} events, ${emittedRows} rows, ${((performance.now() - built) / 1000).toFixed(1)} s`)

  const end = await offline.archiveEnd(source.topic)
  const table = await offline.archiveTable(source.topic)
  const files = await dataFilesOf(table, BigInt(end.snapshotId!))
  // parquet-wasm's first call in a process is slower (tier-up): warm both paths on one file.
  for await (const _ of readDataFileBatches(table, files[0]!)) void _

  let t = performance.now()
  let scanned = 0
  for (const file of files) for await (const batch of readDataFileBatches(table, file, { longAs: 'bigint' })) scanned += batch.numRows
  const scanMs = performance.now() - t
  const baseline = (scanned / scanMs) * 1000
  progress(`baseline: Parquet scan of ${files.length} archive files, ${scanned} rows in ${scanMs.toFixed(0)} ms (${baseline.toFixed(0)}/s)`)

  const decoder = createDecoder({ registry, readerSchema: source.schema })
  const deps = { offline, checkpoints: new CheckpointStore(new MemoryObjectStore(), 'bench-replay.scratch'), clock: systemClock, logger: stderrLogger() }
  const stopProfile = await startProfile('replay')
  t = performance.now()
  let records = 0
  let markers = 0
  let rows = 0
  for (const p of Object.keys(end.nextOffsets).map(Number).sort((a, b) => a - b)) {
    const slot = await PartitionSlot.restore({ topic: source.topic, partition: p, source, views: [view], decoder, archive: false, scratch: true }, deps)
    const r = await drainPartition(slot, archiveSource(offline, source.topic).at(end.snapshotId!).read(p), {
      createdAtMs: () => 0,
      onOutput: (out) => {
        rows += out.rows[0]?.length ?? 0
      },
    })
    records += r.records
    markers += r.markers
  }
  const replayMs = performance.now() - t
  await stopProfile()
  const rate = (records / replayMs) * 1000
  progress(`replay: ${records} records + ${markers} markers → ${rows} rows in ${replayMs.toFixed(0)} ms (${rate.toFixed(0)}/s)`)
  if (records !== EVENTS) throw new Error(`replay read ${records} records, the archive holds ${EVENTS}`)
  benchLine('replay', { events: records, events_per_s: rate, baseline_events_per_s: baseline, ratio: rate / baseline, rows })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
