/**
 * EmbeddedOnlineFollower: the embedded online store read beside its one writer, by another process
 * (`kfs serve` while `kfs run` or a `kfs replay --online` writes the store). The writer
 * (embedded-online-store.ts) owns the directory; a follower takes no lock and never writes,
 * renames, removes or folds anything — not on open (no recovery: a torn tail is simply not read,
 * a leftover journal is left to the writer), not on close (no flush: its rows are the writer's,
 * and a file of them would replace the writer's newer one).
 *
 * It follows the writer by polling (every `pollMs`; each poll is a stat of the file and a read of
 * the journal's new bytes): the rows the writer appended to the journal since the last poll, up to
 * the last sync mark (an append not yet marked is read once it is), in the order they landed; and
 * the whole file again once the writer replaced it (a fold, a flush, a close, or a new writer's
 * recovery). Until the file exists the follower holds nothing and looks for it at every poll.
 *
 * What it sees is what the writer synced: the engine syncs at each checkpoint, so rows reach a
 * follower up to a checkpoint interval after they landed in the writer. Rows picked up tell the
 * change listeners as a write that lands in the store does (a row that only refreshed its expiry
 * does not); a key's rows written between two syncs are announced as the last of them. Expiry and
 * statuses are the writer's (row-table.ts), on this process's clock.
 *
 * A poll that fails (a damaged line, a file that cannot be read) changes nothing held: the
 * follower serves what it has, reports the error through `onError` (once until a poll succeeds
 * again) and tries again at the next poll. Lost acknowledged rows are such a failure, as the
 * writer's open refuses them: a (re)load checks the journal against its recorded acknowledged end
 * (journal-acked-end.ts), and a poll finds a journal gone or shorter than what it read while the
 * file still names it (the writer never cuts a journal, and removes one only after replacing the
 * file). A write of the writer's under way is never taken for damage: an append not yet marked is
 * not read, and damage a reload meets is reported only if the file and the slots read the same
 * again (a journal removed by a replacement, or a slot caught mid-write, is read again).
 */
import type { Clock } from '../../../core/clock.ts'
import { systemClock } from '../../../core/clock.ts'
import { SinkWriteError, SourceError } from '../../../core/errors.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import type { OnlineChangeListener } from '../../../ports/online-semantics.ts'
import type { OnlineRead, OnlineStore, OnlineWriteResult } from '../../../ports/online-store.ts'
import { journalPath, parseJournal, type JournalRow } from './row-journal.ts'
import { ACK_ADVICE, ackedEndOf, ackSlotPaths, checkAckedEnd, readAckSlots } from './journal-acked-end.ts'
import { RowTable, type StoredRow } from './row-table.ts'
import { nodeFollowedFiles, type FollowedFiles } from './store-files.ts'
import { parseLayout, storeReadFailure } from './store-layout.ts'

export const DEFAULT_FOLLOW_POLL_MS = 200

export interface EmbeddedOnlineFollowerOptions {
  /** The writer's store file. */
  readonly path: string
  readonly clock?: Clock
  readonly files?: FollowedFiles
  /** How often the writer's files are looked at; 0 = never by itself (`refresh()` only). */
  readonly pollMs?: number
  /** A poll failed: what it held stays served, and the next poll tries again. */
  readonly onError?: (err: unknown) => void
}

interface FollowedJournal {
  readonly path: string
  bytes: number
  lines: number
  readonly framed: boolean
}

function stored(r: JournalRow): StoredRow {
  return { asOfMs: r.asOfMs, expiresAtMs: r.expiresAtMs, fields: new Map(Object.entries(r.fields)) }
}

export class EmbeddedOnlineFollower implements OnlineStore {
  readonly #path: string
  readonly #clock: Clock
  readonly #files: FollowedFiles
  readonly #table: RowTable
  readonly #pollMs: number
  readonly #onError: (err: unknown) => void
  /** The version of the file the rows came from; undefined while there is none. */
  #fileVersion: string | undefined
  /** The journal continuing that file, what of it was read (up to a sync mark), and whether it has marks. */
  #journal: FollowedJournal | undefined
  #polling: Promise<void> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #lastError: string | undefined

  private constructor(options: EmbeddedOnlineFollowerOptions) {
    this.#path = options.path
    this.#clock = options.clock ?? systemClock
    this.#files = options.files ?? nodeFollowedFiles
    this.#table = new RowTable(this.#clock)
    this.#pollMs = options.pollMs ?? DEFAULT_FOLLOW_POLL_MS
    this.#onError = options.onError ?? (() => {})
  }

  /** Loads the writer's file and journal as they are (a damaged file is refused, as the writer's open refuses it), then follows them. */
  static async follow(options: EmbeddedOnlineFollowerOptions): Promise<EmbeddedOnlineFollower> {
    const follower = new EmbeddedOnlineFollower(options)
    await follower.#reload()
    follower.#schedule()
    return follower
  }

  isReady(): boolean {
    return !this.#closed
  }

  async writeRows(view: FeatureViewDef, _rows: unknown): Promise<OnlineWriteResult> {
    throw new SinkWriteError(
      'SINK_REJECTED',
      `the embedded online store is open read-only here (a follower of its writer): view ${view.name} cannot be written through it`,
      { context: { view: view.name } },
    )
  }

