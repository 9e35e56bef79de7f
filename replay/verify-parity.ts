/**
 * `kfs verify-parity`: replays a view from the raw archive with the live code path and compares the
 * rows with what the live engine wrote to the view's offline table — same entities, same as_of,
 * same values bit for bit, same order within each entity (docs/design.md §4). `created_at` is ignored.
 *
 * Both tables are read at the same cut: the latest pair of snapshots whose checkpoint markers for
 * this topic agree (the engine commits every table at every checkpoint, so such a pair exists
 * whenever the engine is between checkpoints or stopped).
 *
 * Memory: a feature table is its view's history, a row per emission, so neither side is held whole.
 * The entities are split in shards (ports/feature-rows.ts `entityShardOf`), as many as the live
 * table's row count at the cut (its manifests' count) over `rowsPerPass`; each pass replays the
 * archive keeping only its shard's rows, reads only its shard's live rows, compares and drops them.
 * A table that fits is one pass, one replay, as before. The report is the same for any number of
 * passes: counts add up, and the differences are the first `maxDifferences` in entity-key order.
 */
import { systemClock } from '../core/clock.ts'
import { FeatureStoreError } from '../core/errors.ts'
import { silentLogger } from '../core/logger.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef } from '../features/types.ts'
import { CheckpointStore } from '../engine/checkpoint-store.ts'
import { PartitionSlot } from '../engine/partition-slot.ts'
import { drainPartition } from '../engine/source-driver.ts'
import { archiveSource } from '../engine/sources/archive-source.ts'
import { entityShardOf, type EntityShard, type FeatureRowReader } from '../ports/feature-rows.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { OfflineSink } from '../ports/offline.ts'
import type { Decoder } from '../schemas/decoder.ts'

export interface ParityDifference {
  readonly entityKey: string
  readonly index: number
  readonly live: FeatureRow | undefined
  readonly replay: FeatureRow | undefined
}

export interface ParityReport {
  readonly view: string
  readonly liveSnapshotId: string | null
  readonly archiveSnapshotId: string | null
  readonly liveRows: number
  readonly replayRows: number
  readonly matchingRows: number
  readonly entities: number
  readonly differences: readonly ParityDifference[]
  readonly ok: boolean
}

export interface VerifyParityOptions {
  /** Replays the archive and reads the live feature table's rows at the cut. */
  readonly offline: OfflineSink & FeatureRowReader
  readonly decoder: Decoder
  readonly view: FeatureViewDef
  /** The live engine's consumer group (checkpoint markers are named after it). */
  readonly groupId: string
  /** Scratch store for the replay's in-memory checkpoint series (never published). */
  readonly scratch: ObjectStore
  readonly maxDifferences?: number
  /** The most live rows a pass holds (default DEFAULT_PARITY_ROWS_PER_PASS); tests force several passes with it. */
  readonly rowsPerPass?: number
  /** Called once a pass holds both sides of its shard, before comparing them (tests observe the bound with it). */
  readonly observePass?: (pass: ParityPass) => void
}

/** What a pass holds: its shard's rows, live and replayed. */
export interface ParityPass {
  readonly shard: EntityShard
  readonly liveRows: number
  readonly replayRows: number
}

/**
 * Live rows a pass compares by default. A pass holds them and about as many replayed (one per live
 * row when parity holds), each a row object of a few values — ~200 bytes with its entity's map entry
 * — so ~400 MB at most; a table of 10⁸ rows is compared in 100 passes, each a replay of the archive.
 */
export const DEFAULT_PARITY_ROWS_PER_PASS = 1_000_000

