/** The warning a training set gets when a view matched no label row (training/README.md, "No match"). */
import type { PointInTimeJoiner } from '../ports/point-in-time-joiner.ts'
import type { TrainingPlan } from './plan.ts'

/**
 * One warning per view of which no label row got a value for any of its features (every cell of
 * its columns null, over at least one label row): the set is written and the exit is 0 — a set of
 * nulls is a documented outcome (docs/semantics.md, training sets) — but a build that matched
 * nothing must not look like one that did. The likely causes are named.
 */
export async function noMatchWarnings(
  plan: TrainingPlan,
  joiner: PointInTimeJoiner,
  output: string,
  rows: number,
  asServed: boolean,
): Promise<string[]> {
  if (rows === 0) return []
  const stored = plan.outputs.flatMap((o) => (o.kind === 'stored' ? [o] : []))
  const counts = await joiner.countValued(
    output,
    stored.map((o) => o.column),
  )
  return plan.views.flatMap((v, i) => {
    const columns = stored.filter((o) => o.view === i).map((o) => o.column)
    if (columns.length === 0 || columns.some((c) => counts[c] !== 0)) return []
    return [
      `no label row matched any feature row of view ${v.name} v${v.version}: all ${rows} rows of ${columns.join(', ')} are null. Likely causes: the label keys (${v.joinKeys.join(', ')}) are not the keys the view's rows have (typed differently, e.g. 7 against "u7", or another column); every label time is before the view's first feature row or past its TTL (ttl ${v.ttlMs} ms); the view's table is empty${asServed ? '; as served: the rows reached the online store (created_at) after the label times' : ''}`,
    ]
  })
}
