/**
 * The re-key stage tests' starting point: item clicks (test/fixtures/features/rekey-scoped.ts)
 * encoded and produced to a fresh embedded log under `dir`, with the log, its registry, every
 * produced record, the keyable ones (a non-empty item id) and the stage's plan.
 */
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../adapters/event-log/embedded/index.ts'
import { EmbeddedSchemaRegistry } from '../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { planRekeys } from '../../engine/plan-sources.ts'
import { createEncoder } from '../../schemas/encoder.ts'
import { generateClicks, produceClicks } from '../fixtures/features/rekey-clicks.ts'
import { clicks, itemClicks } from '../fixtures/features/rekey-scoped.ts'

export async function itemClicksLog(
  dir: string,
  options: { maxBatchRecords: number; pollIntervalMs?: number; count: number; users: number; items: number; seed: number },
) {
  const { maxBatchRecords, pollIntervalMs, ...generated } = options
  const log = new EmbeddedEventLog({
    dir: join(dir, 'log'),
    fsync: 'never',
    maxBatchRecords,
    ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
  })
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  await log.createTopic(clicks.topic, clicks.partitions)
  const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
  const produced = await produceClicks(log, clicks.topic, encoder, generateClicks(generated))
  const keyable = produced.filter((r) => r.event !== undefined && r.event.item_id !== '')
  return { log, registry, produced, keyable, plan: planRekeys([itemClicks])[0]! }
}
