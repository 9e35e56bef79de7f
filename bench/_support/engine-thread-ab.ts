/**
 * Same-process A/B of two engine-thread stages outside the operators that `bench e2e` runs for
 * every record (docs/performance.md, Session 38: the engine thread outside the operators):
 * - decode: the bench's 200,000 purchase values, framed as the Kafka client hands them over (each
 *   a Buffer view into a fetch-sized Buffer), decoded by `decodeBatch` in batches of 20,000;
 * - archive: the same records archived into a partition's ArchiveRowBuffer (50,000 a buffer) and
 *   turned into the archive table's columns (`archiveColumns`), as a checkpoint stages them;
 * - stage: what a checkpoint's staging costs this thread, Arrow columns and the Parquet worker's
 *   hand-over included (docs/performance.md, Session 39): the same 200,000 records' archive
 *   buffers and 700,000 offline rows of the bench's view (bench/_support/views.ts; numeric
 *   features with and without nulls, a string feature; 3.5 an event, as the view emits) in
 *   OfflineRowBuffers, those of 50,000 records a buffer, staged by an IcebergOfflineSink over a memory store (`stageArchiveRows`,
 *   `stageFeatureRows`). Only the staging calls are timed; the worker's CPU is not this thread's.
 *   The first round checks that both versions staged files of the same sizes.
 * Each version's modules are loaded from its tree, the version going first alternating; prints
 * each round's thread CPU of each stage and the medians.
 *
 *   KFS_AB_BASE=/tmp/ab-base KFS_AB_NEW=/tmp/ab-new [KFS_AB_ROUNDS=10] \
 *     flock /tmp/kfs-bench.lock node --import tsx bench/_support/engine-thread-ab.ts
 */
import { pathToFileURL } from 'node:url'
import { threadCpuUsage } from 'node:process'
import { abSummary, moduleLoader } from './ab-trees.ts'

const ROUNDS = Number(process.env.KFS_AB_ROUNDS ?? 10)
const EVENTS = 200_000
const BATCH = 20_000
const ARCHIVE_ROWS = 50_000

type Stage = () => Promise<number>

