/**
 * Incremental checkpoints, engine side (docs/semantics.md §10): which operator state a checkpoint
 * writes per view — a full base snapshot, or a delta holding only the keys changed or removed
 * since the previous checkpoint — and the chain (base + deltas, in order) each record names.
 *
 * A delta extends the chain of the last *published* record only: a cut whose checkpoint was not
 * published took its changes out of the tasks' tracking, so after one every view writes a full
 * base again (`lost`). A chain is compacted into a new base when it has `maxDeltas` deltas or its
 * deltas' bytes exceed `maxDeltaBytesFraction` of the base's, so a restore reads at most about
 * (1 + fraction) × the state's size in at most 1 + maxDeltas objects.
 */
import { InvariantViolation } from '../core/errors.ts'
import type { PartitionTask } from '../operators/task/partition-task.ts'

/** The operator state of one view in a checkpoint record (format 2): a full base, then deltas in order. */
export interface ViewStateRef {
  readonly base: string
  readonly deltas: readonly string[]
}

export interface ChainPolicy {
  /** Deltas after which the next checkpoint writes a full base. */
  readonly maxDeltas: number
  /** The next checkpoint writes a full base once the deltas' bytes exceed this fraction of the base's. */
  readonly maxDeltaBytesFraction: number
}

export const DEFAULT_CHAIN_POLICY: ChainPolicy = { maxDeltas: 32, maxDeltaBytesFraction: 0.5 }

/** A view's chain as last published, with the sizes the compaction rule needs. */
export interface StateChain extends ViewStateRef {
  readonly baseBytes: number
  readonly deltaBytes: number
}

/** One view's state in a cut: a full snapshot, or a delta extending `chain`. */
export type StateCut =
  { readonly bytes: Uint8Array; readonly chain: undefined } | { readonly bytes: Uint8Array; readonly chain: StateChain }

/** Where the blobs of one checkpoint go (CheckpointStore, bound to a partition and seq). */
export interface StateWriter {
  writeBase(bytes: Uint8Array): Promise<string>
  writeDelta(base: string, index: number, bytes: Uint8Array): Promise<string>
}

export class StateChains {
  readonly #policy: ChainPolicy
  #chains: (StateChain | undefined)[]
  /** A cut taken and not yet published or lost: the next cut would not know what to extend. */
  #pending = false

  /** `chains[v]`: view v's chain in the restored record (undefined: none, the first checkpoint is full). */
  constructor(chains: readonly (StateChain | undefined)[], policy: ChainPolicy = DEFAULT_CHAIN_POLICY) {
    this.#chains = [...chains]
    this.#policy = policy
  }

  /** The synchronous part of a checkpoint: per task a delta of its chain, or a full snapshot. */
  cut(tasks: readonly PartitionTask[]): StateCut[] {
    if (this.#pending)
      throw new InvariantViolation('a checkpoint cut was taken while the previous one was neither published nor lost')
    this.#pending = true
    return tasks.map((task, v) => {
      const chain = this.#chains[v]
      if (chain !== undefined && !this.#wantsBase(chain)) {
        const bytes = task.checkpointDelta()
        if (bytes !== undefined) return { bytes, chain }
      }
      return { bytes: task.checkpointFull(), chain: undefined }
    })
  }

  #wantsBase(chain: StateChain): boolean {
    const { maxDeltas, maxDeltaBytesFraction } = this.#policy
    return chain.deltas.length >= maxDeltas || chain.deltaBytes > maxDeltaBytesFraction * chain.baseBytes
  }

  /** Writes the cut's blobs (each call retried by `write`'s caller); returns the chains a record names. */
  static async write(cuts: readonly StateCut[], writer: StateWriter): Promise<StateChain[]> {
    const chains: StateChain[] = []
    for (const cut of cuts) {
      const { bytes, chain } = cut
      if (chain === undefined) {
        chains.push({ base: await writer.writeBase(bytes), deltas: [], baseBytes: bytes.length, deltaBytes: 0 })
        continue
      }
      const delta = await writer.writeDelta(chain.base, chain.deltas.length + 1, bytes)
      chains.push({ ...chain, deltas: [...chain.deltas, delta], deltaBytes: chain.deltaBytes + bytes.length })
    }
    return chains
  }

  /** The cut's record was published with these chains: the next deltas extend them. */
  published(chains: readonly StateChain[]): void {
    this.#chains = [...chains]
    this.#pending = false
  }

  /** The cut's record was not published (failed, or fenced): its changes are in no checkpoint, so every view's next state is a full base. */
  lost(): void {
    this.#chains = this.#chains.map(() => undefined)
    this.#pending = false
  }
}

/** The part of a chain a checkpoint record stores. */
export function stateRefOf(chain: StateChain): ViewStateRef {
  return { base: chain.base, deltas: chain.deltas }
}
