/**
 * Random changelogs for the change-view property tests (docs/design.md §11): a seeded generator
 * of envelopes over rows {id, grp, x, s} — inserts, updates (group moves included), deletes,
 * out-of-order commit times, re-deliveries of older changes, deletes of unknown keys, mismatching,
 * key-only (nulls, or '' and 0 fallbacks; of deletes and updates) and missing before images
 * (held-copies.ts adds the re-key stage's copies for those), unavailable-value placeholders
 * in after images, commit times of 0, re-snapshot reads, creates carrying a before image, unknown
 * ops, bad keys and values, markers — plus the hand-built source and views (the DSL's
 * change-source builders are not used here).
 */
import { prng } from '../../../support/scenario.ts'
import { changeEnvelopeSchema } from '../../../../features/change-envelope.ts'
import type { AvroRecordSchema, EntityDef, EventRecord, FeatureRow, FeatureViewDef, SourceDef } from '../../../../features/types.ts'
import { testSource, testView } from '../defs.ts'
import type { ChangeStep, ExpectedRow, ReferenceView } from '../../../reference/changes-reference.ts'
import type { PartitionTask } from '../../../../operators/task/partition-task.ts'
import type { TaskDeadLetter } from '../../../../operators/task/output.ts'

export const ROW_SCHEMA: AvroRecordSchema = {
  type: 'record',
  name: 'Item',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'grp', type: ['null', 'string'] },
    { name: 'x', type: ['null', 'double'] },
    { name: 's', type: ['null', 'string'] },
  ],
}

/** Debezium's default unavailable-value placeholder (operators/changes/partial-images.ts). */
const TOAST = '__debezium_unavailable_value'

export const ITEM: EntityDef = { kind: 'entity', name: 'item', joinKeys: ['id'], keyType: 'int', description: '' }
export const GROUP: EntityDef = { kind: 'entity', name: 'grp', joinKeys: ['grp'], keyType: 'string', description: '' }

export function changeSource(outOfOrdernessMs: number, allowedLatenessMs: number): SourceDef {
  return testSource({
    name: 'items',
    topic: 'items',
    schema: changeEnvelopeSchema(ROW_SCHEMA),
    eventTimeField: 'ts_ms',
    keyedBy: 'item',
    outOfOrdernessMs,
    allowedLatenessMs,
    changes: { kind: 'changelog', rowSchema: ROW_SCHEMA, primaryKey: ['id'], format: 'json' },
  })
}

export type Shape = 'plain' | 'filter' | 'double' | 'throws'

function filterAndMapOf(shape: Shape): Pick<FeatureViewDef, 'filter' | 'map'> {
  return {
    filter: shape === 'filter' || shape === 'throws' ? (r: EventRecord) => r.s !== 'hidden' : undefined,
    map:
      shape === 'double'
        ? (r: EventRecord) => ({ ...r, x: typeof r.x === 'number' ? r.x * 2 : r.x })
        : shape === 'throws'
          ? (r: EventRecord) => {
              if (r.s === 'boom') throw new Error('boom')
              return r
            }
          : undefined,
  }
}

export function attributeView(source: SourceDef, shape: Shape): FeatureViewDef {
  const base = testView({ name: 'item_attrs', source, entity: ITEM, features: [] })
  const features = ['grp', 'x', 's'].map((field) => ({
    name: field,
    type: field === 'x' ? ('double' as const) : ('string' as const),
    aggregation: { name: field, op: 'attribute', field, windowMs: null, hopMs: 0, n: undefined, quantile: undefined },
  }))
  return { ...base, ...filterAndMapOf(shape), features, changeMode: 'attributes' }
}

export function currentStateView(source: SourceDef, shape: Shape): FeatureViewDef {
  const base = testView({
    name: 'group_totals',
    source,
    entity: GROUP,
    features: [
      { op: 'count', windowMs: null },
      { op: 'count', field: 'x', windowMs: null },
      { op: 'sum', field: 'x', windowMs: null },
      { op: 'avg', field: 'x', windowMs: null },
    ],
  })
  return { ...base, ...filterAndMapOf(shape), changeMode: 'current_state' }
}

export function referenceView(view: FeatureViewDef): ReferenceView {
  return { view, primaryKey: ITEM, maxStringBytes: 4096 }
}

type Row = { id: unknown; grp: unknown; x: unknown; s: unknown }

