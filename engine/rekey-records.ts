/**
 * What the re-key stage does with one source record (pure): forward it to the internal topic keyed
 * by the entity, or refuse it as a dead letter — and the event time the stage's merge orders it by.
 *
 * Forwarded: the ORIGINAL bytes (views decode them exactly as from the source, the internal topic's
 * archive replays them), the original headers plus the record's origin, keyed by the canonical
 * entity key (core/entity-key.ts), stamped anew by the log (rekey docs, docs/semantics.md §16). Refused: undecodable records, raw events without a valid join key, and
 * events dated beyond `maxFutureSkewMs` after their own timestamp (operators/task/event-time-rule.ts)
 * — the views would refuse those too, and in the merge one such record would hold its partition
 * back until its (far future) time came. The stage applies no view's filter or map.
 *
 * A change source (docs/design.md §11) is re-keyed for current-state views, grouped by the view's
 * entity: a row that moves from one group to another must leave the first and join the second, so
 * the change goes as a `retract` copy to the group of its before image and an `add` copy to the
 * group of its after image (header `kfs-change-role`), both with the original bytes; one copy
 * without a role when both groups are the same or only one image names a group — the view then
 * reads the whole change. A before image names a group only when it holds every join key:
 * Postgres's default replica identity sends an update without one and a delete with only the
 * primary key. Such a change's retraction goes to the group the stage's row index holds for the
 * row (rekey-row-index.ts, `resolveByIndex`, in merge order as the transaction is built). A change whose envelope the views cannot read (an unknown op, images that do not fit
 * it, a bad primary key: operators/changes/change.ts) is refused here, once: split into two copies,
 * each group's view would write a dead letter of its own for the one record.
 */
import { entityKeyOf, eventTimeOf, invalidEventTimeDetail, type KeyResult } from '../operators/task/event-fields.ts'
import { isBeyondFutureSkew } from '../operators/task/event-time-rule.ts'
import { invalidUtf8JoinKey, invalidUtf8KeyDetail, type DecodeResult } from '../schemas/decoder.ts'
import type { DeadLetter } from '../ports/dead-letters.ts'
import type { LogRecord, ProduceRecord } from '../ports/event-log.ts'
import type { EntityDef, EventRecord, SourceDef } from '../features/types.ts'
import type { ChangeRole } from '../operators/task/partition-task.ts'
import type { RekeyPlan } from './plan-sources.ts'
import { changeOf, type Change } from '../operators/changes/change.ts'
import {
  fillUnavailable,
  isKeyOnly,
  keyOnlyGroup,
  unavailableDetail,
  unavailableValueOf,
  type Placeholder,
} from '../operators/changes/partial-images.ts'
import { UNKNOWN_COMMIT_TIME } from '../features/change-envelope.ts'
import { isoTextOrMs } from '../core/iso-time.ts'
import { primaryKeyEntityFor } from '../operators/changes/row-images.ts'
import { RowGroupIndex, type IndexedChange } from './rekey-row-index.ts'

/** Headers every internal-topic record carries: where it came from. */
export const REKEY_HEADERS = {
  topic: 'kfs-source-topic',
  partition: 'kfs-source-partition',
  offset: 'kfs-source-offset',
  /**
   * On a change source re-keyed for a current-state view: which part of the change this copy
   * carries to its group, `retract` or `add` (operators/task/partition-task.ts ChangeRole), or `superseded` (SUPERSEDED_KEY); absent
   * when one copy carries both (docs/design.md §11).
   */
  role: 'kfs-change-role',
} as const

/**
 * The key of a change older than its row's last one (`resolveByIndex`): no group's, as no entity key
 * holds a control character (core/entity-key.ts). Its one copy goes where this key hashes, and
 * the views read it as superseded (engine/partition-processor.ts, changeCopyOf): judged for its
 * time, it changes no group. Read off the key, as a role is, because the archive keeps keys.
 */
export const SUPERSEDED_KEY = '\u0000superseded'

