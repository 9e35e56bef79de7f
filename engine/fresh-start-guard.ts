/**
 * A partition that starts with no checkpoint of its group must find its tables without its records
 * (docs/semantics.md §14, "A partition with no checkpoint over tables that hold it"). With no
 * checkpoint the slot starts every view — and the archive — from the partition's first offset, so
 * it writes everything it reads. Tables committed by a checkpoint of the partition (any group: this
 * one before its checkpoints were deleted, another before its claim went, the view's backfill) hold
 * those records and rows already: appended again, the archive holds each offset twice (verify-parity:
 * "damaged") and the feature tables each row twice. The operators' state cannot be rebuilt without
 * reading every record again, and the rows the tables hold are only those of their last commit, so
 * the engine cannot resume from the tables alone: it stops before writing anything, naming the
 * tables and the way out.
 *
 * Every commit carries `kfs.ckpt.<group>/<topic>/<partition>`, and a table is committed only after
 * the checkpoint record naming the commit was published (partition-slot.ts). So a table holding a
 * commit of the partition means a record was published; a second look at the checkpoints after the
 * tables were read finds it unless it was removed (a backfill that lost the race of its first
 * checkpoint to another of the same group finds the winner's then, and goes on from it).
 */
import { InvariantViolation, type ErrorContext } from '../core/errors.ts'
import type { FeatureViewDef } from '../features/types.ts'
import type { OfflineCatalog, OfflineSnapshot } from '../ports/offline.ts'
import type { CheckpointStore, PartitionCheckpoint } from './checkpoint-store.ts'
import type { SlotDeps, SlotOptions } from './slot-contract.ts'
import { requireClaim } from './claim-guard.ts'

/** A table holding commits of the partition: what it is, and per group how far its records reach. */
export interface HeldTable {
  readonly table: string
  readonly through: ReadonlyMap<string, bigint>
}

/** What a slot writes, per topic: the topic's archive when it archives, each offline view's feature table. */
interface SlotTables {
  readonly topic: string
  readonly views: readonly FeatureViewDef[]
  readonly archive: boolean
}

/** The last snapshot of each table a slot of `at.topic` would write, read once for every partition. */
async function lastSnapshots(catalog: OfflineCatalog, at: SlotTables): Promise<{ table: string; last: OfflineSnapshot }[]> {
  const { topic } = at
  const tables = [
    ...(at.archive ? [{ id: catalog.tableId({ kind: 'archive', topic }), table: `the archive table of ${topic}` }] : []),
    ...at.views
      .filter((view) => view.offline)
      .map((view) => ({
        id: catalog.tableId({ kind: 'feature', view }),
        table: `the feature table of ${view.name}@${view.version}`,
      })),
  ]
  const out: { table: string; last: OfflineSnapshot }[] = []
  for (const { id, table } of tables) {
    const last = (await catalog.snapshots(id)).at(-1)
    if (last !== undefined) out.push({ table: `${table} (${id})`, last })
  }
  return out
}

/** Of `tables`, those holding a commit of `topic`/`partition`, by any writer. */
function holding(tables: readonly { table: string; last: OfflineSnapshot }[], topic: string, partition: number): HeldTable[] {
  // A marker name is `<group>/<topic>/<partition>`; a topic name holds no '/'.
  const suffix = `/${topic}/${partition}`
  const held: HeldTable[] = []
  for (const { table, last } of tables) {
    const through = new Map<string, bigint>()
    for (const name of Object.keys(last.markers)) {
      if (!name.endsWith(suffix)) continue
      const position = last.rowsThrough[name]
      through.set(name.slice(0, -suffix.length), position === undefined ? 0n : BigInt(position) >> 21n)
    }
    if (through.size > 0) held.push({ table, through })
  }
  return held
}

/**
 * The tables the slot would write (the topic's archive when it archives, each offline view's feature
 * table) that hold a commit of `topic`/`partition`, by any writer.
 */
export async function tablesHoldingPartition(
  catalog: OfflineCatalog,
  at: SlotTables & { readonly partition: number },
): Promise<HeldTable[]> {
  return holding(await lastSnapshots(catalog, at), at.topic, at.partition)
}

/** A partition refused, and the tables that hold it. */
export interface RefusedPartition {
  readonly topic: string
  readonly partition: number
  readonly held: readonly HeldTable[]
}

/** Starts refused over tables that hold them (`refused`, in topic and partition order): one error names them all. */
export class FreshStartRefusal extends InvariantViolation {
  readonly group: string
  readonly refused: readonly RefusedPartition[]

  constructor(group: string, refused: readonly RefusedPartition[]) {
    super(refusalMessage(group, refused), { context: refusalContext(group, refused) })
    this.group = group
    this.refused = refused
  }
}

