/**
 * EmbeddedOnlineStore: the online store inside the process, with the Redis store's semantics
 * (online-semantics.ts): conditional write on `as_of` (≥ stored lands; an identical rewrite is a
 * no-op), per-call coalescing, expiry `view.ttlMs` after the last landing write (measured on the
 * injected clock), statuses PRESENT / MISSING / OUTSIDE_TTL, change notifications for landed rows.
 *
 * Persistence (optional `path`): `flush()` and `close()` write every live row to one JSON file
 * (temp file + rename, so a crash leaves the old or the new file, never half of one); `open()`
 * loads it. Values use the Redis field encoding, so floats survive bit for bit. Between two
 * flushes, `sync()` appends the rows changed since the last one to the file's journal
 * (row-journal.ts) and fsyncs it: the engine syncs before it publishes a checkpoint, so a crash
 * loses no write a checkpoint counted as landed (the restarted engine never writes those rows
 * again). A journal grown past the file's size (and 4 MiB) is folded into a new file.
 */
import { open, readFile, rename } from 'node:fs/promises'
import { appendJournal, isJournalRow, journalPath, newJournalName, readJournal, removeJournal, type JournalRow } from './row-journal.ts'
import type { Clock } from '../../../core/clock.ts'
import { systemClock } from '../../../core/clock.ts'
import { SinkWriteError, SourceError } from '../../../core/errors.ts'
import { parseStoredJson } from '../../../core/stored-json.ts'
import type { FeatureRow, FeatureValue, FeatureViewDef } from '../../../features/types.ts'
import type { OnlineRead, OnlineStore, OnlineWriteResult } from '../../../ports/online-store.ts'
import { StoredTextRead } from '../redis/stored-text-read.ts'
import { decodeValue, encodeValue } from '../redis/value-codec.ts'
import { DELETED_FIELD } from '../redis/row-layout.ts'
import { coalesceRows, missingRead, statusOf, type OnlineChangeListener } from '../../../ports/online-semantics.ts'
import { isJsonObject } from '../../../core/json-object.ts'

interface StoredRow {
  readonly asOfMs: number
  /** Encoded non-null fields, as in the Redis hash. */
  readonly fields: ReadonlyMap<string, string>
  expiresAtMs: number
}

interface FileLayout {
  readonly format: 'kfs-online-store/1'
  readonly rows: JournalRow[]
  /** The journal continuing this file (a file name beside it); absent in files written before journals. */
  readonly journal?: string
}

/** A journal is folded into a new file once it is larger than the file and this. */
const MIN_FOLD_BYTES = 4 * 1024 * 1024

/** An object; when of this format, with rows of {key, asOfMs, expiresAtMs, fields of text} (another format is SCHEMA_UNKNOWN, not damage). */
function isLayout(v: unknown): boolean {
  if (!isJsonObject(v)) return false
  if (v.format !== 'kfs-online-store/1') return true
  return Array.isArray(v.rows) && v.rows.every(isJournalRow) && (v.journal === undefined || typeof v.journal === 'string')
}

export interface EmbeddedOnlineStoreOptions {
  readonly clock?: Clock
  /** File the rows are persisted to on flush/close and loaded from by `open()`. */
  readonly path?: string
}

function viewKey(view: FeatureViewDef): string {
  return `${view.name}:${view.version}`
}

export class EmbeddedOnlineStore implements OnlineStore {
  readonly #clock: Clock
  readonly #path: string | undefined
  readonly #rows = new Map<string, StoredRow>()
  readonly #listeners = new Map<string, Set<OnlineChangeListener>>()
  #writesSinceSweep = 0
  #closed = false
  /** Keys whose row landed or was refreshed since the last sync or flush took them. */
  readonly #dirty = new Set<string>()
  /** The journal continuing the file (undefined until the file is first written or loaded with one). */
  #journal: string | undefined
  #journalBytes = 0
  #fileBytes = 0
  /** Syncs and flushes, one after the other: a journal append never races the file's replacement. */
  #persisting: Promise<void> = Promise.resolve()