/** Forwarded: one copy, or a change's two (retract, add); `timeMs` orders them all in the merge. */
export type RekeyOutcome =
  | {
      readonly forwards: readonly ProduceRecord[]
      readonly deadLetter?: undefined
      readonly timeMs: number | undefined
      /** A change's effect on the stage's row index, and whether its copies wait on it (`resolveByIndex`). */
      readonly indexed?: IndexedCopy
    }
  | { readonly forwards?: undefined; readonly deadLetter: DeadLetter; readonly timeMs: undefined; readonly indexed?: undefined }

/** An indexed change and, when its retraction goes by the index, the record its copies are made of. */
export interface IndexedCopy extends IndexedChange {
  readonly record: LogRecord
}

export function rekeyRecord(plan: RekeyPlan, record: LogRecord, decoded: DecodeResult): RekeyOutcome {
  const maxFutureSkewMs = plan.source.maxFutureSkewMs
  if (!decoded.ok) {
    const badKey = invalidUtf8JoinKey(decoded, plan.entity.joinKeys, plan.source.changes?.primaryKey)
    return badKey === undefined
      ? refused(plan, record, decoded.reason, decoded.detail)
      : refused(plan, record, 'invalid_key', invalidUtf8KeyDetail(decoded, badKey))
  }
  let routed = decoded.event
  let indexed: IndexedCopy | undefined
  if (plan.source.changes) {
    const { primaryKey, known } = routingFactsOf(plan.source, plan.entity, `re-key stage ${plan.topic}`)
    const change = changeOf(decoded.event, primaryKey)
    if (!change.ok) return refused(plan, record, change.reason, change.detail)
    const c = change.change
    const byIndex = namesNoGroup(known, plan.entity, c)
    if (!(byIndex && c.kind === 'delete')) {
      const partial = partialImageRoute(known, plan.entity, c, decoded.event)
      if (partial !== undefined && 'reason' in partial) return refused(plan, record, partial.reason, partial.detail)
      if (partial !== undefined) routed = partial.event
      if (byIndex && routed.before !== null) routed = withoutBefore(routed)
    }
    const after = c.kind === 'upsert' ? entityKeyOf(plan.entity, imageOf(routed.after) ?? {}) : undefined
    const before = byIndex || routed.before === null ? undefined : entityKeyOf(plan.entity, imageOf(routed.before) ?? {})
    indexed = { pk: c.key, kind: c.kind, to: after?.ok ? after.key : undefined, byIndex, record, ...(before?.ok ? { from: before.key } : {}) }
  }
  // A delete whose retraction goes by the index has no route of its own: `resolveByIndex` makes its copy.
  const route = indexed?.byIndex && indexed.kind === 'delete' ? ({ ok: true, copies: [] } as const) : plan.source.changes ? changeRoute(plan.entity, routed) : entityKeyOf(plan.entity, routed)
  if (!route.ok) return refused(plan, record, route.reason, route.detail)
  const rawTime = decoded.event[plan.source.eventTimeField]
  // A time every view would refuse (outside years 1–9999, a fraction) is refused here, once.
  const badTime = invalidEventTimeDetail(plan.source.eventTimeField, rawTime)
  if (badTime !== undefined) return refused(plan, record, 'invalid_event_time', badTime)
  const timeMs = eventTimeOf(rawTime)
  // Refused here, once, as the views would refuse each copy (operators/task/partition-task.ts).
  if (timeMs === 0 && plan.source.changes?.kind === 'changelog')
    return refused(plan, record, 'missing_event_time', UNKNOWN_COMMIT_TIME)
  if (timeMs !== undefined && isBeyondFutureSkew(timeMs, record.timestampMs, maxFutureSkewMs)) {
    return refused(
      plan,
      record,
      'future_event_time',
      `event time ${isoTextOrMs(timeMs)} is more than ${maxFutureSkewMs} ms after the record's timestamp ${record.timestampMs}`,
    )
  }
  // The internal record gets its own (current) timestamp, not the source record's: a backlog of
  // records stamped long ago would otherwise fall to the internal topic's time retention before
  // the views read it. Views judge the future rule against that later time, so a record the stage
  // let through is never refused there; replay reads the same archived timestamp.
  if (!('copies' in route))
    return { forwards: [{ key: route.key, value: record.value, headers: withOrigin(record.headers, record) }], timeMs }
  const forwards = route.copies.map(({ key, role }) => copyOf(record, key, role))
  return indexed === undefined ? { forwards, timeMs } : { forwards, timeMs, indexed }
}

