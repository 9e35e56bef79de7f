/**
 * EmbeddedOnlineStore: the online store inside the process, with the Redis store's semantics
 * (online-semantics.ts): conditional write on `as_of` (≥ stored lands; an identical rewrite is a
 * no-op), per-call coalescing, expiry `view.ttlMs` after the last landing write or the row's
 * `as_of`, whichever is later (measured on the injected clock), statuses PRESENT / MISSING / OUTSIDE_TTL, change notifications for landed rows.
 *
 * One writer: with a `path`, the store owns its directory until closed (a LOCK, through
 * `StoreFiles.lock`): a second writer is refused, since two would each replace the file with
 * their own rows and remove the other's journal as a leftover. Readers in other processes follow
 * it without writing (embedded-online-follower.ts).
 *
 * Persistence (optional `path`): `flush()` and `close()` write every live row to one JSON file
 * (temp file + rename, so a crash leaves the old or the new file, never half of one); `open()`
 * loads it. Values use the Redis field encoding, so floats survive bit for bit. Between two
 * flushes, `sync()` appends the rows changed since the last one to the file's journal
 * (row-journal.ts) and fsyncs it: the engine syncs before it publishes a checkpoint, so a crash
 * loses no write a checkpoint counted as landed (the restarted engine never writes those rows
 * again). A journal grown past the file's size (and 4 MiB) is folded into a new file.
 *
 * Durable steps, in this order (a crash may stop at any of them; store-files.ts says what survives):
 * - a new file: write the temp file and datasync it, rename it over the file, fsync the directory
 *   (now the file and the journal it names are the store), then remove the old journal;
 * - a sync: append the rows and a sync mark to the journal and datasync it, and fsync the directory when the journal
 *   was created by this append (once per journal) or a name is not known to be durable yet; then
 *   record the journal's new end as acknowledged (journal-acked-end.ts: one slot file replaced and
 *   datasynced) — only then does the sync return;
 * - once per store (its first file, or the first after a kfs that did not record ends): both
 *   acknowledged-end slots written and fsynced into the directory before the file relying on them.
 * Recovery (`open`): load the file and the journal it names up to its last sync mark — refusing
 * (DATA_CORRUPT) a journal that does not hold its recorded acknowledged end; a torn tail
 * (an append that never returned) is cut and the store folded into a new file, so no later append
 * lands behind the torn bytes; every other journal and temp file of the store is older than the file (row-journal.ts) and
 * removed once the directory is fsynced — so after `open` the store's directory holds the file and
 * its journal, whatever step a crash stopped at.
 */
import { basename, dirname, join } from 'node:path'
import { appendJournal, journalPath, journalPrefix, newJournalName, readJournal, type JournalRow } from './row-journal.ts'
import { nodeStoreFiles, type StoreFiles } from './store-files.ts'
import { ackedEndOf, ackSlotPaths, crcOf, encodeAck, nextAckSlot, readAckSlots } from './journal-acked-end.ts'
import { parseLayout, storeReadFailure, type FileLayout } from './store-layout.ts'
import type { Clock } from '../../../core/clock.ts'
import { systemClock } from '../../../core/clock.ts'
import { SinkWriteError, SourceError } from '../../../core/errors.ts'
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import type { OnlineRead, OnlineStore, OnlineWriteResult } from '../../../ports/online-store.ts'
import { encodeValue } from '../redis/value-codec.ts'
import { DELETED_FIELD } from '../redis/row-layout.ts'
import { coalesceRows, entityKeyRefusal, type OnlineChangeListener } from '../../../ports/online-semantics.ts'
import { RowTable, sameFields, viewKey, type StoredRow } from './row-table.ts'

/** A journal is folded into a new file once it is larger than the file and this. */
const MIN_FOLD_BYTES = 4 * 1024 * 1024

export interface EmbeddedOnlineStoreOptions {
  readonly clock?: Clock
  /** File the rows are persisted to on flush/close and loaded from by `open()`. */
  readonly path?: string
  /** The file system (test seam: a model disk that crashes at a chosen step). */
  readonly files?: StoreFiles
}

