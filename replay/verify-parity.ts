/**
 * `kfs verify-parity`: replays a view from the raw archive with the live code path and compares the
 * rows with what the live engine wrote to the view's offline table — same entities, same as_of,
 * same values bit for bit, same order within each entity (docs/design.md §4). `created_at` is ignored.
 *
 * Both tables are read at the same cut: the latest pair of snapshots whose checkpoint markers for
 * this topic agree (the engine commits every table at every checkpoint, so such a pair exists
 * whenever the engine is between checkpoints or stopped).
 */
import { systemClock } from '../core/clock.ts'
import { FeatureStoreError } from '../core/errors.ts'
import { silentLogger } from '../core/logger.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef } from '../features/types.ts'
import { CheckpointStore } from '../engine/checkpoint-store.ts'
import { PartitionSlot } from '../engine/partition-slot.ts'
import { drainPartition } from '../engine/source-driver.ts'
import { archiveSource } from '../engine/sources/archive-source.ts'
import type { FeatureRowReader } from '../ports/feature-rows.ts'
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
}

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

  const replayed = new Map<string, FeatureRow[]>()
  let replayRows = 0
  if (cut.archive !== null) {
    const archive = archiveSource(offline, topic).at(cut.archive)
    const end = await archive.ends()
    const deps = { offline, checkpoints: new CheckpointStore(options.scratch, `verify-parity.${view.name}`), clock: systemClock, logger: silentLogger }
    for (const p of Object.keys(end.ends).map(Number).sort((a, b) => a - b)) {
      const slot = await PartitionSlot.restore({ topic, partition: p, source: view.source, views: [view], decoder: options.decoder, archive: false, scratch: true }, deps)
      await drainPartition(slot, archive.read(p), {
        createdAtMs: () => 0,
        onOutput: (out) => {
          for (const row of out.rows[0] ?? []) {
            const list = replayed.get(row.entityKey) ?? []
            list.push(row.deleted ? { entityKey: row.entityKey, asOfMs: row.asOfMs, values: row.values, deleted: true } : { entityKey: row.entityKey, asOfMs: row.asOfMs, values: row.values })
            replayed.set(row.entityKey, list)
            replayRows++
          }
        },
      })
    }
  }

  const liveRows = await offline.readFeatureRows(view, { snapshotId: cut.live })
  const maxDifferences = options.maxDifferences ?? 10
  const differences: ParityDifference[] = []
  let matching = 0
  let liveCount = 0
  for (const rows of liveRows.values()) liveCount += rows.length
  const entities = new Set([...liveRows.keys(), ...replayed.keys()])
  for (const key of [...entities].sort()) {
    const a = liveRows.get(key) ?? []
    const b = replayed.get(key) ?? []
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i] !== undefined && b[i] !== undefined && sameRow(a[i]!, b[i]!)) matching++
      else if (differences.length < maxDifferences) differences.push({ entityKey: key, index: i, live: a[i], replay: b[i] })
    }
  }
  return {
    view: `${view.name}@${view.version}`,
    liveSnapshotId: cut.live,
    archiveSnapshotId: cut.archive,
    liveRows: liveCount,
    replayRows,
    matchingRows: matching,
    entities: entities.size,
    differences,
    ok: matching === liveCount && matching === replayRows,
  }
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