/** A forwarded copy of a change record; the role header is the stage's to set (one a producer put on the source record is dropped). */
function copyOf(record: LogRecord, key: string, role: ChangeRole | 'superseded' | undefined): ProduceRecord {
  const { [REKEY_HEADERS.role]: _forged, ...headers } = record.headers
  return {
    key,
    value: record.value,
    headers: role !== undefined ? { ...withOrigin(headers, record), [REKEY_HEADERS.role]: role } : withOrigin(headers, record),
  }
}

/**
 * The envelope a change source's copy is routed by (here, and where views read a copy's role:
 * engine/partition-processor.ts): a before image that names no group (key-only, its join keys
 * nulls or fallbacks) is routed as none — the row's group is the row index's, never one a
 * fallback value names.
 */
export function routingEnvelope({ primaryKey, known }: RoutingFacts, entity: EntityDef, envelope: EventRecord): EventRecord {
  if (envelope.before === null || envelope.before === undefined) return envelope
  const change = changeOf(envelope, primaryKey)
  return change.ok && change.change.before !== null && namesNoGroup(known, entity, change.change) ? withoutBefore(envelope) : envelope
}

const withoutBefore = (envelope: EventRecord): EventRecord => ({ ...envelope, before: null })

/** True when a change's before image names no group: an update without one, or a key-only image whose join keys say nothing. */
function namesNoGroup(known: PartialImages, entity: EntityDef, change: Change): boolean {
  if (change.before === null) return change.kind === 'upsert'
  return isKeyOnly(change.before, known.identity, known.placeholder) && !keyOnlyGroup(entity, change.before, known.placeholder).ok
}

/**
 * A change's copies once the row index is consulted, in the stage's merge order, and the index
 * moved by it (rekey-row-index.ts). A change older than the row's last forwarded change (its commit
 * time before the row's version) is superseded: one copy keyed `SUPERSEDED_KEY`, which no group
 * applies, and the index left as it was — the groups keep a row's version only where the row is
 * (not where the filter kept it out, nor after a delete), so its copies would join the row to a
 * group it left or never was in, or bring a deleted row back. A before image naming another group
 * than the index holds for a live row is `before_mismatch`, once (the views would retract nothing
 * and add the row again). A retraction that goes by the index goes to the group the
 * index holds for the row: an update adds a `retract` copy keyed by that group when the row
 * leaves it (the views read the role off the key: engine/partition-processor.ts); a delete goes
 * there alone, or is `unknown_retraction` when the index holds no such row (never seen, or
 * already deleted).
 */
export function resolveByIndex(plan: RekeyPlan, outcome: RekeyOutcome, index: RowGroupIndex): RekeyOutcome {
  const indexed = outcome.indexed
  if (indexed === undefined) return outcome
  const version = index.versionOf(indexed.pk)
  if (version !== undefined && outcome.timeMs !== undefined && outcome.timeMs < version)
    return { forwards: [copyOf(indexed.record, SUPERSEDED_KEY, 'superseded')], timeMs: outcome.timeMs }
  const held = index.groupOf(indexed.pk)
  if (indexed.from !== undefined && held !== undefined && indexed.from !== held) {
    // The row's last change put it in another group: retracting from the image's would leave the
    // row counted where it is while the after image adds it again. Refused whole, once, as an
    // attribute view refuses a before image that disagrees with the row.
    const detail = `before image of row ${indexed.pk} names group ${indexed.from}, but the row's last change put it in group ${held}`
    return refused(plan, indexed.record, 'before_mismatch', detail)
  }
  let resolved: RekeyOutcome = outcome
  if (indexed.byIndex) {
    const { record, pk } = indexed
    if (indexed.kind === 'delete') {
      resolved =
        held === undefined
          ? refused(
              plan,
              record,
              'unknown_retraction',
              `delete of row ${pk} has a key-only before image, which names no group, and the stage holds no row ${pk} (never seen, or already deleted)`,
            )
          : { forwards: [copyOf(record, held, 'retract')], timeMs: outcome.timeMs }
    } else if (held !== undefined && indexed.to !== undefined && held !== indexed.to) {
      resolved = { forwards: [copyOf(record, held, 'retract'), copyOf(record, indexed.to, 'add')], timeMs: outcome.timeMs }
    }
  }
  if (resolved.forwards) index.apply(indexed, outcome.timeMs)
  return resolved
}

