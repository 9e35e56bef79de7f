/**
 * Same-process A/B of two versions of the replay path (docs/performance.md, Replay): the archive is
 * built once by this tree's live engine (as bench/replay.ts builds it), then each round replays it
 * through each version's offline sink, archive source, slot and operators, the version going
 * first alternating, so both see the same machine load and a warm process. Prints each round
 * (wall, the thread's CPU) and the medians; every replay must read every event and emit the same
 * number of rows.
 *
 *   git archive <rev> | tar -x -C /tmp/ab-base   (the whole tree; and /tmp/ab-new)
 *   ln -s "$PWD/node_modules" /tmp/ab-base/node_modules   (and /tmp/ab-new)
 *   KFS_AB_BASE=/tmp/ab-base KFS_AB_NEW=/tmp/ab-new [KFS_AB_ROUNDS=10] [KFS_BENCH_REPLAY_EVENTS=200000] \
 *     flock /tmp/kfs-bench.lock node --import tsx bench/_support/replay-ab.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../core/clock.ts'
import { median, moduleLoader } from './ab-trees.ts'
import { envNumber, stderrLogger } from './report.ts'
import { benchViews } from './views.ts'
import { buildReplayArchive } from './replay-archive.ts'

const ROUNDS = envNumber('KFS_AB_ROUNDS', 10)
const EVENTS = envNumber('KFS_BENCH_REPLAY_EVENTS', 200_000)

type Replay = () => Promise<{ wallMs: number; cpuMs: number; records: number; rows: number }>

async function versionAt(
  tree: string | undefined,
  dir: string,
  built: { snapshotId: string; partitions: number[] },
): Promise<Replay> {
  const load = moduleLoader(tree)
  const { IcebergOfflineSink: Sink } = await load('adapters/offline/iceberg/offline-sink.ts')
  const { LocalObjectStore: Store, MemoryObjectStore } = await load('adapters/object-store/index.ts')
  const { CheckpointStore } = await load('engine/checkpoint-store.ts')
  const { PartitionSlot } = await load('engine/partition-slot.ts')
  const { drainPartition } = await load('engine/source-driver.ts')
  const { archiveSource } = await load('engine/sources/archive-source.ts')
  const { createDecoder: decoderOf } = await load('schemas/decoder.ts')
  const { EmbeddedSchemaRegistry: Registry } = await load('adapters/schema-registry/embedded/embedded-schema-registry.ts')
  const { benchViews: viewsOf } = await load('bench/_support/views.ts')
  const { source, view } = viewsOf('replay')
  const offline = new Sink(new Store(join(dir, 'warehouse')))
  const decoder = decoderOf({ registry: new Registry({ dir: join(dir, 'schemas') }), readerSchema: source.schema })
  return async () => {
    const deps = {
      offline,
      checkpoints: new CheckpointStore(new MemoryObjectStore(), 'ab.scratch'),
      clock: systemClock,
      logger: stderrLogger(),
    }
    const cpu0 = process.threadCpuUsage()
    const t0 = performance.now()
    let records = 0
    let rows = 0
    for (const p of built.partitions) {
      const slot = await PartitionSlot.restore(
        { topic: source.topic, partition: p, source, views: [view], decoder, archive: false, scratch: true },
        deps,
      )
      const r = await drainPartition(slot, archiveSource(offline, source.topic).at(built.snapshotId).read(p), {
        createdAtMs: () => 0,
        onOutput: (out: { rows: unknown[][] }) => {
          rows += out.rows[0]?.length ?? 0
        },
      })
      records += r.records
    }
    const wallMs = performance.now() - t0
    const cpu = process.threadCpuUsage(cpu0)
    return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, records, rows }
  }
}

const dir = mkdtempSync(join(tmpdir(), 'kfs-replay-ab-'))
try {
  const { source } = benchViews('replay')
  const { offline } = await buildReplayArchive(dir, EVENTS)
  const end = await offline.archiveEnd(source.topic)
  const built = {
    snapshotId: end.snapshotId!,
    partitions: Object.keys(end.nextOffsets)
      .map(Number)
      .sort((a, b) => a - b),
  }

  const versions = {
    base: await versionAt(process.env.KFS_AB_BASE, dir, built),
    new: await versionAt(process.env.KFS_AB_NEW, dir, built),
  }
  await versions.base()
  await versions.new() // warm both
  const results: Record<'base' | 'new', { wallMs: number; cpuMs: number }[]> = { base: [], new: [] }
  let rowsSeen: number | undefined
  for (let round = 0; round < ROUNDS; round++) {
    const order: ('base' | 'new')[] = round % 2 === 0 ? ['base', 'new'] : ['new', 'base']
    const line: string[] = []
    for (const name of order) {
      const r = await versions[name]()
      if (r.records !== EVENTS) throw new Error(`${name} replayed ${r.records} records of ${EVENTS}`)
      if (rowsSeen !== undefined && r.rows !== rowsSeen) throw new Error(`${name} emitted ${r.rows} rows, the other ${rowsSeen}`)
      rowsSeen = r.rows
      results[name].push(r)
      line.push(`${name} wall ${r.wallMs.toFixed(0)} cpu ${r.cpuMs.toFixed(0)}`)
    }
    console.log(`round ${round + 1}: ${line.join(' | ')}`)
  }
  const m = (name: 'base' | 'new', k: 'wallMs' | 'cpuMs') => median(results[name].map((r) => r[k]))
  console.log(
    `medians: base wall ${m('base', 'wallMs').toFixed(0)} cpu ${m('base', 'cpuMs').toFixed(0)} | new wall ${m('new', 'wallMs').toFixed(0)} cpu ${m('new', 'cpuMs').toFixed(0)} | new ÷ base wall ${(m('new', 'wallMs') / m('base', 'wallMs')).toFixed(3)}`,
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
