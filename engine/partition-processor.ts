/**
 * One view over one (topic, partition): decoded records → operator task → feature rows and the
 * view's dead letters. Live consumption, backfill and replay all drive exactly this class, so the
 * rows they produce cannot differ (docs/design.md §4): its only inputs are decoded records in offset
 * order and the archived idle markers. Processing time only stamps `created_at`.
 *
 * Each view has its own task and its own next offset, so a view can be backfilled from the
 * archive and handed over to live consumption on its own, while other views keep running.
 */
import type { EntityDef, EventRecord, FeatureRow, FeatureViewDef, SourceDef } from '../features/types.ts'
import type { ChangeRole, PartitionTask } from '../operators/task/partition-task.ts'
import { eventTimeOf, invalidEventTimeDetail } from '../operators/task/event-fields.ts'
import { invalidUtf8JoinKey, invalidUtf8KeyDetail, type DecodeResult } from '../schemas/decoder.ts'
import type { DeadLetter, DeadLetterReason, RecordOrigin } from '../ports/dead-letters.ts'
import type { SourceRecord } from '../ports/source.ts'
import type { RowKeeper } from './committed-rows.ts'
import { REKEY_HEADERS } from './rekey-stage.ts'
import { isRekeyedSource } from './plan-sources.ts'
import { changeRoute, routingEnvelope, routingFactsOf, SUPERSEDED_KEY } from './rekey-records.ts'
import { unbundle, type PartitionEvent } from './rekey-bundle.ts'
import { nextOffsetValue, offsetValue } from '../core/offsets.ts'

export interface ProcessedRows {
  /**
   * The operators' own row objects (fresh per emission), not stamped copies: the online store
   * needs no `created_at`, and the offline buffer takes it with each row (one object a row fewer).
   */
  readonly rows: FeatureRow[]
  readonly deadLetters: DeadLetter[]
}

export interface PartitionProcessorOptions {
  readonly topic: string
  readonly partition: number
  readonly source: SourceDef
  readonly task: PartitionTask
  /** Next offset expected; records below it were already processed (at-least-once delivery). */
  readonly nextOffset: string
  /**
   * Rows already emitted at `nextOffset` by idle markers archived there (a checkpoint can fall
   * between two markers of one idle period); the next row's index at that offset continues from it.
   */
  readonly rowsAtNextOffset?: number
}

export class PartitionProcessor {
  readonly topic: string
  readonly partition: number
  readonly source: SourceDef
  readonly task: PartitionTask
  #nextOffset: number | bigint
  /**
   * Archive position of the rows (RowOrigin.seq): every row gets a distinct index among the rows
   * emitted at its offset — those of the idle markers archived at that offset first, in marker
   * order, then those of the record — so no two rows of a partition share a position, however
   * many markers an idle period archives at one offset (docs/semantics.md §12).
   */
  #rowIndexOffset: string
  #rowIndex: number

  constructor(options: PartitionProcessorOptions) {
    this.topic = options.topic
    this.partition = options.partition
    this.source = options.source
    this.task = options.task
    this.#nextOffset = offsetValue(options.nextOffset)
    this.#rowIndexOffset = options.nextOffset
    this.#rowIndex = options.rowsAtNextOffset ?? 0
  }

  /** Rows emitted so far at the next offset (by markers): what a checkpoint taken now must keep. */
  get rowsAtNextOffset(): number {
    return this.#rowIndexOffset === this.nextOffset ? this.#rowIndex : 0
  }

