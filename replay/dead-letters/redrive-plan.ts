/**
 * Which dead letters may be re-driven, where to, and why not (pure; README "Operations").
 *
 * Re-driving publishes a copy of a refused record to a topic, where EVERY view reading that topic
 * consumes it. The copy goes where the refusing views read the record: a re-key stage's internal
 * topic when only views re-keyed through it refused it (then no other view sees the copy), the
 * source topic otherwise (then the views reading it directly and the re-key stages fed by it all
 * see the copy). So a record may go back only if no view would count it twice:
 *
 * - every view reading that topic (directly, or through a re-key stage) must have refused it —
 *   one letter per refusing view, or one letter for all of them (a record that did not decode, a
 *   re-key stage's refusal) — and
 * - no refusing view's current version may have read the record in a backfill (the registry's
 *   backfill status says through which archive offsets it is complete): a version published after
 *   the refusal re-read the record from the archive and may have accepted it there. A version
 *   whose backfill has not completed will read it, so it holds the record back too. A letter that
 *   names the current version as the refuser (`kfs-view-version`: live's, or its backfill's own)
 *   says that version did not accept it, so neither holds it back.
 *
 * A record already re-driven (a marker, ./redrive.ts) is never re-driven again. A refusal is matched
 * to the module's version of the view by name; a letter's version (none on letters older kfs wrote)
 * only tells whether that version itself refused the record.
 */
import type { FeatureViewDef } from '../../features/types.ts'
import { consumedView, isKeyedForView } from '../../engine/plan-sources.ts'
import type { BackfillStatus } from '../../registry/index.ts'
import { matchesFilter, positionId, type DeadLetterEntry, type DeadLetterFilter, type RecordPosition } from './dead-letter-entry.ts'

export interface ViewState {
  /** As the features module declares it (the version `kfs run` runs). */
  readonly view: FeatureViewDef
  /** The registry's backfill status of that version; undefined when it never started. */
  readonly backfill: BackfillStatus | undefined
}

export type LetterStatus =
  | { readonly kind: 'redrivable' }
  /** The record was re-driven before (by this or another letter of the same record). */
  | { readonly kind: 'redriven' }
  | { readonly kind: 'held'; readonly why: string }

export interface AssessedLetter {
  readonly entry: DeadLetterEntry
  /** The views that refused this letter's record, by this letter. */
  readonly refusers: readonly string[]
  /** Shared by every letter of the same record. */
  readonly status: LetterStatus
  /** Where a copy of the record goes (the same for every letter of the record). */
  readonly redriveTo: RecordPosition
}

/** One record to re-drive: the letter whose key and value are copied, and where the copy goes. */
export interface RedriveTarget {
  /** `positionId` of the source record: the marker's key, so the record goes back once. */
  readonly id: string
  readonly letter: DeadLetterEntry
  readonly to: RecordPosition
}

const REKEY_DETAIL = /^re-key by ([^:]+):/

/** Internal topics of re-key stages the views read. */
function internalTopics(views: readonly FeatureViewDef[]): Set<string> {
  return new Set(views.filter((v) => !isKeyedForView(v)).map((v) => consumedView(v).source.topic))
}

/** Every view that sees a record of `topic`: reading it directly, or through a re-key stage it feeds. */
export function readersOf(topic: string, views: readonly FeatureViewDef[]): string[] {
  return views.filter((v) => consumedView(v).source.topic === topic || v.source.topic === topic).map((v) => v.name)
}

/**
 * The views a letter says refused its record: its `kfs-view`; else, for a re-key stage's refusal
 * (`re-key by <entity>: …`), every view re-keyed by that entity from that topic; else (a record that
 * did not decode) every view consuming the topic it was read from.
 */
export function refusersOf(entry: DeadLetterEntry, views: readonly FeatureViewDef[]): string[] {
  if (entry.view !== undefined) return [entry.view]
  const rekeyedBy = REKEY_DETAIL.exec(entry.detail)?.[1]
  if (rekeyedBy !== undefined) {
    return views.filter((v) => v.source.topic === entry.read.topic && !isKeyedForView(v) && v.entity.name === rekeyedBy).map((v) => v.name)
  }
  return views.filter((v) => consumedView(v).source.topic === entry.read.topic).map((v) => v.name)
}

/** Where the view's current version's backfill is complete through, past the letter's read position. */
function backfilledPast(state: ViewState, entry: DeadLetterEntry): string | undefined {
  if (consumedView(state.view).source.topic !== entry.read.topic) return undefined // never reached the view's topic
  const through = state.backfill?.completeThrough.find((p) => p.topic === entry.read.topic && p.partition === entry.read.partition)
  return through !== undefined && BigInt(through.offset) > BigInt(entry.read.offset) ? through.offset : undefined
}

