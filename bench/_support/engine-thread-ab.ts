/**
 * Same-process A/B of two engine-thread stages outside the operators that `bench e2e` runs for
 * every record (docs/performance.md, Session 38: the engine thread outside the operators):
 * - decode: the bench's 200,000 purchase values, framed as the Kafka client hands them over (each
 *   a Buffer view into a fetch-sized Buffer), decoded by `decodeBatch` in batches of 20,000;
 * - archive: the same records archived into a partition's ArchiveRowBuffer (50,000 a buffer) and
 *   turned into the archive table's columns (`archiveColumns`), as a checkpoint stages them.
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

async function version(tree: string): Promise<{ decode: Stage; archive: Stage }> {
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
      if (columns.offset!.length !== ARCHIVE_ROWS) throw new Error(`${tree}: archive columns of the wrong length`)
    }
    const u = threadCpuUsage(cpu0)
    return (u.user + u.system) / 1000
  }
  return { decode, archive }
}

const base = await version(process.env.KFS_AB_BASE!)
const neu = await version(process.env.KFS_AB_NEW!)
for (let i = 0; i < 3; i++) for (const v of [base, neu]) for (const s of [v.decode, v.archive]) await s()
const runs = { decode: { base: [] as number[], neu: [] as number[] }, archive: { base: [] as number[], neu: [] as number[] } }
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? (['base', 'neu'] as const) : (['neu', 'base'] as const)
  for (const stage of ['decode', 'archive'] as const)
    for (const who of order) runs[stage][who].push(await (who === 'base' ? base : neu)[stage]())
  console.log(
    `round ${r + 1} decode base=${runs.decode.base.at(-1)!.toFixed(1)} new=${runs.decode.neu.at(-1)!.toFixed(1)} ` +
      `archive base=${runs.archive.base.at(-1)!.toFixed(1)} new=${runs.archive.neu.at(-1)!.toFixed(1)} (thread CPU ms)`,
  )
}
for (const stage of ['decode', 'archive'] as const) console.log(`${stage}: ${abSummary(runs[stage].base, runs[stage].neu)}`)