/**
 * The source's headers in their order, then the origin's (the order the bundle writes them in);
 * most records carry no header, and their object is then built without a spread (once per record).
 */
function withOrigin(headers: Readonly<Record<string, string>>, record: LogRecord): Record<string, string> {
  const partition = PARTITION_TEXT[record.partition] ?? String(record.partition)
  let any = false
  for (const _ in headers) {
    any = true
    break
  }
  if (!any)
    return { [REKEY_HEADERS.topic]: record.topic, [REKEY_HEADERS.partition]: partition, [REKEY_HEADERS.offset]: record.offset }
  return {
    ...headers,
    [REKEY_HEADERS.topic]: record.topic,
    [REKEY_HEADERS.partition]: partition,
    [REKEY_HEADERS.offset]: record.offset,
  }
}

const PARTITION_TEXT = Array.from({ length: 256 }, (_, p) => String(p))

/** What routing a change source's copies by `entity` takes: the entity its primary key is read with (current-state-runner.ts) and its partial images' facts. */
export interface RoutingFacts {
  readonly primaryKey: EntityDef
  readonly known: PartialImages
}

const routingFacts = new WeakMap<SourceDef, Map<EntityDef, RoutingFacts>>()

/** RoutingFacts of `source` grouped by `entity`, made once (the stage per record, the views per re-keyed copy); `where` names the reader in a definition error. */
export function routingFactsOf(source: SourceDef, entity: EntityDef, where: string): RoutingFacts {
  let byEntity = routingFacts.get(source)
  if (byEntity === undefined) routingFacts.set(source, (byEntity = new Map()))
  let facts = byEntity.get(entity)
  if (facts === undefined) {
    const primaryKey = primaryKeyEntityFor(source, entity, where)
    byEntity.set(entity, (facts = { primaryKey, known: partialImagesOf(source, entity, primaryKey) }))
  }
  return facts
}

/** What reading a change source's partial images takes: the identity columns and the placeholder. */
export interface PartialImages {
  /** The primary key and the group's join keys: what a key-only before image holds. */
  readonly identity: ReadonlySet<string>
  readonly placeholder: Placeholder | undefined
}

export function partialImagesOf(source: SourceDef, entity: EntityDef, primaryKey: EntityDef): PartialImages {
  return { identity: new Set([...primaryKey.joinKeys, ...entity.joinKeys]), placeholder: unavailableValueOf(source) }
}

/**
 * What the views would make of a partial image (operators/changes/partial-images.ts), decided here
 * once: an after image's unavailable columns are read from the before image (so the change goes to
 * its real group), or the change is refused; a key-only delete that names no group is refused with
 * the reason. Undefined: route the envelope as it is.
 */