  /** Appends `rows` to `target` and, for an offline view, copies each with `createdAtMs` and its archive position into `keep`. */
  #collect(target: FeatureRow[], keep: RowKeeper | undefined, rows: readonly FeatureRow[], offset: string, createdAtMs: number): void {
    if (offset !== this.#rowIndexOffset) {
      this.#rowIndexOffset = offset
      this.#rowIndex = 0
    }
    for (const row of rows) {
      const index = this.#rowIndex++
      target.push(row)
      keep?.push(row, createdAtMs, offset, index)
    }
  }

  get view(): FeatureViewDef {
    return this.task.views[0] as FeatureViewDef
  }

  get nextOffset(): string {
    return this.#nextOffset.toString()
  }

  /** Records before `position` are gone from the log (docs/semantics.md §17): the next one read is at or past it. */
  skipTo(position: string): void {
    const to = offsetValue(position)
    if (to > this.#nextOffset) this.#nextOffset = to
  }

  /**
   * `decoded[i]` is the decode result of `records[i]`; records below the next offset are skipped.
   * The events of a bundle (rekey-bundle.ts) come in one call, one after the other, all at the
   * bundle's offset.
   */
  processRecords(records: readonly PartitionEvent[], decoded: readonly DecodeResult[], createdAtMs: number, keep?: RowKeeper): ProcessedRows {
    const out: ProcessedRows = { rows: [], deadLetters: [] }
    const from = this.#nextOffset
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as PartitionEvent
      const offset = offsetValue(record.offset)
      if (offset < from) continue
      const result = decoded[i] as DecodeResult
      // Undecodable records are dead-lettered once per partition by the caller, not per view.
      if (result.ok) {
        const rawTime = result.event[this.source.eventTimeField]
        const badTime = invalidEventTimeDetail(this.source.eventTimeField, rawTime)
        if (badTime !== undefined) {
          // Like a missing time: the record changes nothing, not even the watermark.
          out.deadLetters.push(deadLetterOf(this, this.source, record, 'invalid_event_time', badTime, this.view.name, this.view.version))
        } else {
          const copy = roleOf(this.topic, this.source, record, this.view.entity, result.event)
          // A bundle's events share its offset; their order key breaks first/last ties (rekey-bundle.ts).
          const offset = record.order ?? record.offset
          const eventTimeMs = eventTimeOf(rawTime)
          const ingestionTimeMs = record.timestampMs
          const event = result.event
          // Literals rather than a spread of `copy` or `{}`: one object per record, not two.
          const output = this.task.processEvent(
            copy === undefined
              ? { offset, eventTimeMs, ingestionTimeMs, event }
              : copy.heldGroup === undefined
                ? { offset, eventTimeMs, ingestionTimeMs, event, role: copy.role }
                : { offset, eventTimeMs, ingestionTimeMs, event, role: copy.role, heldGroup: copy.heldGroup },
          )
          this.#collect(out.rows, keep, output.rows[0] ?? [], record.offset, createdAtMs)
          for (const letter of output.deadLetters) {
            const view = letter.view ?? this.view.name
            out.deadLetters.push(deadLetterOf(this, this.source, record, letter.reason, letter.detail, view, view === this.view.name ? this.view.version : undefined))
          }
        }
      }
      this.#nextOffset = nextOffsetValue(offset)
    }
    return out
  }

  /** An idle-advance marker (live: from the idle detector; replay: from the archive). */
  processMarker(watermarkMs: number, createdAtMs: number, keep?: RowKeeper): FeatureRow[] {
    const rows: FeatureRow[] = []
    const output = this.task.processWatermarkMarker(watermarkMs)
    this.#collect(rows, keep, output.rows[0] ?? [], this.nextOffset, createdAtMs)
    return rows
  }
}


/**
 * The source record a record of a re-key stage's internal topic was forwarded from (its
 * `kfs-source-*` headers). Trusted only on an internal topic — one that is not the source's own
 * topic —, so a producer cannot forge the origin of a record on the source topic.
 */
export function originOf(topic: string, source: SourceDef, record: SourceRecord): RecordOrigin | undefined {
  if (!readsInternalTopic(topic, source)) return undefined
  const originTopic = record.headers[REKEY_HEADERS.topic]
  const partition = Number(record.headers[REKEY_HEADERS.partition])
  const offset = record.headers[REKEY_HEADERS.offset]
  if (originTopic === undefined || offset === undefined || !Number.isSafeInteger(partition) || partition < 0) return undefined
  return { topic: originTopic, partition, offset }
}

/** True when `topic` is an internal re-key topic, whose `kfs-*` headers and bundles only the re-key stage wrote. */
export function readsInternalTopic(topic: string, source: SourceDef): boolean {
  // The engine runs a re-keyed view on the internal topic's own source (rekeyedSource): its topic
  // is the topic read, and it is internal all the same.
  return topic !== source.topic || isRekeyedSource(source)
}

/** What a re-keyed copy of a change carries to its task (TaskEvent `role` and `heldGroup`). */
export interface ChangeCopy {
  readonly role: ChangeRole | 'superseded'
  readonly heldGroup?: string
}

// Shared: most copies carry a role alone, and this runs per record.
const RETRACT: ChangeCopy = Object.freeze({ role: 'retract' })
const ADD: ChangeCopy = Object.freeze({ role: 'add' })
const SUPERSEDED: ChangeCopy = Object.freeze({ role: 'superseded' })

