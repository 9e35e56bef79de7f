/**
 * A re-key stage stopped while one of its batches is still being decoded (the first batch reads
 * its schema from the registry; any batch may wait there): on the embedded log the consumer
 * revoked the stage's partitions at once, the stage stopped their merge lanes, and the batch then
 * reached a stopped lane — an InvariantViolation reported as the stage's failure, so `kfs run`
 * stopped by a signal or by another failure at start-up ended "not cleanly" with a kfs bug in its
 * log. Now the batch ends first: the stop is clean, and a restarted stage forwards every keyable
 * record exactly once. Every batch position is tried: the first, and later ones.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createEngineStats } from '../../../engine/engine-stats.ts'
import { createRekeyStage } from '../../../engine/rekey-stage.ts'
import { createDecoder, type Decoder } from '../../../schemas/decoder.ts'
import { clicks } from '../../fixtures/features/rekey-scoped.ts'
import { itemClicksLog } from '../../support/item-clicks-log.ts'
import { assertExactlyOnce, readInternalTopic } from '../../fixtures/features/rekey-clicks.ts'
import { waitFor } from '../../support/scenario.ts'

void describe('engine > re-key stage stopped while a batch is in flight', () => {
  for (const heldCall of [1, 2, 4]) {
    void test(`stopped while decode call ${heldCall} waits: a clean stop, then every keyable record forwarded once`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kfs-rekey-stop-'))
      try {
        const { log, registry, keyable, plan } = await itemClicksLog(dir, {
          maxBatchRecords: 100,
          pollIntervalMs: 20,
          count: 1_200,
          users: 40,
          items: 60,
          seed: 11,
        })
        const decoder = createDecoder({ registry, readerSchema: clicks.schema })

        let calls = 0
        let release!: () => void
        const gate = new Promise<void>((resolve) => (release = resolve))
        let holding = false
        let heldReturned = false
        const gated: Decoder = {
          ...decoder,
          decodeBatch: async (values) => {
            if (++calls !== heldCall) return decoder.decodeBatch(values)
            holding = true
            await gate
            try {
              return await decoder.decodeBatch(values)
            } finally {
              heldReturned = true
            }
          },
        }
        const stageWith = (d: Decoder, failures: Error[]) =>
          createRekeyStage({
            log,
            plan,
            groupId: 'kfs-engine',
            decoder: d,
            deadLetters: { write: async () => {}, flush: async () => {} },
            stats: createEngineStats(),
            clock: systemClock,
            logger: silentLogger,
            onFatal: (err) => failures.push(err),
          })

        const failures: Error[] = []
        const first = stageWith(gated, failures)
        await first.start()
        await waitFor(() => holding || failures.length > 0, `decode call ${heldCall}`)
        const stopping = first.stop()
        // The stop waits for the held batch; let it through once the stop has begun.
        setImmediate(release)
        await stopping
        // What the held batch does once decoded counts too, whenever it ends.
        await waitFor(() => heldReturned, 'the held batch decoded')
        for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
        assert.deepEqual(
          failures.map((e) => e.message),
          [],
          'the stop is clean',
        )

        const later: Error[] = []
        const second = stageWith(decoder, later)
        await second.start()
        const ends = await log.endOffsets(clicks.topic)
        await waitFor(
          () => later.length > 0 || [...second.progress()].every(([p, e]) => e.position === ends[p]),
          'the topic re-keyed',
        )
        await second.stop()
        assert.deepEqual(
          later.map((e) => e.message),
          [],
        )
        const internal = await readInternalTopic(log, plan.topic, 'check', keyable.length, 300)
        assertExactlyOnce(internal, keyable, (c) => c.item_id, `held at decode call ${heldCall}`)
        await log.close()
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  }
})
