/**
 * Which views a command runs: the module's views that are published with the same logic hash
 * (a view must be applied before it runs, so the registry always describes what is running), and
 * the runtime's stores as a backfill needs them (settling backfills is replay/backfill-before-live.ts).
 */
import { DefinitionError, FeatureStoreError } from '../../core/errors.ts'
import { heldByOf, PendingRecordsWriter } from '../../adapters/event-log/embedded/index.ts'
import { createDeadLetterTopicSink, deadLetterRecords } from '../../engine/dead-letter-topic.ts'
import type { DeadLetterSink } from '../../ports/dead-letters.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { viewHash, type DefinitionSet, type Registry } from '../../registry/index.ts'
import { objectStoreReadsRetried, schemaReadsRetried } from '../../engine/retried-reads.ts'
import { backfillReadRetry, type BackfillEnvironment } from '../../replay/backfill-before-live.ts'
import { createOfflineStore } from '../offline-adapters.ts'
import { DEAD_LETTER_TOPIC } from '../internal-topics.ts'
import type { Runtime } from '../runtime.ts'
import { UsageError } from './command.ts'

/** `only` (from --views) must name views of the module: an unknown name is a usage error. */
export async function publishedViews(
  set: DefinitionSet,
  registry: Registry,
  only: readonly string[] | undefined,
): Promise<FeatureViewDef[]> {
  const views = set.views.filter((v) => only === undefined || only.includes(v.name))
  const unknown = (only ?? []).filter((name) => !views.some((v) => v.name === name))
  if (unknown.length > 0) {
    throw new UsageError(
      `--views: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not defined in the features module; views: ${set.views.map((v) => v.name).join(', ') || '(none)'}`,
    )
  }
  for (const view of views) {
    const stored = await registry.getView(view.name, view.version)
    if (!stored) throw new DefinitionError(`view ${view.name} v${view.version} is not published: run \`kfs apply\` first`)
    if (stored.hash !== viewHash(view)) {
      throw new DefinitionError(
        `view ${view.name} v${view.version} differs from its published definition: publish it as a new version with \`kfs apply\``,
      )
    }
  }
  return views
}

/** A backfill's dead-letter sink; `waiting` says what it kept beside an embedded log another process held. */
export interface BackfillDeadLetters extends DeadLetterSink {
  waiting(): { readonly dir: string; readonly letters: number; readonly heldByPid: number } | undefined
  /** No more letters: those waiting may be moved into the log from now on, even while this process runs. */
  finish(): void
}

/**
 * The topic kfs run writes and kfs dead-letters reads: a backfill's refusals are listed with
 * live's. The log is opened at the first letter, so a backfill with none never needs it. The
 * embedded log has one owner at a time: while another process holds it (a kfs run), the letters
 * wait beside it, and that process (once they are finished) or the next command that opens it
 * moves them in (adapters/event-log/embedded/pending-records.ts) — the backfill neither fails
 * half-way nor loses them.
 */
export function backfillDeadLetters(runtime: Runtime): BackfillDeadLetters {
  const config = runtime.config.eventLog
  let topic: Promise<DeadLetterSink> | undefined
  let waiting: { writer: PendingRecordsWriter; heldByPid: number } | undefined
  const sink = () => (topic ??= runtime.eventLog().then((log) => createDeadLetterTopicSink(log, DEAD_LETTER_TOPIC)))
  return {
    async write(letters) {
      if (letters.length === 0) return
      if (waiting === undefined) {
        try {
          return await (await sink()).write(letters)
        } catch (err: unknown) {
          const heldByPid = heldByOf(err)
          if (heldByPid === undefined || config.kind !== 'embedded') throw err
          // Opening failed before anything was written: every letter goes beside the log from now on.
          waiting = { writer: new PendingRecordsWriter(config.dir), heldByPid }
        }
      }
      waiting.writer.append(DEAD_LETTER_TOPIC, deadLetterRecords(letters), runtime.clock.nowMs())
    },
    flush: async () => (topic === undefined || waiting !== undefined ? undefined : (await topic).flush()),
    waiting: () =>
      waiting === undefined
        ? undefined
        : { dir: waiting.writer.dir, letters: waiting.writer.count, heldByPid: waiting.heldByPid },
    finish: () => waiting?.writer.finish(),
  }
}

/**
 * The runtime's stores, as a backfill needs them (replay/backfill-before-live.ts): their reads —
 * the archive's Iceberg metadata, manifests and data files, the backfill's checkpoints, the writer
 * schemas — retried (engine/retried-reads.ts), since a backfill has no retry of its own around
 * them and one passing fault would fail the whole run.
 */
export function backfillEnvironment(
  runtime: Runtime,
  deadLetters: DeadLetterSink = backfillDeadLetters(runtime),
): BackfillEnvironment {
  const reads = backfillReadRetry(runtime.clock, runtime.logger)
  const store = objectStoreReadsRetried(runtime.store, reads)
  const schemas = schemaReadsRetried(runtime.schemas, reads)
  return {
    offline: createOfflineStore(store, { parquetWorker: runtime.config.parquetWorker }),
    stateStore: store,
    decoderFor: (source) => runtime.decoderFor(source, schemas),
    clock: runtime.clock,
    online: () => runtime.onlineStore(),
    deadLetters: async () => deadLetters,
  }
}

/**
 * The views of `views` that have `store` (online/offline): an explicitly named view without it is a
 * usage error (the command would silently skip it), none at all is "nothing to do" (exit 1).
 */
export function viewsWith(
  store: 'online' | 'offline',
  views: readonly FeatureViewDef[],
  named: boolean,
  doing: string,
): FeatureViewDef[] {
  const kept = views.filter((v) => v[store])
  const without = views.filter((v) => !v[store]).map((v) => v.name)
  if (named && without.length > 0)
    throw new UsageError(
      `--views: ${without.join(', ')} ${without.length === 1 ? 'has' : 'have'} no ${store} store (${store}: false), so there is nothing to ${doing}`,
    )
  if (kept.length === 0)
    throw new FeatureStoreError('NOT_FOUND', `nothing to ${doing}: no view of the features module has an ${store} store`)
  return kept
}