/** The refusal: names each partition with its tables, their writers and offsets, the group, and what to do. */
function refusalMessage(groupId: string, refused: readonly RefusedPartition[]): string {
  const tablesOf = (held: readonly HeldTable[]): string =>
    held
      .map(
        ({ table, through }) =>
          `${table}: committed by ${[...through].map(([group, offset]) => `group ${group} through offset ${offset}`).join(', ')}`,
      )
      .join('; ')
  const dirs = refused.map(
    ({ topic, partition }) => `checkpoints/${encodeURIComponent(groupId)}/${encodeURIComponent(topic)}/${partition}/`,
  )
  const ways = `Restore the group's checkpoints (${dirs.join(', ')} in the store), or start the views over on a new store (a new data dir, or bucket/prefix) (docs/semantics.md §14).`
  const damage = 'would write them again (each row twice offline, an archive verify-parity reports damaged)'
  if (refused.length === 1) {
    const { topic, partition, held } = refused[0]!
    return (
      `${topic}/${partition}: group ${groupId} has no checkpoint of this partition, but ${held.length > 1 ? 'these tables hold' : 'this table holds'} its records already — ${tablesOf(held)}. ` +
      `Starting it from its first offset ${damage}, so kfs stops before this partition writes anything. ${ways}`
    )
  }
  return [
    `group ${groupId} has no checkpoint of ${refused.length} partitions whose tables hold their records already:`,
    ...refused.map(({ topic, partition, held }) => `${topic}/${partition} — ${tablesOf(held)};`),
    `starting them from their first offsets ${damage}, so kfs stops before these partitions write anything. ${ways}`,
  ].join('\n')
}

function refusalContext(group: string, refused: readonly RefusedPartition[]): ErrorContext {
  const only = refused.length === 1 ? refused[0]! : undefined
  return {
    ...(only === undefined ? {} : { topic: only.topic, partition: only.partition }),
    group,
    partitions: refused.map(({ topic, partition }) => `${topic}/${partition}`).join(', '),
    tables: [...new Set(refused.flatMap((r) => r.held.map((h) => h.table)))].join(', '),
  }
}

/** The refusal of one partition. */
export function freshStartRefusal(
  groupId: string,
  at: { readonly topic: string; readonly partition: number },
  held: readonly HeldTable[],
): FreshStartRefusal {
  return new FreshStartRefusal(groupId, [{ topic: at.topic, partition: at.partition, held }])
}

/**
 * `first`, widened to every partition of `topics` refused alike: a start meets its partitions one at
 * a time and stopped at the first refused, so fixing it only led to the next. Read on the way out
 * only — the refused start has failed already —: each topic's tables once, and the checkpoints of
 * each partition; a read that fails leaves `first` as it was.
 */
export async function everyRefusedPartition(
  first: FreshStartRefusal,
  deps: { readonly offline: OfflineCatalog; readonly checkpoints: CheckpointStore },
  topics: readonly SlotTables[],
  partitionCount: (topic: string) => Promise<number>,
): Promise<FreshStartRefusal> {
  try {
    const refused = [...first.refused]
    const known = new Set(refused.map((r) => `${r.topic}/${r.partition}`))
    for (const at of topics) {
      const tables = await lastSnapshots(deps.offline, at)
      const partitions = await partitionCount(at.topic)
      for (let partition = 0; partition < partitions; partition++) {
        if (known.has(`${at.topic}/${partition}`)) continue
        const held = holding(tables, at.topic, partition)
        if (held.length === 0 || (await deps.checkpoints.latest(at.topic, partition)) !== undefined) continue
        refused.push({ topic: at.topic, partition, held })
      }
    }
    if (refused.length === first.refused.length) return first
    refused.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
    return new FreshStartRefusal(first.group, refused)
  } catch {
    return first
  }
}

/**
 * The partition's latest checkpoint; with none, the tables the slot writes must hold nothing of the
 * partition, or the start is refused (tablesHoldingPartition). The checkpoints are read again after
 * the tables: a table commit follows its record's publish, so one found now is seen.
 */
export async function latestOrRefuse(options: SlotOptions, deps: SlotDeps): Promise<PartitionCheckpoint | undefined> {
  const { topic, partition } = options
  const latest = await deps.checkpoints.latest(topic, partition)
  if (latest !== undefined || options.scratch === true) return latest
  const held = await tablesHoldingPartition(deps.offline, options)
  if (held.length === 0) return undefined
  const again = await deps.checkpoints.latest(topic, partition)
  if (again !== undefined) return again
  // A member of a group retired while it ran finds its checkpoints deleted and its tables written:
  // the retire, not a lost checkpoint, is what to name (claim-guard.ts; a store without claims passes).
  await requireClaim(deps, topic, { clock: deps.clock, attempts: 10, maxDelayMs: 2_000 })
  throw freshStartRefusal(deps.checkpoints.groupId, options, held)
}
