/**
 * Per-partition checkpoints in the object store.
 *
 * Checkpoint `seq` of (group, topic, partition) is one JSON record: the next offset, the idle
 * markers' effect (inside the operator states), one operator-state blob per view, and the data
 * files staged for every table (each view's feature table and the topic's raw archive). One
 * record for all tables keeps views and archive consistent with each other — an idle marker is
 * in the archive exactly when the views have applied it — which is what replay parity needs.
 *
 * Publishing the record with create-if-absent is the point of no return (docs/design.md §7): before it,
 * the staged files are garbage nobody references; after it, recovery rolls every table forward to
 * include them (each table commit is idempotent by its `group/topic/partition → seq` marker).
 * Create-if-absent also fences a zombie owner: two owners never both publish the same `seq`.
 *
 * Operator state is incremental (state-chain.ts): a record names per view a full base blob
 * (`state-<seq>-<uuid>.bin`) and the deltas written since (`delta-<seq>-<base name>-<index>-<uuid>.bin`,
 * each also carrying its base's name and its index, checked on restore), so a delta can never be
 * applied to another base or out of order. Blobs of unpublished checkpoints are never named by a
 * record, hence never read; `prune` deletes every blob the newest record does not name.
 */
import { randomUUID } from 'node:crypto'
import { CheckpointError, ConfigError } from '../core/errors.ts'
import { parseStoredJson } from '../core/stored-json.ts'
import { ByteReader, ByteWriter } from '../operators/codec/bytes.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { StagedFiles } from '../ports/offline.ts'
import type { StateChain, ViewStateRef } from './state-chain.ts'
import type { LastRecord } from './last-record.ts'

export interface ViewCheckpoint {
  /** `name@version` of the view. */
  readonly view: string
  /** The view's operator state: a full base and the deltas applied onto it in order (format 2). */
  readonly state?: ViewStateRef
  /**
   * Format 1 (records written before incremental checkpoints): the one full state blob. Read as a
   * base with no deltas, never written: a kfs older than format 2 fails on a format-2 record
   * (no `stateKey`) rather than restore a base without its deltas.
   */
  readonly stateKey?: string
  /** Rows the view emitted at `nextOffset` from idle markers before the cut (absent: none). */
  readonly rowsAtNextOffset?: number
}

/** A view's state as read back: the base, the deltas' task bytes (headers checked), and its chain. */
export interface ReadViewState {
  readonly base: Uint8Array
  readonly deltas: Uint8Array[]
  readonly chain: StateChain
}

export interface PartitionCheckpoint {
  readonly seq: number
  readonly topic: string
  readonly partition: number
  readonly nextOffset: string
  /**
   * The last record before `nextOffset` (last-record.ts), which a restore checks the log still holds
   * (resume-check.ts). Absent: a record written before kfs checked it, or no record read yet.
   */
  readonly lastRecord?: LastRecord
  readonly watermarkMs: number | null
  readonly views: readonly ViewCheckpoint[]
  readonly staged: readonly StagedFiles[]
  readonly createdAtMs: number
}

const SEQ_DIGITS = 12
/** How many of a partition's newest records latest() checks are its topic's and group's (prune leaves one or two). */
const OWN_CHECKED = 10
const DELTA_MAGIC = [0x4b, 0x46, 0x53, 0x4c] // "KFSL": a link of a state chain
const DELTA_VERSION = 1

/** The fields recovery reads, of the types it reads them as. */
function isCheckpointRecord(v: unknown): v is PartitionCheckpoint {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return (
    Number.isSafeInteger(r.seq) &&
    typeof r.topic === 'string' &&
    Number.isSafeInteger(r.partition) &&
    typeof r.nextOffset === 'string' &&
    Array.isArray(r.views) &&
    r.views.every((view) => typeof view === 'object' && view !== null && typeof (view as { view?: unknown }).view === 'string') &&
    Array.isArray(r.staged)
  )
}

function seqPart(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0')
}

/** The file name of a base blob, without `.bin`: how its deltas name it. */
function baseNameOf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1).replace(/\.bin$/, '')
}

export class CheckpointStore {
  readonly #store: ObjectStore
  readonly groupId: string
  readonly #prefix: string

  constructor(store: ObjectStore, groupId: string) {
    this.#store = store
    this.groupId = groupId
    this.#prefix = `checkpoints/${encodeURIComponent(groupId)}`
  }