interface Letter {
  readonly entry: DeadLetterEntry
  readonly refusers: readonly string[]
}

/**
 * Where a record's copy goes: the internal topic when every letter of it was read there (only the
 * views re-keyed through it refused it), else the source record's own position.
 */
function destination(letters: readonly Letter[], internal: ReadonlySet<string>): RecordPosition {
  const first = letters[0]!.entry
  return letters.every((l) => internal.has(l.entry.read.topic) && positionId(l.entry.read) === positionId(first.read)) ? first.read : first.target
}

export function assessLetters(entries: readonly DeadLetterEntry[], states: readonly ViewState[], redriven: ReadonlySet<string>): AssessedLetter[] {
  const views = states.map((s) => s.view)
  const stateOf = new Map(states.map((s) => [s.view.name, s]))
  const internal = internalTopics(views)
  const byRecord = new Map<string, Letter[]>()
  for (const entry of entries) {
    const id = positionId(entry.target)
    byRecord.set(id, [...(byRecord.get(id) ?? []), { entry, refusers: refusersOf(entry, views) }])
  }
  const decided = new Map<string, { status: LetterStatus; to: RecordPosition }>()
  for (const [id, letters] of byRecord) {
    const to = destination(letters, internal)
    const status: LetterStatus = redriven.has(id) ? { kind: 'redriven' } : holdReason(to.topic, readersOf(to.topic, views), letters, stateOf)
    decided.set(id, { status, to })
  }
  return entries.map((entry) => {
    const { status, to } = decided.get(positionId(entry.target))!
    return { entry, refusers: byRecord.get(positionId(entry.target))!.find((l) => l.entry === entry)!.refusers, status, redriveTo: to }
  })
}

function holdReason(topic: string, readers: readonly string[], letters: readonly Letter[], stateOf: ReadonlyMap<string, ViewState>): LetterStatus {
  if (readers.length === 0) return { kind: 'held', why: `no view of the features module reads ${topic}` }
  const refused = new Set(letters.flatMap((l) => l.refusers))
  const accepted = readers.filter((v) => !refused.has(v))
  if (accepted.length > 0) {
    return { kind: 'held', why: `${accepted.join(', ')} did not refuse it: re-driving would apply it there twice` }
  }
  for (const { entry, refusers } of letters) {
    for (const name of refusers) {
      const state = stateOf.get(name)
      if (state === undefined) continue // a view the module no longer has reads nothing now
      // Its current version refused the record itself (live, or in its backfill: a backfill's own
      // letters): it never applied it, and reads the copy once — live, or in a backfill that
      // reads it from the archive, where the original is refused again (the reasons a view names
      // depend on the record, the view and the partition's watermark only).
      if (refusedByVersion(letters, state.view)) continue
      const label = `${name} v${state.view.version}`
      if (state.backfill?.state !== 'complete') {
        return { kind: 'held', why: `${label} has not completed its backfill, which will read the record from the archive` }
      }
      const through = backfilledPast(state, entry)
      if (through !== undefined) {
        return { kind: 'held', why: `${label} read the record in its backfill (complete through offset ${through}): re-driving could apply it twice` }
      }
    }
  }
  return { kind: 'redrivable' }
}

/** Whether a letter of the record names `view` at its version as the one that refused it. */
function refusedByVersion(letters: readonly Letter[], view: FeatureViewDef): boolean {
  return letters.some((l) => l.entry.view === view.name && l.entry.viewVersion === view.version)
}

/** The letters `filter` selects. */
export function selectLetters(assessed: readonly AssessedLetter[], filter: DeadLetterFilter): AssessedLetter[] {
  return assessed.filter((a) => matchesFilter(a.entry, a.refusers, filter))
}

/**
 * One target per re-drivable record among `selected`, in dead-letter order. Its letter is the one
 * read where the copy goes when there is one, as that one carries the key of that topic.
 */
export function redriveTargets(selected: readonly AssessedLetter[]): RedriveTarget[] {
  const chosen = new Map<string, RedriveTarget>()
  for (const a of selected) {
    if (a.status.kind !== 'redrivable') continue
    const id = positionId(a.entry.target)
    const current = chosen.get(id)
    const readThere = positionId(a.entry.read) === positionId(a.redriveTo)
    if (current === undefined || (readThere && positionId(current.letter.read) !== positionId(a.redriveTo))) chosen.set(id, { id, letter: a.entry, to: a.redriveTo })
  }
  return [...chosen.values()]
}
