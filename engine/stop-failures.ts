/**
 * What went wrong while the live engine stopped (live-engine.ts `stop`): a partition's final
 * checkpoint (at revocation or in the stop's own pass), a re-key stage's last transaction, the
 * consumer's leave, the dead-letter flush. Each is collected instead of only logged, so the stop
 * goes on with the rest (every partition still gets its final checkpoint) and then rejects with
 * one error naming all of them. A stop that resolved after such a failure told `kfs run`, and so
 * the operator and the supervisor, "clean stop" while the rows after the last published
 * checkpoint were never published.
 *
 * A final checkpoint fenced by another owner's record (a dead process's publish landing late) and
 * still fenced after the stop re-processed the partition from the winner's record (stop-fence.ts)
 * is one too: the partition's tail is in no table, and `kfs run --until-caught-up` exiting 0 over
 * it told an audit reading the tables that records were lost.
 *
 * Nothing is lost either way: the next start resumes each partition from its last checkpoint that
 * reached the store (a re-key stage from its last committed transaction) and processes the
 * records after it again. The message says so, on one line.
 */
import { CheckpointError, reasonOf } from '../core/errors.ts'

export class StopFailures {
  readonly #checkpoints: { readonly partition: string; readonly err: unknown }[] = []
  readonly #others: { readonly what: string; readonly err: unknown }[] = []
  readonly #fenced: { readonly partition: string; readonly attempts: number; readonly resumesAt: string }[] = []
  #deadline: string | undefined

  /** The stop's deadline passed (stop-deadline.ts): what failed was given up with attempts left. */
  deadlinePassed(what: string): void {
    this.#deadline = what
  }

  /** A partition's checkpoint failed. */
  checkpoint(topic: string, partition: number, err: unknown): void {
    this.#checkpoints.push({ partition: `${topic}/${partition}`, err })
  }

  /**
   * A partition's final checkpoint was fenced `attempts` times in a row (the last re-process
   * included); the next start resumes at `resumesAt`, the winner's position.
   */
  fenced(topic: string, partition: number, attempts: number, resumesAt: string): void {
    this.#fenced.push({ partition: `${topic}/${partition}`, attempts, resumesAt })
  }

  /** Another part of the stop failed (`what`: e.g. "the dead-letter flush"). */
  other(what: string, err: unknown): void {
    this.#others.push({ what, err })
  }

  get empty(): boolean {
    return this.#checkpoints.length === 0 && this.#others.length === 0 && this.#fenced.length === 0
  }

  /** The partitions whose checkpoint failed, as `topic/partition`. */
  get partitions(): readonly string[] {
    return this.#checkpoints.map((f) => f.partition)
  }

  /** One error for everything collected, on one line (undefined: nothing failed). */
  error(): CheckpointError | undefined {
    if (this.empty) return undefined
    const parts: string[] = []
    const first = this.#checkpoints[0]
    if (first !== undefined) {
      const partitions = this.#checkpoints.map((f) => f.partition).join(', ')
      const which = this.#checkpoints.length > 1 ? ` (the first of them: ${reasonOf(first.err)})` : `: ${reasonOf(first.err)}`
      parts.push(`the checkpoint of ${partitions} failed${which}`)
    }
    if (this.#fenced.length > 0) {
      const each = this.#fenced.map((f) => `${f.partition} (${f.attempts} times in a row)`).join(', ')
      const from = this.#fenced.map((f) => `${f.partition} from offset ${f.resumesAt}`).join(', ')
      parts.push(`checkpoint fenced at stop: another owner published first for ${each}; the next run resumes ${from}`)
    }
    for (const f of this.#others) parts.push(`${f.what} failed: ${reasonOf(f.err)}`)
    const rekey = this.#others.some((f) => f.what.startsWith('re-key stage'))
      ? ' (a re-key stage: from its last committed transaction)'
      : ''
    const gaveUp = this.#deadline === undefined ? '' : `${this.#deadline}, so the stop gave up and the last published checkpoint stands: `
    const message = `${gaveUp}${parts.join('; ')}. Nothing is lost: the next start resumes from the last checkpoint that was published${rekey} and processes the records after it again`
    const cause = (first ?? this.#others[0])?.err
    const context = {
      ...(this.#checkpoints.length > 0 ? { partitions: this.partitions.join(',') } : {}),
      ...(this.#fenced.length > 0 ? { fenced: this.#fenced.map((f) => f.partition).join(',') } : {}),
      ...(this.#others.length > 0 ? { failed: this.#others.map((f) => f.what).join(', ') } : {}),
      ...(this.#deadline === undefined ? {} : { gaveUp: this.#deadline }),
    }
    return new CheckpointError('CHECKPOINT_FAILED', message, { ...(cause === undefined ? {} : { cause }), context })
  }
}
