/**
 * The changes of one view's state since the previous checkpoint: what an incremental checkpoint
 * stores per view (docs/semantics.md §8). Applied in order onto the full snapshot they extend,
 * they give exactly the state a full snapshot at the same point holds.
 *
 * Layout: str fingerprint (the view's snapshot fingerprint), uvarint removed count, each removed
 * key (str, key-byte order), uvarint changed count, then each changed key's entry in the view's
 * snapshot layout (key-byte order). A changed key replaces the restored key's whole entry (or
 * adds it); a removed key is forgotten (a key added and dropped since the base is absent there).
 */
import type { ByteReader, ByteWriter } from '../codec/bytes.ts'
import { CheckpointError } from '../../core/errors.ts'
import { sortKeysByBytes } from './key-order.ts'
import type { TouchedKeys } from './key-state.ts'

export interface KeyedStateAccess {
  readonly viewName: string
  readonly fingerprint: string
  has(key: string): boolean
  /** Writes the key's entry in the snapshot layout (its key first). */
  encodeEntry(key: string, w: ByteWriter): void
  /** Reads one entry, replacing the key's state if it holds one. */
  decodeEntry(r: ByteReader): void
  remove(key: string): void
}

export function encodeChanges(state: KeyedStateAccess, touched: ReadonlySet<string>, w: ByteWriter): void {
  const removed: string[] = []
  const changed: string[] = []
  for (const key of touched) (state.has(key) ? changed : removed).push(key)
  encodeSplitChanges(state, { changed, removed, mayHoldWideUnits: true }, w)
}

/** `encodeChanges` of keys already told apart (each once; sorted here, in place). */
export function encodeSplitChanges(state: KeyedStateAccess, keys: TouchedKeys, w: ByteWriter): void {
  w.str(state.fingerprint)
  w.uvarint(keys.removed.length)
  for (const key of sortKeysByBytes(keys.removed, keys.mayHoldWideUnits)) w.str(key)
  w.uvarint(keys.changed.length)
  for (const key of sortKeysByBytes(keys.changed, keys.mayHoldWideUnits)) state.encodeEntry(key, w)
}

export function decodeChanges(state: KeyedStateAccess, r: ByteReader): void {
  if (r.str() !== state.fingerprint) {
    throw new CheckpointError(
      'CHECKPOINT_CORRUPT',
      `checkpoint delta of view ${state.viewName} was taken with a different feature plan`,
    )
  }
  const removed = r.uvarint()
  for (let i = 0; i < removed; i++) state.remove(r.str())
  const changed = r.uvarint()
  for (let i = 0; i < changed; i++) state.decodeEntry(r)
}

/** A view's change tracking, as the partition task asks it for checkpoints (operators/changes/runner.ts). */
export interface ChangeTracking {
  /**
   * The keys changed or removed since the last checkpoint (or restore), in the layout above; false,
   * having written nothing, when tracking was lost (the checkpoint must then be full). Starts afresh
   * either way.
   */
  encode(w: ByteWriter): boolean
  /** Applies `encode`'s bytes onto the restored state; throws CheckpointError when they do not fit. */
  decode(r: ByteReader): void
  /** Starts afresh: the state was just checkpointed whole, or restored. */
  forget(): void
}

/** The event views' tracking: the key table (key-state.ts) marks touched keys itself. */
export class TableChanges implements ChangeTracking {
  readonly #state: KeyedStateAccess
  readonly #table: { takeTouched(): TouchedKeys | undefined; forgetTouched(): void }

  constructor(state: KeyedStateAccess, table: { takeTouched(): TouchedKeys | undefined; forgetTouched(): void }) {
    this.#state = state
    this.#table = table
  }

  encode(w: ByteWriter): boolean {
    const touched = this.#table.takeTouched()
    if (touched !== undefined) encodeSplitChanges(this.#state, touched, w)
    return touched !== undefined
  }

  decode(r: ByteReader): void {
    decodeChanges(this.#state, r)
  }

  forget(): void {
    this.#table.forgetTouched()
  }
}

/**
 * The change views' tracking (their state is a Map by key): the runner marks each key it changes
 * or forgets. Past `2 × held + 1024` keys it stops growing and `encode` answers false: a task no
 * checkpoint drains does not hold every key it ever saw, and the next checkpoint is a full one.
 */
export class KeyedChanges<V> implements ChangeTracking {
  readonly #state: KeyedStateAccess
  readonly #map: Map<string, V>
  #keys = new Set<string>()
  #lost = false

  /** `map`: the view's state by key; `encodeEntry`, `decodeEntry`: its snapshot entries (decode replacing). */
  constructor(view: Pick<KeyedStateAccess, 'viewName' | 'fingerprint' | 'encodeEntry' | 'decodeEntry'>, map: Map<string, V>) {
    this.#map = map
    this.#state = { ...view, has: (key) => map.has(key), remove: (key) => void map.delete(key) }
  }

  /** Marks `key` changed or removed. */
  touch(key: string): void {
    if (this.#lost) return
    this.#keys.add(key)
    if (this.#keys.size > 2 * this.#map.size + 1024) {
      this.#lost = true
      this.#keys = new Set()
    }
  }

  encode(w: ByteWriter): boolean {
    const lost = this.#lost
    const keys = this.#keys
    this.forget()
    if (!lost) encodeChanges(this.#state, keys, w)
    return !lost
  }

  decode(r: ByteReader): void {
    decodeChanges(this.#state, r)
  }

  forget(): void {
    this.#keys = new Set()
    this.#lost = false
  }
}