  #dir(topic: string, partition: number): string {
    return `${this.#prefix}/${encodeURIComponent(topic)}/${partition}/`
  }

  /** Name under which a table records that it holds this partition's checkpoints. */
  markerName(topic: string, partition: number): string {
    return `${this.groupId}/${topic}/${partition}`
  }

  async latest(topic: string, partition: number): Promise<PartitionCheckpoint | undefined> {
    const keys = (await this.#store.list(this.#dir(topic, partition))).filter((k) => /\/ckpt-\d+\.json$/.test(k))
    const last = keys.at(-1)
    if (last === undefined) return undefined
    const bytes = await this.#store.get(last)
    if (bytes === undefined) return undefined
    // Published once with create-if-absent, never rewritten: damage is the store's or a hand edit,
    // not a race — so CHECKPOINT_CORRUPT (not retried), naming the record.
    const record = parseStoredJson<PartitionCheckpoint>(new TextDecoder().decode(bytes), {
      what: `checkpoint record ${last}`,
      path: last,
      shape: 'a checkpoint record',
      isValid: isCheckpointRecord,
      error: (message, options) => new CheckpointError('CHECKPOINT_CORRUPT', message, options),
    })
    // Every record there is this topic's and group's — the older ones too: prune would delete another's.
    for (const older of keys.slice(-OWN_CHECKED, -1)) {
      const text = await this.#store.get(older)
      let value: unknown
      try {
        value = text === undefined ? undefined : JSON.parse(new TextDecoder().decode(text))
      } catch {
        continue // damage in a record recovery does not read: prune's to remove
      }
      if (isCheckpointRecord(value)) this.#checkOwn(older, value, topic)
    }
    return this.#checkOwn(last, record, topic)
  }

  /**
   * `record` (at `key`) without its group, when it is one of `topic` and this group. Topic and group
   * names are case-sensitive, a local object store's folders often are not (macOS, Windows): there
   * checkpoints/<group>/Clicks/ is the folder clicks made (checkpoints/MyGroup/ the one mygroup made),
   * and Clicks resumed from clicks's offsets and state.
   */
  #checkOwn(key: string, record: PartitionCheckpoint, topic: string): PartitionCheckpoint {
    const { group, ...stored } = record as PartitionCheckpoint & { readonly group?: unknown }
    const other =
      stored.topic !== topic
        ? { what: 'topic', asked: topic, stored: stored.topic }
        : group !== undefined && group !== this.groupId
          ? { what: 'group', asked: this.groupId, stored: String(group) }
          : undefined
    if (other !== undefined) {
      throw new ConfigError(
        `checkpoint record ${key} for ${other.what} '${other.asked}' is one of ${other.what} '${other.stored}': the object store does not tell upper from lower case, so the two ${other.what}s' checkpoints would mix; use one spelling for both, or names that differ in more than case`,
        { context: { [other.what]: other.asked, stored: other.stored, path: key } },
      )
    }
    return stored
  }

  /** Whether any partition of `topic` has a checkpoint record in this group. */
  async hasTopic(topic: string): Promise<boolean> {
    const keys = await this.#store.list(`${this.#prefix}/${encodeURIComponent(topic)}/`)
    return keys.some((k) => /\/ckpt-\d+\.json$/.test(k))
  }

  /** Writes a full base snapshot of checkpoint `seq`. */
  async writeState(topic: string, partition: number, seq: number, bytes: Uint8Array): Promise<string> {
    const key = `${this.#dir(topic, partition)}state-${seqPart(seq)}-${randomUUID()}.bin`
    await this.#store.put(key, bytes)
    return key
  }

  /** Writes the `index`-th delta (1-based) extending base `base`, at checkpoint `seq`. */
  async writeDelta(topic: string, partition: number, seq: number, base: string, index: number, bytes: Uint8Array): Promise<string> {
    const baseName = baseNameOf(base)
    const key = `${this.#dir(topic, partition)}delta-${seqPart(seq)}-${baseName}-${index}-${randomUUID()}.bin`
    const w = new ByteWriter(bytes.length + 128)
    for (const b of DELTA_MAGIC) w.u8(b)
    w.u8(DELTA_VERSION)
    w.str(baseName)
    w.uvarint(index)
    const header = w.finish()
    const blob = new Uint8Array(header.length + bytes.length)
    blob.set(header)
    blob.set(bytes, header.length)
    await this.#store.put(key, blob)
    return key
  }

  async readState(key: string): Promise<Uint8Array> {
    const bytes = await this.#store.get(key)
    if (bytes === undefined) throw new Error(`checkpoint state ${key} is missing`)
    return bytes
  }

  /** A view's state as its record names it (format 2 chain, or format 1 single blob). */
  async readViewState(saved: ViewCheckpoint): Promise<ReadViewState> {
    const ref = saved.state ?? (saved.stateKey === undefined ? undefined : { base: saved.stateKey, deltas: [] })
    if (ref === undefined) throw new CheckpointError('CHECKPOINT_CORRUPT', `checkpoint record of view ${saved.view} names no state (neither format 2 \`state\` nor format 1 \`stateKey\`)`)
    const [base, ...blobs] = await Promise.all([ref.base, ...ref.deltas].map((key) => this.readState(key)))
    const deltas = blobs.map((blob, i) => deltaBody(blob, ref.deltas[i] as string, baseNameOf(ref.base), i + 1))
    const chain = { ...ref, baseBytes: (base as Uint8Array).length, deltaBytes: deltas.reduce((n, d) => n + d.length, 0) }
    return { base: base as Uint8Array, deltas, chain }
  }

  /**
   * False when another owner already published this seq, or a later one: this owner is fenced off.
   * A record equal to ours byte for byte is ours — an earlier attempt whose answer was lost (a
   * timeout after the write) — and counts as published, not as fenced.
   *
   * A later record matters because owners prune: one that took the partition over and published
   * past this seq has deleted the record under this seq's key, so the create succeeds. Counting that
   * as published would let a stale owner (a process paused while the group moved on, a backfill
   * fenced earlier) prune by its own record — deleting the state blobs of the newer owner's chain.
   * Checked after the create, so no owner can publish past ours unseen in between: one that had not
   * published this seq when ours was created is fenced by ours.
   */
  async publish(checkpoint: PartitionCheckpoint): Promise<boolean> {
    const dir = this.#dir(checkpoint.topic, checkpoint.partition)
    const key = `${dir}ckpt-${seqPart(checkpoint.seq)}.json`
    // The record names its group (its folder's name may not tell it: latest).
    const bytes = new TextEncoder().encode(JSON.stringify({ ...checkpoint, group: this.groupId }))
    if (!(await this.#store.putIfAbsent(key, bytes))) {
      const existing = await this.#store.get(key)
      if (existing === undefined || !Buffer.from(existing).equals(bytes)) return false
    }
    const records = (await this.#store.list(dir)).filter((k) => /\/ckpt-\d+\.json$/.test(k))
    // Keys sort by their zero-padded seq: the last one is the newest record.
    return records.at(-1) === key
  }

  /**
   * Deletes the state blobs `record` names that its own checkpoint wrote (a base or delta of its
   * seq): the record is not to be published, and they would be left under a group that may be gone.
   */
  async discard(record: PartitionCheckpoint): Promise<void> {
    const own = `-${seqPart(record.seq)}-`
    for (const v of record.views) {
      for (const key of v.state === undefined ? [] : [v.state.base, ...v.state.deltas]) {
        const name = key.slice(key.lastIndexOf('/'))
        if (name.startsWith(`/state${own}`) || name.startsWith(`/delta${own}`)) await this.#store.delete(key)
      }
    }
  }

  /**
   * Deletes the records older than `latest` (recovery only reads the newest) and every state blob
   * older than it that it does not name: superseded chains, and blobs of checkpoints never published.
   * Blobs of `latest.seq` and later may belong to a checkpoint still being written, and are kept.
   */
  async prune(latest: PartitionCheckpoint): Promise<void> {
    const named = new Set<string>()
    for (const v of latest.views) {
      if (v.stateKey !== undefined) named.add(v.stateKey)
      if (v.state !== undefined) for (const key of [v.state.base, ...v.state.deltas]) named.add(key)
    }
    const keys = await this.#store.list(this.#dir(latest.topic, latest.partition))
    for (const key of keys) {
      const m = /\/(?:ckpt|state|delta)-(\d+)[^/]*$/.exec(key)
      if (m && Number(m[1]) < latest.seq && !named.has(key)) await this.#store.delete(key)
    }
  }
}

/** The task bytes of a delta blob, after checking that it is the `index`-th link of base `baseName`. */
function deltaBody(blob: Uint8Array, key: string, baseName: string, index: number): Uint8Array {
  const r = new ByteReader(blob)
  try {
    for (const b of DELTA_MAGIC) if (r.u8() !== b) throw new CheckpointError('CHECKPOINT_CORRUPT', `checkpoint delta ${key}: bad magic`)
    const version = r.u8()
    if (version !== DELTA_VERSION) throw new CheckpointError('CHECKPOINT_CORRUPT', `checkpoint delta ${key}: unknown format version ${version}`)
    const base = r.str()
    const at = r.uvarint()
    if (base !== baseName || at !== index) {
      throw new CheckpointError('CHECKPOINT_CORRUPT', `checkpoint delta ${key} is link ${at} of base ${base}, but the record names it link ${index} of base ${baseName}`)
    }
  } catch (err: unknown) {
    if (err instanceof CheckpointError) throw err
    throw new CheckpointError('CHECKPOINT_CORRUPT', `checkpoint delta ${key} is unreadable`, { cause: err })
  }
  return blob.subarray(r.offset)
}