export function partialImageRoute(
  known: PartialImages,
  entity: EntityDef,
  change: Change,
  envelope: EventRecord,
): { readonly event: EventRecord } | { readonly reason: DeadLetter['reason']; readonly detail: string } | undefined {
  if (change.kind === 'delete') {
    if (!isKeyOnly(change.before, known.identity, known.placeholder)) return undefined
    const group = keyOnlyGroup(entity, change.before, known.placeholder)
    if (group.ok) return undefined
    return {
      reason: group.reason,
      detail: `delete of row ${change.key} has a key-only before image (nothing outside its primary key and group columns but nulls or a CDC tool's fallbacks), which does not name the row's group (${group.detail}): re-keying needs full before images (e.g. Postgres REPLICA IDENTITY FULL)`,
    }
  }
  const filled = fillUnavailable(change.after, [change.before], known.placeholder)
  if (!filled.ok) return { reason: 'unavailable_value', detail: unavailableDetail(change.key, filled.column, 'the before image') }
  return filled.row === change.after ? undefined : { event: { ...envelope, after: filled.row } }
}

/** The dead letter of a record the stage refuses (a top-level function: this runs per record). */
function refused(plan: RekeyPlan, record: LogRecord, reason: DeadLetter['reason'], detail: string): RekeyOutcome {
  return {
    deadLetter: {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      value: record.value,
      reason,
      detail: `re-key by ${plan.entity.name}: ${detail}`,
      ...(plan.views.length === 1 ? { view: plan.views[0]!.name } : {}),
    },
    timeMs: undefined,
  }
}

export type ChangeRoute =
  | { readonly ok: true; readonly copies: readonly { readonly key: string; readonly role?: ChangeRole }[] }
  | { readonly ok: false; readonly reason: DeadLetter['reason']; readonly detail: string }

/** Where a change goes, read from its row images: see the file comment. */
export function changeRoute(entity: EntityDef, envelope: EventRecord): ChangeRoute {
  const before = imageOf(envelope.before)
  const after = imageOf(envelope.after)
  const lacking = before === undefined ? [] : entity.joinKeys.filter((k) => before[k] === undefined || before[k] === null)
  const retract: KeyResult | undefined = before !== undefined && lacking.length === 0 ? entityKeyOf(entity, before) : undefined
  const add: KeyResult | undefined = after !== undefined ? entityKeyOf(entity, after) : undefined
  const from = retract?.ok ? retract.key : undefined
  const to = add?.ok ? add.key : undefined
  if (from !== undefined && to !== undefined && from !== to) {
    return { ok: true, copies: [{ key: from, role: 'retract' }, { key: to, role: 'add' }] }
  }
  const key = to ?? from
  if (key !== undefined) return { ok: true, copies: [{ key }] }
  if (add !== undefined && !add.ok) return { ok: false, reason: add.reason, detail: `after image: ${add.detail}` }
  if (retract !== undefined && !retract.ok) return { ok: false, reason: retract.reason, detail: `before image: ${retract.detail}` }
  const op = typeof envelope.op === 'string' ? `'${envelope.op.slice(0, 20)}'` : typeof envelope.op
  if (before !== undefined) {
    return {
      ok: false,
      reason: 'missing_key',
      detail: `op ${op}: the before image lacks join key ${lacking.join(', ')} and there is no after image; re-keying needs full before images (e.g. Postgres REPLICA IDENTITY FULL)`,
    }
  }
  return { ok: false, reason: 'unknown_op', detail: `op ${op} carries neither a before nor an after image` }
}

function imageOf(value: unknown): EventRecord | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as EventRecord) : undefined
}

export interface RekeyedBatch {
  /** For the internal topic, in source offset order. */
  readonly records: ProduceRecord[]
  readonly deadLetters: DeadLetter[]
}

/** `rekeyRecord` over a batch and its decode results, in order, the row index consulted and moved as the stage does. */
export function rekeyRecords(plan: RekeyPlan, records: readonly LogRecord[], decoded: readonly DecodeResult[], index = new RowGroupIndex()): RekeyedBatch {
  const out: RekeyedBatch = { records: [], deadLetters: [] }
  records.forEach((record, i) => {
    const outcome = resolveByIndex(plan, rekeyRecord(plan, record, decoded[i] as DecodeResult), index)
    if (outcome.forwards) out.records.push(...outcome.forwards)
    else out.deadLetters.push(outcome.deadLetter)
  })
  return out
}
