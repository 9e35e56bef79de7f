/**
 * The stronger oracle of a changelog without full before images (change-partial-images-chaos):
 * the current-state views' rows equal a clean run of the same changes WITH full before images —
 * where that must hold.
 *
 * Where it need not: after a change of a key whose commit time goes back (the workload's jitter
 * puts a change of one order up to 1.5 s before the order's previous one). Both runs ignore that
 * change (superseded: the group holds a newer row for the key). With full images, the key's next
 * change carries the before image the ignored change left — which is not the row the group holds,
 * so it is `before_mismatch` and ignored too, and so is every later one: the key is stuck on its
 * older row. A partial before image is not compared (it cannot be: docs/table-and-changelog-
 * sources.md, "Partial images"), so the next change retracts the row the group holds and applies.
 * Minimal example (seed 7300, order o77 of user u0): create {amount 51.57} at t, update {amount
 * 61.57} at t − 82 ms, delete. Full images: the update is superseded; the delete's before image
 * {61.57} is not the held {51.57}: before_mismatch, the order stays counted (1, 51.57). Partial:
 * the update is superseded; the key-only delete deletes (0, 0). A database commits one row's
 * changes in order, so real changelogs do not go back per key — the jitter is the workload's.
 *
 * So each entity is compared on its rows before its cutoff: for an order, the earliest commit time
 * of its changes from its first backward one on; for a user, the earliest cutoff of the orders it
 * ever held. Entities without one are compared whole, online too; the comparison must cover most
 * orders and several users whole, or it tests nothing.
 */
import assert from 'node:assert/strict'
import type { FeatureViewDef } from '../../features/types.ts'
import type { ChangeOutcome, ChangeRecord } from './change-fault-workload.ts'

interface Commit {
  readonly order: string
  readonly user: string
  readonly t: number
}

function commitsOf(records: readonly ChangeRecord[]): Commit[] {
  const out: Commit[] = []
  // Poison changes are refused alike in both runs (and their times are bad on purpose).
  for (const r of records) {
    if (r.poison !== undefined || r.value === null) continue
    const m = JSON.parse(Buffer.from(r.value).toString()) as {
      before: { order_id: string; user_id: string } | null
      after: { order_id: string; user_id: string } | null
      source: { ts_ms: number }
    }
    for (const row of [m.before, m.after])
      if (row !== null) out.push({ order: row.order_id, user: row.user_id, t: m.source.ts_ms })
  }
  return out
}

/** Per order and per user, the commit time from which full and partial images may differ (module comment). */
export function disorderCutoffs(fullImageRecords: readonly ChangeRecord[]): Map<string, number> {
  const commits = commitsOf(fullImageRecords)
  const latest = new Map<string, number>()
  const cutoff = new Map<string, number>()
  for (const { order, t } of commits) {
    const seen = latest.get(order)
    if (cutoff.has(order)) cutoff.set(order, Math.min(cutoff.get(order)!, t))
    else if (seen !== undefined && t < seen) cutoff.set(order, t)
    latest.set(order, Math.max(seen ?? t, t))
  }
  for (const { order, user } of commits) {
    const c = cutoff.get(order)
    if (c !== undefined) cutoff.set(user, Math.min(cutoff.get(user) ?? c, c))
  }
  return cutoff
}

export function assertCurrentStateAsFullImages(
  partial: ChangeOutcome,
  full: ChangeOutcome,
  views: readonly FeatureViewDef[],
  fullImageRecords: readonly ChangeRecord[],
  where: string,
): void {
  const cutoffs = disorderCutoffs(fullImageRecords)
  for (const view of views) {
    const before = (rows: unknown[] | undefined, cutoff: number) =>
      (rows ?? []).filter((r) => (r as { asOfMs: number }).asOfMs < cutoff)
    const entities = new Set([...Object.keys(partial.offline[view.name]!), ...Object.keys(full.offline[view.name]!)])
    let whole = 0
    for (const entity of [...entities].sort()) {
      const cutoff = cutoffs.get(entity) ?? Infinity
      const at = `${where}: ${view.name} ${entity}`
      assert.deepEqual(
        before(partial.offline[view.name]![entity], cutoff),
        before(full.offline[view.name]![entity], cutoff),
        `${at}: offline rows${cutoff === Infinity ? '' : ` before ${cutoff}`}`,
      )
      if (cutoff !== Infinity) continue
      whole++
      assert.deepEqual(partial.online[view.name]![entity], full.online[view.name]![entity], `${at}: online row`)
    }
    assert.ok(
      whole >= Math.min(3, entities.size / 3),
      `${where}: ${view.name} compared whole for ${whole} of ${entities.size} entities`,
    )
  }
}
