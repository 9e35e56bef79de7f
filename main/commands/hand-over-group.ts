/**
 * The live group a `kfs replay` backfill hands its view over to (docs/semantics.md §14). The
 * backfill checkpoints under `<group>.backfill.<view>@<version>` and marks the view complete in the
 * registry, which holds one status per view version, not per group. A live engine of another
 * group then finds the view complete yet no backfill state of its own, and catches the view up
 * from its own archive (engine/backfill-hand-off.ts) — the backfill was work no engine takes over.
 * So the group must be one whose live engine consumed the topic the backfill reads:
 * it has checkpoints of that topic (the archive is written by that engine).
 */
import { FeatureStoreError } from '../../core/errors.ts'
import { CheckpointStore } from '../../engine/checkpoint-store.ts'
import type { ObjectStore } from '../../ports/object-store.ts'
import { UsageError } from './command.ts'
import { liveGroupsByTopic } from './live-groups.ts'

/**
 * Throws unless `groupId`'s live engine has checkpoints of `topic`: a usage error (exit 2) when the
 * group was named with --group, else (the default group) "nothing to hand over to" (exit 1);
 * either names the groups that did consume the topic.
 */
export async function requireHandOverGroup(
  store: ObjectStore,
  groupId: string,
  topic: string,
  named: boolean,
  view: string,
): Promise<void> {
  if (await new CheckpointStore(store, groupId).hasTopic(topic)) return
  const others = ((await liveGroupsByTopic(store)).get(topic) ?? []).join(', ')
  const why = `the live engine of group ${groupId} has no checkpoint of ${topic}, so no kfs run of it would take ${view} over from the backfill (it would start the view without its history)`
  const way =
    others === ''
      ? `no live engine has a checkpoint of ${topic} yet; run kfs run first`
      : `groups that consumed ${topic}: ${others}`
  if (named) throw new UsageError(`--group: ${why}; ${way}`)
  throw new FeatureStoreError(
    'NOT_FOUND',
    `nothing to hand ${view} over to: ${why}; ${others === '' ? way : `name the group that consumed ${topic} with --group (${way})`}`,
  )
}