export async function verifyParity(options: VerifyParityOptions): Promise<ParityReport> {
  const { offline, view, groupId } = options
  const topic = view.source.topic
  const prefix = `${groupId}/${topic}/`
  const featureTable = offline.tableId({ kind: 'feature', view })
  const archiveTable = offline.tableId({ kind: 'archive', topic })
  const live = await offline.snapshots(featureTable)
  const archive = await offline.snapshots(archiveTable)
  const restrict = (m: Readonly<Record<string, number>>) =>
    JSON.stringify(Object.fromEntries(Object.entries(m).filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1))))
  let cut: { live: string | null; archive: string | null } | undefined
  for (let i = live.length - 1; i >= 0 && cut === undefined; i--) {
    const key = restrict(live[i]!.markers)
    // Before the group's first commit to the table there is nothing of the group's to compare
    // (and '{}' would match any table this group never wrote: a wrong group would "pass").
    if (key === '{}') break
    for (let j = archive.length - 1; j >= 0; j--) {
      if (restrict(archive[j]!.markers) === key) {
        cut = { live: live[i]!.snapshotId, archive: archive[j]!.snapshotId }
        break
      }
    }
  }
  if (cut === undefined) {
    if (live.length > 0 || archive.length > 0) {
      // One table with the group's commits and the other without any: that one is gone or was
      // never written, which no other group would explain.
      const lacking = [
        { table: featureTable, snapshots: live },
        { table: archiveTable, snapshots: archive },
      ].filter((t) => !t.snapshots.some((s) => restrict(s.markers) !== '{}'))
      if (lacking.length === 1) {
        const { table, snapshots } = lacking[0]!
        const other = table === featureTable ? archiveTable : featureTable
        // Commits of other groups only (a backfill's, before the next kfs run takes the view over)
        // are not damage: only a table with no snapshot at all is gone.
        if (snapshots.length > 0) {
          const whose = table === featureTable ? "another group's (a backfill's, until kfs run takes the view over: run it)" : "another group's"
          throw new FeatureStoreError(
            'NOT_FOUND',
            `nothing to compare: ${table} has no commit of group ${groupId} yet, while ${other} holds the group's commits; its commits are ${whose}, or name the group that wrote it with --group`,
          )
        }
        throw new FeatureStoreError('NOT_FOUND', `nothing to compare: ${table} is missing or has no snapshot, while ${other} holds the group's commits; restore it from a copy`)
      }
      throw new FeatureStoreError('NOT_FOUND', `no consistent cut between ${featureTable} and ${archiveTable} for group ${groupId}: is this the group that wrote them?`)
    }
    cut = { live: null, archive: null }
  }

  // The live table's rows at the cut, from its manifests: the passes it takes to hold a budget's worth a pass.
  const rowsPerPass = options.rowsPerPass ?? DEFAULT_PARITY_ROWS_PER_PASS
  if (!(rowsPerPass >= 1)) throw new RangeError(`rowsPerPass must be at least 1, not ${rowsPerPass}`)
  const tableRows = cut.live === null ? 0 : ((await offline.featureTableStats(view, { snapshotId: cut.live }))?.rows ?? 0)
  const of = Math.max(1, Math.ceil(tableRows / rowsPerPass))
  const maxDifferences = options.maxDifferences ?? 10
  const differences: ParityDifference[] = []
  let replayRows = 0
  let matching = 0
  let liveCount = 0
  let entities = 0
  for (let index = 0; index < of; index++) {
    const shard = { index, of }
    const replayed = await replayShard(options, cut.archive, shard)
    const liveRows = await offline.readFeatureRows(view, { snapshotId: cut.live, ...(of > 1 ? { shard } : {}) })
    let shardLive = 0
    for (const rows of liveRows.values()) shardLive += rows.length
    options.observePass?.({ shard, liveRows: shardLive, replayRows: replayed.rows })
    replayRows += replayed.rows
    liveCount += shardLive
    // A shard's differences come in order (sorted keys, then index), and only its first maxDifferences
    // can be among the first maxDifferences of all: the shards' lists are merged and cut at the end.
    const found: ParityDifference[] = []
    const keys = new Set([...liveRows.keys(), ...replayed.byEntity.keys()])
    entities += keys.size
    for (const key of [...keys].sort()) {
      const a = liveRows.get(key) ?? []
      const b = replayed.byEntity.get(key) ?? []
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if (a[i] !== undefined && b[i] !== undefined && sameRow(a[i]!, b[i]!)) matching++
        else if (found.length < maxDifferences) found.push({ entityKey: key, index: i, live: a[i], replay: b[i] })
      }
    }
    differences.push(...found)
  }
  if (of > 1) differences.sort((x, y) => (x.entityKey === y.entityKey ? x.index - y.index : x.entityKey < y.entityKey ? -1 : 1))
  return {
    view: `${view.name}@${view.version}`,
    liveSnapshotId: cut.live,
    archiveSnapshotId: cut.archive,
    liveRows: liveCount,
    replayRows,
    matchingRows: matching,
    entities,
    differences: differences.slice(0, maxDifferences),
    ok: matching === liveCount && matching === replayRows,
  }
}

/**
 * The archive replayed at `snapshotId` through the view's operators (the live code path), keeping
 * only the rows of the shard's entities: each pass runs the whole replay again, and holds its shard.
 */
async function replayShard(
  options: VerifyParityOptions,
  snapshotId: string | null,
  shard: EntityShard,
): Promise<{ byEntity: Map<string, FeatureRow[]>; rows: number }> {
  const { offline, view } = options
  const topic = view.source.topic
  const byEntity = new Map<string, FeatureRow[]>()
  let rows = 0
  if (snapshotId === null) return { byEntity, rows }
  const archive = archiveSource(offline, topic).at(snapshotId)
  const end = await archive.ends()
  const deps = { offline, checkpoints: new CheckpointStore(options.scratch, `verify-parity.${view.name}`), clock: systemClock, logger: silentLogger }
  for (const p of Object.keys(end.ends).map(Number).sort((a, b) => a - b)) {
    const slot = await PartitionSlot.restore({ topic, partition: p, source: view.source, views: [view], decoder: options.decoder, archive: false, scratch: true }, deps)
    await drainPartition(slot, archive.read(p), {
      createdAtMs: () => 0,
      onOutput: (out) => {
        for (const row of out.rows[0] ?? []) {
          if (shard.of > 1 && entityShardOf(row.entityKey, shard.of) !== shard.index) continue
          const list = byEntity.get(row.entityKey) ?? []
          list.push(row.deleted ? { entityKey: row.entityKey, asOfMs: row.asOfMs, values: row.values, deleted: true } : { entityKey: row.entityKey, asOfMs: row.asOfMs, values: row.values })
          byEntity.set(row.entityKey, list)
          rows++
        }
      },
    })
  }
  return { byEntity, rows }
}

function sameRow(a: FeatureRow, b: FeatureRow): boolean {
  // A tombstone (docs/design.md §11) differs from a row of nulls: online one is MISSING, the other PRESENT.
  return a.asOfMs === b.asOfMs && (a.deleted === true) === (b.deleted === true) && a.values.length === b.values.length && a.values.every((v, i) => sameValue(v, b.values[i]!))
}

/** Bit for bit: Object.is tells 0 from −0 and NaN from itself equal, as the bytes do. */
function sameValue(a: FeatureValue, b: FeatureValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => Object.is(v, b[i]))
  return Object.is(a, b)
}
