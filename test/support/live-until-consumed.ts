/**
 * A live engine over the embedded parts a test made, run until it has consumed `count` records,
 * then stopped — the step the backfill tests take before and after a view is backfilled.
 */
import assert from 'node:assert/strict'
import { systemClock } from '../../core/clock.ts'
import { silentLogger, type Logger } from '../../core/logger.ts'
import type { FeatureViewDef } from '../../features/types.ts'
import { createDeadLetterTopicSink } from '../../engine/dead-letter-topic.ts'
import { createLiveEngine, type LiveEngineOptions } from '../../engine/live-engine.ts'
import { waitFor } from './scenario.ts'

export type LiveParts = Pick<LiveEngineOptions, 'log' | 'stateStore' | 'offline' | 'online' | 'decoderFor'>

export async function runLiveUntilConsumed(
  parts: LiveParts,
  views: readonly FeatureViewDef[],
  count: number,
  options: { readonly checkpointMaxRecords: number; readonly logger?: Logger },
): Promise<void> {
  const engine = createLiveEngine({
    ...parts,
    deadLetters: createDeadLetterTopicSink(parts.log, 'kfs.dead-letters'),
    views,
    groupId: 'kfs-engine',
    clock: systemClock,
    logger: options.logger ?? silentLogger,
    checkpointMaxRecords: options.checkpointMaxRecords,
    checkpointIntervalMs: 200,
    tickMs: 50,
  })
  await engine.start()
  await waitFor(() => engine.stats.consumed >= count, `${count} records consumed`)
  await engine.stop()
  assert.equal(engine.failure, undefined)
}