async function version(tree: string): Promise<{ decode: Stage; archive: Stage; stage: Stage; sizes: number[] }> {
  const load = moduleLoader(tree)
  const { createDecoder } = await load('schemas/decoder.ts')
  const { createEncoder } = await load('schemas/encoder.ts')
  const { readAvroSchema } = await load('schemas/avro/read-schema.ts')
  const { generatePurchases } = await load('test/support/scenario.ts')
  const { ArchiveRowBuffer } = await load('engine/archive-row-buffer.ts')
  const { archiveColumns } = await load('adapters/offline/iceberg/archive-columns.ts')
  const schema = readAvroSchema(new URL(`${pathToFileURL(tree).href}/schemas/avro/purchases.avsc`))
  const registry = { register: async () => 1, getById: async () => schema, latest: async () => undefined }
  const encoder = await createEncoder({ registry, subject: 'purchases-value', schema })
  const events = generatePurchases({ count: EVENTS, users: 10_000, seed: 11 })
  // As a fetch holds them: every value a view into one large Buffer.
  const encoded: Buffer[] = events.map((e: unknown) => encoder.encode(e))
  const fetched = Buffer.concat(encoded)
  const values: Buffer[] = []
  for (let at = 0, i = 0; i < encoded.length; at += encoded[i]!.length, i++)
    values.push(fetched.subarray(at, at + encoded[i]!.length))
  const decoder = createDecoder({ registry, readerSchema: schema })
  const decode: Stage = async () => {
    const cpu0 = threadCpuUsage()
    let ok = 0
    for (let at = 0; at < values.length; at += BATCH)
      for (const r of await decoder.decodeBatch(values.slice(at, at + BATCH))) if (r.ok) ok++
    const u = threadCpuUsage(cpu0)
    if (ok !== EVENTS) throw new Error(`${tree}: ${ok} of ${EVENTS} decoded`)
    return (u.user + u.system) / 1000
  }
  const key = Buffer.from('user-1')
  const archive: Stage = async () => {
    const cpu0 = threadCpuUsage()
    for (let at = 0; at < values.length; at += ARCHIVE_ROWS) {
      const buffer = new ArchiveRowBuffer(0)
      for (let i = at; i < at + ARCHIVE_ROWS; i++)
        buffer.pushRecord(String(i), 1_700_000_000_000 + i, key, 1, values[i]!, 1_800_000_000_000 + i)
      const columns = await archiveColumns(buffer)
      // Arrays, or the offsets in their wire form (branch w-s39-e2e-wire, docs/performance.md Session 39).
      const offsets = columns.offset
      if ((Array.isArray(offsets) ? offsets.length : offsets.ends.length) !== ARCHIVE_ROWS)
        throw new Error(`${tree}: archive columns of the wrong length`)
    }
    const u = threadCpuUsage(cpu0)
    return (u.user + u.system) / 1000
  }
  const { IcebergOfflineSink } = await load('adapters/offline/iceberg/offline-sink.ts')
  const { MemoryObjectStore } = await load('adapters/object-store/index.ts')
  const { OfflineRowBuffer } = await load('engine/offline-row-buffer.ts')
  const { benchViews } = await load('bench/_support/views.ts')
  const { source, view } = benchViews('ab')
  const types = view.features.map((f: { type: string }) => f.type)
  const sizes: number[] = []
  const stage: Stage = async () => {
    const sink = new IcebergOfflineSink(new MemoryObjectStore())
    let cpu = 0
    sizes.length = 0
    for (let at = 0; at < values.length; at += ARCHIVE_ROWS) {
      const archived = new ArchiveRowBuffer(0)
      const rows = new OfflineRowBuffer(types)
      for (let i = at; i < at + ARCHIVE_ROWS; i++) {
        archived.pushRecord(String(i), 1_700_000_000_000 + i, key, 1, values[i]!, 1_800_000_000_000 + i)
        // 3.5 rows an event, as the bench's view emits (replay: 700,051 rows of 200,000 events).
        for (let k = 0; k < (i % 2 === 0 ? 4 : 3); k++) {
          // An avg over an empty window is null now and then; `last` a string.
          const featureValues = types.map((t: string, f: number) =>
            t === 'string'
              ? `item-${i % 977}`
              : t === 'long'
                ? i % 1000
                : f === 3 && (i + k) % 7 === 0
                  ? null
                  : (i % 1000) * 1.25 + f + k,
          )
          const entityKey = `user-${(i * 4 + k) % 10_000}`
          rows.push({ entityKey, asOfMs: 1_700_000_000_000 + i, values: featureValues }, 1_700_000_001_000 + i, String(i), k)
        }
      }
      const cpu0 = threadCpuUsage()
      const staged = [await sink.stageArchiveRows(source.topic, archived), await sink.stageFeatureRows(view, rows)]
      const u = threadCpuUsage(cpu0)
      cpu += (u.user + u.system) / 1000
      for (const s of staged) for (const f of s.files as { fileSizeInBytes: number }[]) sizes.push(f.fileSizeInBytes)
    }
    return cpu
  }
  return { decode, archive, stage, sizes }
}

const base = await version(process.env.KFS_AB_BASE!)
const neu = await version(process.env.KFS_AB_NEW!)
const STAGES = ['decode', 'archive', 'stage'] as const
for (let i = 0; i < 3; i++) for (const v of [base, neu]) for (const s of STAGES) await v[s]()
if (JSON.stringify(base.sizes) !== JSON.stringify(neu.sizes))
  throw new Error(`staged file sizes differ: ${base.sizes.join(',')} / ${neu.sizes.join(',')}`)
const runs = Object.fromEntries(STAGES.map((s) => [s, { base: [] as number[], neu: [] as number[] }])) as Record<
  (typeof STAGES)[number],
  { base: number[]; neu: number[] }
>
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? (['base', 'neu'] as const) : (['neu', 'base'] as const)
  for (const stage of STAGES) for (const who of order) runs[stage][who].push(await (who === 'base' ? base : neu)[stage]())
  const shown = STAGES.map((s) => `${s} base=${runs[s].base.at(-1)!.toFixed(1)} new=${runs[s].neu.at(-1)!.toFixed(1)}`)
  console.log(`round ${r + 1} ${shown.join(' ')} (thread CPU ms)`)
}
for (const stage of STAGES) console.log(`${stage}: ${abSummary(runs[stage].base, runs[stage].neu)}`)