  async readRows(
    lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string; readonly features: readonly string[] }[],
    nowMs: number,
  ): Promise<OnlineRead[]> {
    if (this.#closed) throw new SourceError('SOURCE_UNAVAILABLE', 'embedded online store is closed')
    return this.#table.read(lookups, nowMs)
  }

  /** Same contract as EmbeddedOnlineStore.subscribeChanges; told of the rows each poll picks up. */
  async subscribeChanges(views: readonly FeatureViewDef[], listener: OnlineChangeListener): Promise<() => Promise<void>> {
    return this.#table.subscribe(views, listener)
  }

  /** Picks up what the writer synced since the last look (after any poll already under way); rejects with what failed. */
  refresh(): Promise<void> {
    const next = this.#polling.then(() => this.#poll())
    this.#polling = next.catch(() => undefined)
    return next
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#timer)
    await this.#polling
    this.#table.clearListeners()
  }

  #schedule(): void {
    if (this.#closed || !(this.#pollMs > 0)) return
    this.#timer = setTimeout(() => {
      void this.refresh()
        .then(
          () => (this.#lastError = undefined),
          (err: unknown) => {
            const message = err instanceof Error ? err.message : String(err)
            if (message !== this.#lastError) this.#onError(err)
            this.#lastError = message
          },
        )
        .finally(() => this.#schedule())
    }, this.#pollMs)
    // Following never keeps a process alive by itself.
    this.#timer.unref()
  }

  async #poll(): Promise<void> {
    if (this.#closed) return
    const version = await this.#files.version(this.#path)
    if (version !== this.#fileVersion) return this.#reload()
    const journal = this.#journal
    if (journal === undefined) return
    const read = await this.#files.readFrom(journal.path, journal.bytes)
    if (read === undefined || read.size < journal.bytes) {
      // The writer removes a journal only after a new file replaced the one naming it, and never
      // cuts one: gone or shorter under the same file is damage (what was read stays served).
      if (journal.bytes === 0 || (await this.#files.version(this.#path)) !== this.#fileVersion) return
      throw journalCut(journal, read?.size)
    }
    if (read.text === '') return
    const parsed = parseJournal(journal.path, read.text, journal.framed, journal.lines)
    const nowMs = this.#clock.nowMs()
    for (const r of parsed.rows) this.#table.absorb(r.key, stored(r), nowMs)
    journal.bytes += parsed.bytes
    journal.lines += parsed.lines
  }

  /**
   * The file and its journal (up to its last sync mark) as they are now; held rows that differ are
   * announced. What the writer does meanwhile can look like damage — a journal removed once a new
   * file replaced the one read, a slot caught half rewritten — so damage is reported only when the
   * file and the acknowledged-end slots read the same again after it (else it is read again).
   */
  async #reload(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const seen: Seen = { version: undefined }
      try {
        const state = await this.#readState(seen)
        this.#table.replaceAll(state.rows, this.#clock.nowMs())
        this.#fileVersion = state.version
        this.#journal = state.journal
        return
      } catch (err: unknown) {
        const damage = err instanceof SourceError && err.code === 'DATA_CORRUPT'
        if (!damage || attempt === RELOAD_ATTEMPTS || (await this.#unchanged(seen))) throw err
      }
    }
  }

  async #unchanged(seen: Seen): Promise<boolean> {
    if ((await this.#files.version(this.#path)) !== seen.version) return false
    if (seen.slots === undefined) return true
    const now = await Promise.all(ackSlotPaths(this.#path).map((slot) => this.#readText(slot)))
    return now.every((text, i) => text === seen.slots![i])
  }

  #readText = async (path: string): Promise<string | undefined> => (await this.#files.readFrom(path, 0))?.text

  async #readState(
    seen: Seen,
  ): Promise<{ rows: Map<string, StoredRow>; journal: FollowedJournal | undefined; version: string | undefined }> {
    let file: { readonly text: string; readonly version: string } | undefined
    try {
      file = await this.#files.readVersioned(this.#path)
    } catch (err: unknown) {
      throw storeReadFailure(this.#path, err)
    }
    seen.version = file?.version
    const rows = new Map<string, StoredRow>()
    if (file === undefined) return { rows, journal: undefined, version: undefined }
    const layout = parseLayout(this.#path, file.text)
    for (const r of layout.rows) rows.set(r.key, stored(r))
    if (layout.journal === undefined) return { rows, journal: undefined, version: file.version }
    // Before the journal: the writer records an end only once its bytes are appended, so the journal read next holds it.
    const slots = layout.acked === true ? await readAckSlots(this.#path, this.#readText) : undefined
    seen.slots = slots?.map((s) => s.text)
    const acked = slots === undefined ? undefined : ackedEndOf(this.#path, slots, layout.journal)
    const path = journalPath(this.#path, layout.journal)
    const framed = layout.framed === true
    let text: string | undefined
    try {
      text = await this.#readText(path)
    } catch (err: unknown) {
      throw new SourceError('SOURCE_UNAVAILABLE', `cannot read online store journal ${path}`, { cause: err })
    }
    if (text === undefined) checkAckedEnd(path, undefined, acked)
    const read = parseJournal(path, text ?? '', framed, 0, text === undefined ? undefined : acked)
    for (const r of read.rows) rows.set(r.key, stored(r))
    return { rows, journal: { path, bytes: read.bytes, lines: read.lines, framed }, version: file.version }
  }
}

/** What a reload read that the writer changes as it goes: the file's version and the slots' texts. */
interface Seen {
  version: string | undefined
  slots?: (string | undefined)[]
}

/** Reads of a reload before damage it meets is reported even though the writer changed something meanwhile. */
const RELOAD_ATTEMPTS = 5

function journalCut(journal: FollowedJournal, size: number | undefined): SourceError {
  const now = size === undefined ? 'missing' : `cut to ${size} bytes`
  return new SourceError(
    'DATA_CORRUPT',
    `online store journal ${journal.path} is damaged (${now} while the store file still names it; ${journal.bytes} bytes of it were read): ${ACK_ADVICE}`,
    { context: { path: journal.path } },
  )
}