/**
 * The part of a change a re-keyed copy carries (docs/design.md §11): read off the record's own key,
 * which is the group the re-key stage routed it to. The key is archived with the record (headers
 * are not), so replay and verify-parity split a change exactly as live did; the `kfs-change-role`
 * header the stage also writes is for people reading the topic. Only on an internal topic of a
 * change source: elsewhere the whole change applies (undefined).
 */
export function roleOf(topic: string, source: SourceDef, record: SourceRecord, entity: EntityDef, event: EventRecord): ChangeCopy | undefined {
  if (source.changes === undefined || !readsInternalTopic(topic, source) || record.key === null) return undefined
  // As the stage routed it: a before image that names no group is no route (rekey-records.ts routingEnvelope).
  const routed = event.before === null || event.before === undefined ? event : routingEnvelope(routingFactsOf(source, entity, `source ${source.name}`), entity, event)
  return changeCopyOf(entity, routed, KEY_TEXT.decode(record.key))
}

/**
 * `roleOf` on a copy's key (decoded text), read off the change's images as the stage routes them
 * (changeRoute): the stage's key of a superseded change (`SUPERSEDED_KEY`) → `superseded`; a key
 * that is one of the route's groups → `retract` when it is the before image's,
 * `add` when the after image's, undefined (both parts) when one group holds both. A key no image
 * names — or a change whose images name no group — is a group the stage took from its row index
 * (the group of the row's last after image): a retraction of what that group holds for the row.
 */
export function changeCopyOf(entity: EntityDef, event: EventRecord, key: string): ChangeCopy | undefined {
  if (key === SUPERSEDED_KEY) return SUPERSEDED
  const route = changeRoute(entity, event)
  if (route.ok) {
    const copy = route.copies.find((c) => c.key === key)
    if (copy !== undefined) return copy.role === undefined ? undefined : copy.role === 'retract' ? RETRACT : ADD
  }
  return { role: 'retract', heldGroup: key }
}

const KEY_TEXT = new TextDecoder()

/** Where a processor or slot reads: a source topic's partition, or an internal topic's. */
export interface ReadPosition {
  readonly topic: string
  readonly partition: number
}

/**
 * A dead letter of `record`, read at `at`, carrying its origin when it was re-keyed, and the view
 * (with the version) that refused it when one did.
 */
export function deadLetterOf(at: ReadPosition, source: SourceDef, record: SourceRecord, reason: DeadLetterReason, detail: string, view?: string, viewVersion?: number): DeadLetter {
  const { topic, partition } = at
  const origin = originOf(topic, source, record)
  return {
    topic,
    partition,
    offset: record.offset,
    ...(origin ? { origin } : {}),
    key: record.key,
    value: record.value,
    reason,
    detail,
    ...(view !== undefined ? { view } : {}),
    ...(view !== undefined && viewVersion !== undefined ? { viewVersion } : {}),
  }
}

/**
 * The events `records` hold: on an internal re-key topic, bundles unpacked (rekey-bundle.ts) and a
 * bundle that does not read dead-lettered as `undecodable` (once per partition, not per view);
 * elsewhere the records themselves.
 */
export function eventsOf(at: ReadPosition, source: SourceDef, records: readonly SourceRecord[]): { readonly events: readonly PartitionEvent[]; readonly deadLetters: DeadLetter[] } {
  if (!readsInternalTopic(at.topic, source)) return { events: records, deadLetters: [] }
  const { events, malformed } = unbundle(records)
  return { events, deadLetters: malformed.map(({ record, detail }) => deadLetterOf(at, source, record, 'undecodable', detail)) }
}

/**
 * The dead letter of a record that did not decode (one per partition, not per view). Invalid
 * UTF-8 in a top-level field that is a join key of one of `views` (of a changelog source: an
 * image's join-key or primary-key column) is `invalid_key`.
 */
export function decodeFailureLetter(at: ReadPosition, source: SourceDef, views: readonly FeatureViewDef[], record: SourceRecord, result: Extract<DecodeResult, { ok: false }>): DeadLetter {
  const primaryKey = source.changes?.primaryKey
  const keyOf = views.filter((v) => invalidUtf8JoinKey(result, v.entity.joinKeys, primaryKey) !== undefined)
  if (keyOf.length === 0) return deadLetterOf(at, source, record, result.reason, result.detail)
  const only = keyOf.length === 1 ? keyOf[0]! : undefined
  const key = invalidUtf8JoinKey(result, keyOf[0]!.entity.joinKeys, primaryKey)!
  return deadLetterOf(at, source, record, 'invalid_key', invalidUtf8KeyDetail(result, key), only?.name, only?.version)
}
