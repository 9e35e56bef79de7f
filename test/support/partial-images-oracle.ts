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
 * So each entity is compared on its rows before its cutoff (`disorderCutoffs`): the earliest
 * commit time, less the workload's jitter, of the changes naming it from their order's first
 * backward one on. Entities without one are compared whole, online too. The comparison must cover
 * an eighth of the full run's rows at least (a busy user whose order goes back early loses most
 * of its rows to the cutoff), or it would test next to nothing.
 */
import assert from 'node:assert/strict'
import type { FeatureViewDef } from '../../features/types.ts'
import { COMMIT_JITTER_MS, type ChangeOutcome, type ChangeRecord } from './change-fault-workload.ts'

/** A change as the full-image run sees it: its order, the users its images name, its commit time. */
interface Commit {
  readonly order: string
  readonly users: readonly string[]
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
    const rows = [m.before, m.after].flatMap((row) => (row === null ? [] : [row]))
    out.push({ order: rows[0]!.order_id, users: rows.map((row) => row.user_id), t: m.source.ts_ms })
  }
  return out
}

/**
 * Per order and per user, the time from which full and partial images may differ (module
 * comment): from an order's first backward change on, every change of it may be taken in one run
 * and ignored in the other — for the order, and for each user its full images name (the group it
 * leaves or joins, or stays stuck in). Less the jitter: a change after it in the log may be dated
 * up to that much earlier, and its rows with it.
 */
export function disorderCutoffs(fullImageRecords: readonly ChangeRecord[]): Map<string, number> {
  const latest = new Map<string, number>()
  const disordered = new Set<string>()
  const cutoff = new Map<string, number>()
  const lower = (entity: string, t: number) => cutoff.set(entity, Math.min(cutoff.get(entity) ?? t, t))
  for (const { order, users, t } of commitsOf(fullImageRecords)) {
    const seen = latest.get(order)
    if (seen !== undefined && t < seen) disordered.add(order)
    latest.set(order, Math.max(seen ?? t, t))
    if (!disordered.has(order)) continue
    for (const entity of [order, ...users]) lower(entity, t - COMMIT_JITTER_MS)
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
    let compared = 0
    let total = 0
    for (const entity of [...entities].sort()) {
      const cutoff = cutoffs.get(entity) ?? Infinity
      const at = `${where}: ${view.name} ${entity}`
      const rows = before(full.offline[view.name]![entity], cutoff)
      const detail = cutoff === Infinity ? '' : ` before ${cutoff}`
      assert.deepEqual(before(partial.offline[view.name]![entity], cutoff), rows, `${at}: offline rows${detail}`)
      compared += rows.length
      total += full.offline[view.name]![entity]?.length ?? 0
      if (cutoff === Infinity)
        assert.deepEqual(partial.online[view.name]![entity], full.online[view.name]![entity], `${at}: online row`)
    }
    assert.ok(compared >= total / 8, `${where}: ${view.name}: ${compared} of ${total} offline rows compared`)
  }
}