export class EmbeddedOnlineStore implements OnlineStore {
  readonly #clock: Clock
  readonly #path: string | undefined
  readonly #files: StoreFiles
  readonly #table: RowTable
  readonly #rows: Map<string, StoredRow>
  #closed = false
  /** Gives up the directory (the writer's LOCK) once closed; undefined without a file. */
  #unlock: (() => void) | undefined
  /** Keys whose row landed or was refreshed since the last sync or flush took them. */
  readonly #dirty = new Set<string>()
  /** The journal continuing the file (undefined until the file is first written or loaded with one). */
  #journal: string | undefined
  #journalBytes = 0
  /** CRC-32 of the journal's bytes: with its length, the acknowledged end each sync records. */
  #journalCrc = 0
  #fileBytes = 0
  /** Both acknowledged-end slots exist durably (journal-acked-end.ts): a file may rely on them. */
  #ackReady = false
  /** The slot the next sync's record goes to (never the one holding the newest record). */
  #ackNext: 0 | 1 = 0
  /** A name the store relies on (the file after a rename, a journal just created) may not be durable yet: the next sync fsyncs the directory. */
  #namesPending = false
  /**
   * The next sync writes a new file rather than append: an append failed part-way (bytes of it may
   * sit at the journal's end), or the journal was written before sync marks.
   */
  #foldNext = false
  /** Syncs and flushes, one after the other: a journal append never races the file's replacement. */
  #persisting: Promise<void> = Promise.resolve()

  constructor(options: EmbeddedOnlineStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock
    this.#path = options.path
    this.#files = options.files ?? nodeStoreFiles
    this.#table = new RowTable(this.#clock)
    this.#rows = this.#table.rows
  }

  /**
   * Creates a store and loads its file when one exists. With a file, the store is its directory's
   * one writer until closed: a second writer (another process, or this one again) is refused with
   * a ConfigError naming the holder (a follower, embedded-online-follower.ts, reads beside it).
   */
  static async open(options: EmbeddedOnlineStoreOptions = {}): Promise<EmbeddedOnlineStore> {
    const store = new EmbeddedOnlineStore(options)
    if (options.path) {
      store.#unlock = store.#files.lock(dirname(options.path))
      try {
        await store.#load(options.path)
      } catch (err: unknown) {
        store.#unlock()
        throw err
      }
    }
    return store
  }

  isReady(): boolean {
    return !this.#closed
  }

