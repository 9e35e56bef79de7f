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
  w.str(state.fingerprint)
  w.uvarint(removed.length)
  for (const key of sortKeysByBytes(removed)) w.str(key)
  w.uvarint(changed.length)
  for (const key of sortKeysByBytes(changed)) state.encodeEntry(key, w)
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

/**
 * Change tracking of the change views (their state is a Map by key): keys touched since the last
 * checkpoint, encoded as a delta of `state`. Past `2 × held + 1024` keys it stops growing and
 * `encode` answers false: a task no checkpoint drains does not hold every key it ever saw, and the
 * next checkpoint is a full one.
 */
export class KeyedChanges {
  readonly #state: KeyedStateAccess
  #keys = new Set<string>()
  #lost = false

  constructor(state: KeyedStateAccess) {
    this.#state = state
  }

  /** Marks `key` changed or removed; `held` is the number of keys the view holds. */
  touch(key: string, held: number): void {
    if (this.#lost) return
    this.#keys.add(key)
    if (this.#keys.size > 2 * held + 1024) {
      this.#lost = true
      this.#keys = new Set()
    }
  }

  /** TaskViewRunner.encodeChanges. */
  encode(w: ByteWriter): boolean {
    const lost = this.#lost
    const keys = this.#keys
    this.forget()
    if (!lost) encodeChanges(this.#state, keys, w)
    return !lost
  }

  /** TaskViewRunner.decodeChanges. */
  decode(r: ByteReader): void {
    decodeChanges(this.#state, r)
  }

  /** TaskViewRunner.forgetChanges. */
  forget(): void {
    this.#keys = new Set()
    this.#lost = false
  }
}
