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
 */
import { randomUUID } from 'node:crypto'
import type { ObjectStore } from '../ports/object-store.ts'
import type { StagedFiles } from '../ports/offline.ts'

export interface ViewCheckpoint {
  /** `name@version` of the view. */
  readonly view: string
  readonly stateKey: string
  /** Rows the view emitted at `nextOffset` from idle markers before the cut (absent: none). */
  readonly rowsAtNextOffset?: number
}

export interface PartitionCheckpoint {
  readonly seq: number
  readonly topic: string
  readonly partition: number
  readonly nextOffset: string
  readonly watermarkMs: number | null
  readonly views: readonly ViewCheckpoint[]
  readonly staged: readonly StagedFiles[]
  readonly createdAtMs: number
}

const SEQ_DIGITS = 12

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
    return JSON.parse(new TextDecoder().decode(bytes)) as PartitionCheckpoint
  }

  async writeState(topic: string, partition: number, seq: number, bytes: Uint8Array): Promise<string> {
    const key = `${this.#dir(topic, partition)}state-${String(seq).padStart(SEQ_DIGITS, '0')}-${randomUUID()}.bin`
    await this.#store.put(key, bytes)
    return key
  }

  async readState(key: string): Promise<Uint8Array> {
    const bytes = await this.#store.get(key)
    if (bytes === undefined) throw new Error(`checkpoint state ${key} is missing`)
    return bytes
  }

  /**
   * False when another owner already published this seq: this owner is fenced off. A record equal
   * to ours byte for byte is ours — an earlier attempt whose answer was lost (a timeout after the
   * write) — and counts as published, not as fenced.
   */
  async publish(checkpoint: PartitionCheckpoint): Promise<boolean> {
    const key = `${this.#dir(checkpoint.topic, checkpoint.partition)}ckpt-${String(checkpoint.seq).padStart(SEQ_DIGITS, '0')}.json`
    const bytes = new TextEncoder().encode(JSON.stringify(checkpoint))
    if (await this.#store.putIfAbsent(key, bytes)) return true
    const existing = await this.#store.get(key)
    return existing !== undefined && Buffer.from(existing).equals(bytes)
  }

  /** Deletes records and state blobs older than `keepFromSeq` (recovery only reads the latest). */
  async prune(topic: string, partition: number, keepFromSeq: number): Promise<void> {
    const keys = await this.#store.list(this.#dir(topic, partition))
    for (const key of keys) {
      const m = /\/(?:ckpt|state)-(\d+)[^/]*$/.exec(key)
      if (m && Number(m[1]) < keepFromSeq) await this.#store.delete(key)
    }
  }
}
