/**
 * The running engine's check that its group still holds the topic it checkpoints (docs/semantics.md
 * §14): `kfs groups retire` writes retired claims, then deletes the group's checkpoints and claims,
 * and a member still running — idle, checkpointing once per idle timeout, or a stalled process that
 * wakes up — would otherwise publish its next checkpoint under the retired group and commit its rows
 * to the tables. Asked right before each publish, the point of no return (partition-slot.ts), so a
 * refused checkpoint publishes and commits nothing: one read of the claim per checkpoint.
 *
 * A read that fails in passing is asked again with the checkpoint's other steps' bound; only an
 * answer — the claim retired, another group's, gone — or a damaged claim stops the engine.
 */
import { DeadlinePassedError } from '../core/errors.ts'
import { retry, type RetryOptions } from '../core/retry.ts'
import type { PartitionCheckpoint } from './checkpoint-store.ts'
import type { SlotDeps } from './slot-contract.ts'

/**
 * Resolves when the group holds `topic` (or the engine was started without claims); otherwise
 * deletes the state blobs `unpublished` (this checkpoint's record, never to be published) names of
 * its own seq, and rejects with the claim's verdict.
 */
export async function requireClaim(
  deps: SlotDeps,
  topic: string,
  options: RetryOptions,
  unpublished?: PartitionCheckpoint,
): Promise<void> {
  const check = deps.checkClaim
  if (check === undefined) return
  try {
    await retry(() => check(topic), { ...options, what: `the claim check of ${topic}` })
  } catch (err: unknown) {
    // Past the stop's deadline nothing is written (stop-deadline.ts): the blobs stay, as a crash
    // before the publish leaves them, named by no record.
    if (unpublished !== undefined && !(err instanceof DeadlinePassedError)) {
      await deps.checkpoints
        .discard(unpublished)
        .catch((e: unknown) => deps.logger.warn({ err: e, topic }, 'state blobs of a refused checkpoint not deleted'))
    }
    throw err
  }
}
