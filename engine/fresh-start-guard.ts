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
import { InvariantViolation } from '../core/errors.ts'
import type { FeatureViewDef } from '../features/types.ts'
import type { OfflineCatalog } from '../ports/offline.ts'
import type { PartitionCheckpoint } from './checkpoint-store.ts'
import type { SlotDeps, SlotOptions } from './slot-contract.ts'
import { requireClaim } from './claim-guard.ts'

/** A table holding commits of the partition: what it is, and per group how far its records reach. */
export interface HeldTable {
  readonly table: string
  readonly through: ReadonlyMap<string, bigint>
}

/**
 * The tables the slot would write (the topic's archive when it archives, each offline view's
 * feature table) that hold a commit of `topic`/`partition`, by any writer.
 */
export async function tablesHoldingPartition(
  catalog: OfflineCatalog,
  at: {
    readonly topic: string
    readonly partition: number
    readonly views: readonly FeatureViewDef[]
    readonly archive: boolean
  },
): Promise<HeldTable[]> {
  const { topic, partition } = at
  const tables = [
    ...(at.archive ? [{ id: catalog.tableId({ kind: 'archive', topic }), table: `the archive table of ${topic}` }] : []),
    ...at.views
      .filter((view) => view.offline)
      .map((view) => ({
        id: catalog.tableId({ kind: 'feature', view }),
        table: `the feature table of ${view.name}@${view.version}`,
      })),
  ]
  // A marker name is `<group>/<topic>/<partition>`; a topic name holds no '/'.
  const suffix = `/${topic}/${partition}`
  const held: HeldTable[] = []
  for (const { id, table } of tables) {
    const last = (await catalog.snapshots(id)).at(-1)
    if (last === undefined) continue
    const through = new Map<string, bigint>()
    for (const name of Object.keys(last.markers)) {
      if (!name.endsWith(suffix)) continue
      const position = last.rowsThrough[name]
      through.set(name.slice(0, -suffix.length), position === undefined ? 0n : BigInt(position) >> 21n)
    }
    if (through.size > 0) held.push({ table: `${table} (${id})`, through })
  }
  return held
}

/** The refusal: names the partition, the group, each table with its writers and offsets, and what to do. */
export function freshStartRefusal(
  groupId: string,
  at: { readonly topic: string; readonly partition: number },
  held: readonly HeldTable[],
): InvariantViolation {
  const { topic, partition } = at
  const tables = held.map(({ table, through }) => {
    const by = [...through].map(([group, offset]) => `group ${group} through offset ${offset}`).join(', ')
    return `${table}: committed by ${by}`
  })
  return new InvariantViolation(
    `${topic}/${partition}: group ${groupId} has no checkpoint of this partition, but ${held.length > 1 ? 'these tables hold' : 'this table holds'} its records already — ${tables.join('; ')}. ` +
      `Starting it from its first offset would write them again (each row twice offline, an archive verify-parity reports damaged), so kfs stops before this partition writes anything. ` +
      `Restore the group's checkpoints (checkpoints/${encodeURIComponent(groupId)}/${encodeURIComponent(topic)}/${partition}/ in the store), or start the views over on a new store (a new data dir, or bucket/prefix) (docs/semantics.md §14).`,
    { context: { topic, partition, group: groupId, tables: held.map((h) => h.table).join(', ') } },
  )
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