/** `count` changelog steps from `seed`. */
export function randomChangelog(seed: number, count: number): ChangeStep[] {
  const rnd = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1))
  const x = (): unknown => {
    const r = rnd()
    if (r < 0.6) return int(-40, 40) / 4
    if (r < 0.8) return int(-30, 30) / 10
    if (r < 0.9) return null
    return pick(['oops', 2n ** 60n, Number.NaN, 7n])
  }
  const row = (id: unknown): Row => ({ id, grp: rnd() < 0.93 ? pick(['g1', 'g2', 'g3']) : pick([null, '']), x: x(), s: pick(['a', 'b', 'hidden', 'boom', null]) })
  const truth = new Map<number, Row>()
  const sent: ChangeStep[] = []
  const steps: ChangeStep[] = []
  let cursor = 1_000
  let offset = 0
  for (let i = 0; i < count; i++) {
    const r = rnd()
    if (r < 0.05) {
      steps.push({ marker: cursor + int(-10, 30) })
      continue
    }
    cursor += int(0, 5)
    const t = rnd() < 0.2 ? cursor - int(1, 25) : cursor
    let event: Record<string, unknown>
    if (r < 0.13 && sent.length > 0) {
      // A re-delivery of an older change, with its own commit time.
      const old = pick(sent) as Extract<ChangeStep, { event: EventRecord }>
      steps.push({ offset: String(offset++), eventTimeMs: old.eventTimeMs, event: old.event })
      continue
    } else if (r < 0.16) {
      event = { op: pick(['t', 'x', 7]), before: null, after: row(int(1, 6)) }
    } else if (r < 0.19) {
      event = { op: 'c', before: null, after: row(pick([null, 'seven', 1.5])) }
    } else if (r < 0.35) {
      const id = rnd() < 0.8 && truth.size > 0 ? pick([...truth.keys()]) : int(1, 9)
      const cur = truth.get(id)
      const w = rnd()
      // Key-only images: nulls, or the fallbacks Debezium writes for NOT NULL columns ('' and 0),
      // with or without the row's group (a replica identity on an index holding it).
      const keyOnly = (): Row => ({
        id,
        grp: rnd() < 0.5 ? (cur?.grp ?? null) : pick([null, '', TOAST]),
        x: pick([null, 0]),
        s: pick([null, '', TOAST]),
      })
      const before =
        cur === undefined || w < 0.1
          ? { ...row(id) }
          : w < 0.2
            ? { id, grp: null, x: null, s: null }
            : w < 0.35
              ? keyOnly()
              : { ...cur }
      event = { op: 'd', before, after: null }
      truth.delete(id)
    } else {
      const id = int(1, 6)
      const cur = truth.get(id)
      // An unchanged TOASTed column: Debezium's placeholder in the after image (the group one too).
      const toast = rnd()
      const after = toast < 0.1 ? { ...row(id), s: TOAST } : toast < 0.14 ? { ...row(id), grp: TOAST } : row(id)
      if (cur === undefined) event = { op: pick(['c', 'r']), before: null, after }
      else {
        const w = rnd()
        // Key-only update images (a minimal row image): the key, maybe the group, nulls or fallbacks.
        const keyOnly = { id, grp: rnd() < 0.6 ? cur.grp : pick([null, '']), x: pick([null, 0]), s: pick([null, '']) }
        const before = w < 0.1 ? null : w < 0.16 ? { ...cur, x: 99 } : w < 0.2 ? { id, grp: null, x: null, s: null } : w < 0.3 ? keyOnly : { ...cur }
        // A snapshot read of a live key (a re-snapshot) carries no before image; c or r with one does not fit its op.
        const kind = rnd()
        event = kind < 0.85 ? { op: 'u', before, after } : kind < 0.95 ? { op: 'r', before: null, after } : { op: pick(['c', 'r']), before: before ?? { ...after }, after }
      }
      // The database's row: an unlogged column kept its value.
      truth.set(id, {
        ...after,
        grp: after.grp === TOAST ? (cur?.grp ?? null) : after.grp,
        s: after.s === TOAST ? (cur?.s ?? null) : after.s,
      })
    }
    // A connector's unknown commit time: 0, never a 1970 change.
    const time = rnd() < 0.02 ? 0 : t
    event.ts_ms = time
    event.snapshot = null
    const step: ChangeStep = { offset: String(offset++), eventTimeMs: rnd() < 0.02 ? undefined : time, event }
    steps.push(step)
    sent.push(step)
  }
  return steps
}

export interface TaskRun {
  rows: FeatureRow[][]
  dead: TaskDeadLetter[]
}

export function feedTask(task: PartitionTask, steps: readonly ChangeStep[], into: TaskRun = { rows: task.views.map(() => []), dead: [] }): TaskRun {
  for (const step of steps) {
    const out = 'marker' in step ? task.processWatermarkMarker(step.marker) : task.processEvent({ offset: step.offset, eventTimeMs: step.eventTimeMs, event: step.event, ...(step.role ? { role: step.role } : {}), ...(step.heldGroup !== undefined ? { heldGroup: step.heldGroup } : {}) })
    out.rows.forEach((rows, i) => into.rows[i]!.push(...rows))
    into.dead.push(...out.deadLetters)
  }
  return into
}

/** Why `actual` differs from `expected` (values within 1e-9 of the group's Σ|x|), or undefined. */
export function rowsDiffer(actual: readonly FeatureRow[], expected: readonly ExpectedRow[]): string | undefined {
  if (actual.length !== expected.length) return `${actual.length} rows, expected ${expected.length}: ${show(actual)} vs ${show(expected)}`
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!
    const e = expected[i]!
    const why = `row ${i}: ${show([a])} vs ${show([e])}`
    if (a.entityKey !== e.entityKey || a.asOfMs !== e.asOfMs || a.deleted !== e.deleted || a.values.length !== e.values.length) return why
    for (let j = 0; j < a.values.length; j++) {
      const x = a.values[j]
      const y = e.values[j]
      if (typeof x === 'number' && typeof y === 'number') {
        if (Number.isNaN(x) !== Number.isNaN(y) || Math.abs(x - y) > 1e-9 * e.scale) return why
      } else if (x !== y) return why
    }
  }
  return undefined
}

export function deadOf(dead: readonly { offset: string; reason: string; view?: string }[]): string[] {
  return dead.map((d) => `${d.offset}:${d.reason}${d.view === undefined ? '' : `@${d.view}`}`)
}

function show(rows: readonly FeatureRow[]): string {
  return JSON.stringify(rows.map((r) => [r.entityKey, r.asOfMs, r.values, r.deleted ?? false]), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
}
