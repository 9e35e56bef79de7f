/**
 * What a table's commits cost as partitions grow (docs/performance.md, session 36): `partitions`
 * source partitions checkpoint together for `rounds` rounds, each committing one small archive file
 * with its marker through one IcebergOfflineSink, over an in-memory store that answers every async
 * call after `latencyMs` (as an object store does). Before group commit each partition's checkpoint
 * was a snapshot of its own, and the table's whole metadata written again each time; now the
 * commits pending together land in one.
 *
 *   node --import tsx bench/_support/group-commit-cost.ts [partitions=16] [rounds=60] [latencyMs=5]
 */
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../adapters/offline/iceberg/offline-sink.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import type { ArchiveRow } from '../../ports/offline.ts'

const partitions = Number(process.argv[2] ?? 16)
const rounds = Number(process.argv[3] ?? 60)
const latencyMs = Number(process.argv[4] ?? 5)
const T0 = 1_767_225_600_000

let calls = 0
let putBytes = 0
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The store's async calls, each answered `latencyMs` later and counted (puts by their bytes too). */
function slowed(inner: MemoryObjectStore): ObjectStore {
  return new Proxy(inner, {
    get(target, name) {
      const member: unknown = Reflect.get(target, name)
      if (typeof member !== 'function') return member
      return (...args: unknown[]): unknown => {
        const out: unknown = Reflect.apply(member, target, args)
        if (!(out instanceof Promise)) return out
        calls++
        if (name === 'put' && args[1] instanceof Uint8Array) putBytes += args[1].length
        return latencyMs > 0 ? sleep(latencyMs).then(() => out) : out
      }
    },
  })
}

function rowsOf(partition: number, round: number): ArchiveRow[] {
  return Array.from({ length: 10 }, (_, i) => ({
    partition,
    offset: String(round * 10 + i),
    eventTimeMs: T0 + round * 1_000 + i,
    key: null,
    schemaId: 1,
    payload: new Uint8Array([1, 2, 3]),
    markerWatermarkMs: null,
    timestampMs: T0,
  }))
}

const sink = new IcebergOfflineSink(slowed(new MemoryObjectStore()))
const topic = 'buys'
let tableId = ''
const cpuBefore = process.cpuUsage()
const started = performance.now()
for (let round = 1; round <= rounds; round++) {
  await Promise.all(
    Array.from({ length: partitions }, async (_, p) => {
      const staged = await sink.stageArchiveRows(topic, rowsOf(p, round))
      tableId = staged.table
      await sink.commit(staged.table, [staged], { [`${topic}/${p}`]: round }, { [`kfs.offset.${p}`]: String(round * 10 + 10) })
    }),
  )
}
const wallMs = performance.now() - started
const cpu = process.cpuUsage(cpuBefore)
const snapshots = (await sink.snapshots(tableId)).length
console.log(
  `group-commit-cost partitions=${partitions} rounds=${rounds} latency_ms=${latencyMs} snapshots=${snapshots} snapshots_per_round=${(snapshots / rounds).toFixed(2)} wall_ms=${wallMs.toFixed(0)} cpu_ms=${((cpu.user + cpu.system) / 1000).toFixed(0)} store_calls=${calls} put_mb=${(putBytes / 1e6).toFixed(1)}`,
)