  async writeRows(view: FeatureViewDef, rows: readonly FeatureRow[]): Promise<OnlineWriteResult> {
    this.#assertOpen()
    if (!(view.ttlMs > 0)) throw new SinkWriteError('SINK_REJECTED', `view ${view.name} has no positive ttlMs`, { context: { view: view.name } })
    const prepared = coalesceRows(rows.map((row) => ({ row, fields: encodeRow(view, row) })))
    const nowMs = this.#clock.nowMs()
    const prefix = `${viewKey(view)}|`
    const listening = this.#table.listening(viewKey(view))
    let written = 0
    for (const { row, fields } of prepared) {
      const key = prefix + row.entityKey
      const stored = this.#table.live(key, nowMs)
      if (stored && row.asOfMs < stored.asOfMs) continue
      // Never before the row turns OUTSIDE_TTL, though its as_of lie ahead of the clock (as Redis, write-row-script.ts).
      const expiresAtMs = Math.max(nowMs, row.asOfMs) + view.ttlMs
      if (stored && row.asOfMs === stored.asOfMs && sameFields(stored.fields, fields)) {
        stored.expiresAtMs = expiresAtMs
        if (this.#path) this.#dirty.add(key)
        continue
      }
      const landed = { asOfMs: row.asOfMs, fields, expiresAtMs }
      this.#rows.set(key, landed)
      if (this.#path) this.#dirty.add(key)
      written++
      if (listening) this.#table.notify(key, landed)
    }
    this.#table.counted(prepared.length, nowMs)
    return { written, stale: rows.length - written }
  }

  async readRows(
    lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string; readonly features: readonly string[] }[],
    nowMs: number,
  ): Promise<OnlineRead[]> {
    this.#assertOpen()
    return this.#table.read(lookups, nowMs)
  }

  /** Same contract as RedisOnlineStore.subscribeChanges; notifications are synchronous. */
  async subscribeChanges(views: readonly FeatureViewDef[], listener: OnlineChangeListener): Promise<() => Promise<void>> {
    return this.#table.subscribe(views, listener)
  }

  /** Writes every live row to the file (a new, empty journal continues it). */
  flush(): Promise<void> {
    return this.#serially(() => this.#writeFile())
  }

  /** Makes every write that has returned survive a crash: its row is in the file or the journal, on disk. */
  sync(): Promise<void> {
    return this.#serially(async () => {
      const path = this.#path
      if (!path) return
      const fold = this.#foldNext || this.#journalBytes > Math.max(MIN_FOLD_BYTES, this.#fileBytes)
      if (this.#journal === undefined || fold) return this.#writeFile()
      if (this.#dirty.size > 0) {
        const keys = [...this.#dirty]
        const rows: JournalRow[] = []
        for (const key of keys) {
          const r = this.#rows.get(key)
          if (r !== undefined) rows.push(rowOf(key, r))
        }
        this.#dirty.clear()
        // The first append creates the journal: its name must reach the disk too.
        if (this.#journalBytes === 0) this.#namesPending = true
        try {
          const text = await appendJournal(this.#files, journalPath(path, this.#journal), rows)
          this.#journalBytes += Buffer.byteLength(text)
          this.#journalCrc = crcOf(text, this.#journalCrc)
          await this.#syncNames(path)
          // Only after the journal's name is durable: a record must never claim a journal a power loss can take.
          await this.#recordAckedEnd(path, this.#journal)
        } catch (err: unknown) {
          // Not acknowledged: the rows stay to be synced, and the next sync starts a clean journal.
          for (const key of keys) this.#dirty.add(key)
          this.#foldNext = true
          throw err
        }
      }
      await this.#syncNames(path)
    })
  }

  async #syncNames(path: string): Promise<void> {
    if (!this.#namesPending) return
    await this.#files.syncDir(dirname(path))
    this.#namesPending = false
  }

  /** Records the journal's end as acknowledged (the sync returns after this). */
  async #recordAckedEnd(path: string, journal: string): Promise<void> {
    const slot = this.#ackNext
    await this.#files.write(ackSlotPaths(path)[slot], encodeAck({ journal, bytes: this.#journalBytes, crc: this.#journalCrc }), 'replace')
    this.#ackNext = slot === 0 ? 1 : 0
  }

  #serially(fn: () => Promise<void>): Promise<void> {
    const next = this.#persisting.then(fn)
    this.#persisting = next.catch(() => undefined)
    return next
  }

  async #writeFile(): Promise<void> {
    const path = this.#path
    if (!path) return
    const nowMs = this.#clock.nowMs()
    this.#table.sweep(nowMs)
    const taken = [...this.#dirty]
    this.#dirty.clear()
    const journal = newJournalName(path)
    const layout: FileLayout = {
      format: 'kfs-online-store/1',
      rows: [...this.#rows].map(([key, r]) => rowOf(key, r)),
      journal,
      framed: true,
      acked: true,
    }
    const text = JSON.stringify(layout)
    try {
      // The file relies on the acknowledged-end slots: both durable, names too, before it is.
      if (!this.#ackReady) {
        for (const slot of ackSlotPaths(path)) await this.#files.write(slot, encodeAck({ journal, bytes: 0, crc: 0 }), 'replace')
        await this.#files.syncDir(dirname(path))
        this.#ackReady = true
        this.#ackNext = 0
      }
      // On disk before the rename and before the old journal goes: else a machine crash after both
      // could leave neither the rows of the new file nor the journal that held them.
      await this.#files.write(tmpPath(path), text, 'replace')
      await this.#files.rename(tmpPath(path), path)
    } catch (err: unknown) {
      // The old file and journal are still the store: the rows taken stay to be synced.
      for (const key of taken) this.#dirty.add(key)
      throw err
    }
    const old = this.#journal
    this.#journal = journal
    this.#journalBytes = 0
    this.#journalCrc = 0
    this.#foldNext = false
    this.#fileBytes = Buffer.byteLength(text)
    // The rename is durable only with the directory: until then a machine crash may bring back the
    // old file, which names the old journal — so that journal goes only after this fsync.
    this.#namesPending = true
    await this.#files.syncDir(dirname(path))
    this.#namesPending = false
    // A crash before this removal leaves the old journal beside the file; the next open removes it.
    if (old !== undefined) await this.#files.remove(journalPath(path, old))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    this.#table.clearListeners()
    // Only once the file holds every row: a writer that takes the directory over finds them all.
    this.#unlock?.()
    this.#unlock = undefined
  }

  /** Loads the file and its journal, then recovers from whatever step a crash stopped at (see the module comment). */
  async #load(path: string): Promise<void> {
    const torn = await this.#loadFile(path)
    const dir = dirname(path)
    const named = this.#journal
    const leftovers = (await this.#files.list(dir)).filter(
      (name) => (name.startsWith(journalPrefix(path)) && name !== named) || name.startsWith(`${basename(path)}.tmp-`),
    )
    // Torn bytes at the journal's end would join the next append into a line that never reads.
    if (torn) await this.#writeFile()
    else if (leftovers.length > 0) {
      // The file read here may be a rename a crash left in the page cache only: durable first, then
      // nothing that the file supersedes is needed any more.
      await this.#files.syncDir(dir)
      this.#namesPending = false
    }
    for (const name of leftovers) await this.#files.remove(join(dir, name))
  }

  /** Loads the file and the journal it names; whether the journal ended in a torn tail. */
  async #loadFile(path: string): Promise<boolean> {
    let text: string | undefined
    try {
      text = await this.#files.read(path)
    } catch (err: unknown) {
      throw storeReadFailure(path, err)
    }
    if (text === undefined) return false
    const layout = parseLayout(path, text)
    for (const r of layout.rows) this.#rows.set(r.key, { asOfMs: r.asOfMs, expiresAtMs: r.expiresAtMs, fields: new Map(Object.entries(r.fields)) })
    this.#fileBytes = Buffer.byteLength(text)
    // A crashed process may have left the file or its journal renamed or created but not fsynced
    // into the directory: the first sync makes the names durable too.
    this.#namesPending = true
    // A file from before the acknowledged-end slots: the protection starts with the new file the first sync writes.
    const slots = layout.acked === true ? await readAckSlots(path, (slot) => this.#files.read(slot)) : undefined
    this.#ackReady = slots !== undefined && slots.every((s) => s.text !== undefined)
    // A file from before sync marks: its journal goes on unframed, so the first sync starts a new file.
    this.#foldNext = layout.framed !== true || !this.#ackReady
    if (layout.journal === undefined) return false
    const acked = slots === undefined ? undefined : ackedEndOf(path, slots, layout.journal)
    if (slots !== undefined) this.#ackNext = nextAckSlot(slots, layout.journal)
    // The rows synced after the file was written, in the order they landed.
    const journal = await readJournal(this.#files, journalPath(path, layout.journal), layout.framed === true, acked)
    for (const r of journal.rows) this.#rows.set(r.key, { asOfMs: r.asOfMs, expiresAtMs: r.expiresAtMs, fields: new Map(Object.entries(r.fields)) })
    this.#journal = layout.journal
    this.#journalBytes = journal.bytes
    this.#journalCrc = journal.crc
    return journal.torn
  }

  #assertOpen(): void {
    if (this.#closed) throw new SourceError('SOURCE_UNAVAILABLE', 'embedded online store is closed')
  }
}

function encodeRow(view: FeatureViewDef, row: FeatureRow): Map<string, string> {
  // As Redis (row-layout.ts checkRow): every row is checked before any lands, its key first.
  const badKey = entityKeyRefusal(view, row.entityKey)
  if (badKey !== undefined) throw new SinkWriteError('SINK_REJECTED', `row of ${view.name}: ${badKey}`, { context: { view: view.name } })
  if (row.values.length !== view.features.length) {
    throw new SinkWriteError('SINK_REJECTED', `row of ${view.name} has ${row.values.length} values for ${view.features.length} features`, {
      context: { view: view.name },
    })
  }
  if (!Number.isSafeInteger(row.asOfMs)) throw new SinkWriteError('SINK_REJECTED', `row of ${view.name} has a non-integer as_of`, { context: { view: view.name } })
  const fields = new Map<string, string>()
  if (row.deleted === true) {
    if (view.changeMode !== 'attributes' || row.values.some((v) => v !== null)) {
      throw new SinkWriteError('SINK_REJECTED', `tombstone of ${view.name} ${view.changeMode === 'attributes' ? 'holds values' : 'in a view that has no deletes'}`, { context: { view: view.name } })
    }
    fields.set(DELETED_FIELD, '1')
    return fields
  }
  view.features.forEach((f, i) => {
    const text = encodeValue(row.values[i] ?? null, f.type, view.name, f.name)
    if (text !== undefined) fields.set(f.name, text)
  })
  return fields
}

/** The temp file a new store file is written to before its rename (one per process: writes are serial). */
function tmpPath(path: string): string {
  return `${path}.tmp-${process.pid}`
}

function rowOf(key: string, r: StoredRow): JournalRow {
  return { key, asOfMs: r.asOfMs, expiresAtMs: r.expiresAtMs, fields: Object.fromEntries(r.fields) }
}