  constructor(options: EmbeddedOnlineStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock
    this.#path = options.path
  }

  /** Creates a store and loads its file when one exists. */
  static async open(options: EmbeddedOnlineStoreOptions = {}): Promise<EmbeddedOnlineStore> {
    const store = new EmbeddedOnlineStore(options)
    if (options.path) await store.#load(options.path)
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
    const expiresAtMs = nowMs + view.ttlMs
    const prefix = `${viewKey(view)}|`
    const listeners = this.#listeners.get(viewKey(view))
    let written = 0
    for (const { row, fields } of prepared) {
      const key = prefix + row.entityKey
      const stored = this.#live(key, nowMs)
      if (stored && row.asOfMs < stored.asOfMs) continue
      if (stored && row.asOfMs === stored.asOfMs && sameFields(stored.fields, fields)) {
        stored.expiresAtMs = expiresAtMs
        if (this.#path) this.#dirty.add(key)
        continue
      }
      this.#rows.set(key, { asOfMs: row.asOfMs, fields, expiresAtMs })
      if (this.#path) this.#dirty.add(key)
      written++
      if (listeners) {
        const values: Record<string, FeatureValue> = {}
        // From the stored text, as Redis's change feed decodes it: a lone surrogate as U+FFFD, a long's -0 as 0.
        for (const f of view.features) values[f.name] = decodeValue(fields.get(f.name), f.type)
        const change = { view: view.name, version: view.version, entityKey: row.entityKey, asOfMs: row.asOfMs, values, ...(row.deleted ? { deleted: true as const } : {}) }
        for (const l of listeners) {
          // A subscriber's failure is its own; it must not fail the write that already landed.
          try {
            l(change)
          } catch {
            /* ignored by design */
          }
        }
      }
    }
    this.#writesSinceSweep += prepared.length
    if (this.#writesSinceSweep > 10_000) this.#sweep(nowMs)
    return { written, stale: rows.length - written }
  }

  async readRows(
    lookups: readonly { readonly view: FeatureViewDef; readonly entityKey: string; readonly features: readonly string[] }[],
    nowMs: number,
  ): Promise<OnlineRead[]> {
    this.#assertOpen()
    const clockMs = this.#clock.nowMs()
    return lookups.map(({ view, entityKey, features }) => {
      const types = features.map((f) => {
        const def = view.features.find((d) => d.name === f)
        if (!def) throw new SourceError('NOT_FOUND', `view ${view.name} has no feature ${f}`, { context: { view: view.name, feature: f } })
        return def.type
      })
      const stored = this.#live(`${viewKey(view)}|${entityKey}`, clockMs)
      // A tombstone (docs/design.md §11) answers MISSING; it stays stored so older rows cannot land.
      if (!stored || stored.fields.has(DELETED_FIELD)) return missingRead(features.length)
      const status = statusOf(stored.asOfMs, view, nowMs)
      if (status !== 'PRESENT') return { status, asOfMs: stored.asOfMs, values: features.map(() => null) }
      return new StoredTextRead(
        stored.asOfMs,
        features.map((f) => stored.fields.get(f)),
        0,
        types,
      )
    })
  }

  /** Same contract as RedisOnlineStore.subscribeChanges; notifications are synchronous. */
  async subscribeChanges(views: readonly FeatureViewDef[], listener: OnlineChangeListener): Promise<() => Promise<void>> {
    const keys = views.map(viewKey)
    for (const k of keys) {
      let set = this.#listeners.get(k)
      if (!set) this.#listeners.set(k, (set = new Set()))
      set.add(listener)
    }
    return async () => {
      for (const k of keys) this.#listeners.get(k)?.delete(listener)
    }
  }

  /** Writes every live row to the file (a new, empty journal continues it). */
  flush(): Promise<void> {
    return this.#serially(() => this.#writeFile())
  }

  /** Makes every write that has returned survive a crash: its row is in the file or the journal, on disk. */
  sync(): Promise<void> {
    return this.#serially(async () => {
      const path = this.#path
      if (!path || (this.#dirty.size === 0 && this.#journal !== undefined)) return
      if (this.#journal === undefined || this.#journalBytes > Math.max(MIN_FOLD_BYTES, this.#fileBytes)) return this.#writeFile()
      const rows: JournalRow[] = []
      for (const key of this.#dirty) {
        const r = this.#rows.get(key)
        if (r !== undefined) rows.push(rowOf(key, r))
      }
      this.#dirty.clear()
      this.#journalBytes += await appendJournal(journalPath(path, this.#journal), rows)
    })
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
    this.#sweep(nowMs)
    this.#dirty.clear()
    const journal = newJournalName(path)
    const layout: FileLayout = { format: 'kfs-online-store/1', rows: [...this.#rows].map(([key, r]) => rowOf(key, r)), journal }
    const text = JSON.stringify(layout)
    const tmp = `${path}.tmp-${process.pid}`
    // On disk before the rename and before the old journal goes: else a machine crash after both
    // could leave neither the rows of the new file nor the journal that held them.
    const handle = await open(tmp, 'w')
    try {
      await handle.writeFile(text)
      await handle.datasync()
    } finally {
      await handle.close()
    }
    await rename(tmp, path)
    // The file no longer names the old journal: a crash before this removal leaves it unread.
    const old = this.#journal
    this.#journal = journal
    this.#journalBytes = 0
    this.#fileBytes = Buffer.byteLength(text)
    if (old !== undefined) await removeJournal(journalPath(path, old))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    this.#listeners.clear()
  }

  async #load(path: string): Promise<void> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw new SourceError('SOURCE_UNAVAILABLE', `cannot read online store file ${path}`, { cause: err })
    }
    // The way back from a damaged file: the offline tables hold the rows.
    const layout = parseStoredJson<FileLayout>(text, {
      what: `online store file ${path}`,
      path,
      shape: 'an online store file',
      isValid: isLayout,
      advice: 'move it away and reload the online rows with kfs replay --online-from-offline',
      error: (message, options) => new SourceError('DATA_CORRUPT', message, options),
    })
    if (layout.format !== 'kfs-online-store/1') throw new SourceError('SCHEMA_UNKNOWN', `online store file ${path} has an unknown format`)
    for (const r of layout.rows) this.#rows.set(r.key, { asOfMs: r.asOfMs, expiresAtMs: r.expiresAtMs, fields: new Map(Object.entries(r.fields)) })
    this.#fileBytes = Buffer.byteLength(text)
    if (layout.journal === undefined) return
    // The rows synced after the file was written, in the order they landed.
    const journal = await readJournal(journalPath(path, layout.journal))
    for (const r of journal.rows) this.#rows.set(r.key, { asOfMs: r.asOfMs, expiresAtMs: r.expiresAtMs, fields: new Map(Object.entries(r.fields)) })
    this.#journal = layout.journal
    this.#journalBytes = journal.bytes
  }

  #live(key: string, nowMs: number): StoredRow | undefined {
    const stored = this.#rows.get(key)
    if (stored && stored.expiresAtMs <= nowMs) {
      this.#rows.delete(key)
      return undefined
    }
    return stored
  }

  #sweep(nowMs: number): void {
    this.#writesSinceSweep = 0
    for (const [key, r] of this.#rows) if (r.expiresAtMs <= nowMs) this.#rows.delete(key)
  }

  #assertOpen(): void {
    if (this.#closed) throw new SourceError('SOURCE_UNAVAILABLE', 'embedded online store is closed')
  }
}

function encodeRow(view: FeatureViewDef, row: FeatureRow): Map<string, string> {
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

function rowOf(key: string, r: StoredRow): JournalRow {
  return { key, asOfMs: r.asOfMs, expiresAtMs: r.expiresAtMs, fields: Object.fromEntries(r.fields) }
}

function sameFields(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}
