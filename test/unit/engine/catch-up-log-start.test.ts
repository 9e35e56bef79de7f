/**
 * The backfill hand-off's catch-up when the archive ends before the live position
 * (engine/backfill-hand-off.ts, docs/semantics.md §14, §17). The archive holds every record live
 * read, so such a tail is one live skipped because retention had deleted it — which the log's start
 * shows: at or past the live position, the view passes the stretch as live did, said in a warning.
 * A start short of it means the log holds records live read that the archive lacks: the catch-up
 * still stops with InvariantViolation, naming the log start. Every ordering of where the archive
 * ends, the log start and the live position.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Logger, LogFn } from '../../../core/logger.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { purchases, userPurchases } from '../../../examples/features.ts'
import { catchUpFromArchive } from '../../../engine/backfill-hand-off.ts'
import { PartitionProcessor } from '../../../engine/partition-processor.ts'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import type { BoundedSource, SourceChunk } from '../../../ports/source.ts'
import type { Decoder } from '../../../schemas/decoder.ts'

/** An archive whose partition holds nothing from `from` on: the catch-up stands where it starts. */
const emptyArchive: BoundedSource = {
  bounded: true,
  ends: async () => ({ snapshotId: null, ends: {} }),
  at: () => emptyArchive,
  read: async function* (): AsyncIterable<SourceChunk> {},
}
const decoder = { decodeBatch: async () => [] } as unknown as Decoder

/** [catch-up position (where the archive ends), log start or undefined (no log given), live position] → passed or refused. */
const cases: [string, { at: string; start: string | undefined; until: string }, 'passed' | 'refused' | 'nothing'][] = [
  [
    'the archive reaches the live position: nothing to explain, no log read',
    { at: '40', start: undefined, until: '40' },
    'nothing',
  ],
  ['no log to ask: refused, as before', { at: '0', start: undefined, until: '40' }, 'refused'],
  ['the log still starts at 0: records live read are missing from the archive', { at: '0', start: '0', until: '40' }, 'refused'],
  ['the log starts where the archive ends: the rest is in the log', { at: '10', start: '10', until: '40' }, 'refused'],
  [
    'the log starts between the archive end and the live position: part still in the log',
    { at: '10', start: '39', until: '40' },
    'refused',
  ],
  ['the log starts at the live position: everything between deleted', { at: '0', start: '40', until: '40' }, 'passed'],
  ['the log starts past the live position', { at: '10', start: '95', until: '40' }, 'passed'],
  ['offsets past 2^53', { at: '9007199254740990', start: '9007199254740993', until: '9007199254740993' }, 'passed'],
]

void describe('catchUpFromArchive: the archive ends before the live position', () => {
  for (const [name, c, want] of cases) {
    void test(name, async () => {
      const warnings: Record<string, unknown>[] = []
      const noop: LogFn = () => {}
      const warn: LogFn = (a: object | string) =>
        void warnings.push(typeof a === 'string' ? { msg: a } : (a as Record<string, unknown>))
      const logger: Logger = { fatal: noop, error: noop, warn, info: noop, debug: noop, trace: noop, child: () => logger }
      let asked = 0
      const log =
        c.start === undefined
          ? undefined
          : {
              logStart: async () => {
                asked++
                return c.start!
              },
              logger,
            }
      const task = createPartitionTask({ views: [userPurchases], source: purchases })
      const processor = new PartitionProcessor({
        topic: purchases.topic,
        partition: 2,
        source: purchases,
        task,
        nextOffset: c.at,
      })
      const run = catchUpFromArchive(processor, emptyArchive, decoder, c.until, 0, undefined, log)
      if (want === 'refused') {
        await assert.rejects(run, (err: unknown) => {
          assert.ok(err instanceof FeatureStoreError && err.code === 'INVARIANT_VIOLATED', String(err))
          assert.match(err.message, new RegExp(`${purchases.topic}/2 stopped at ${c.at}, before ${c.until}`))
          if (c.start !== undefined) assert.match(err.message, new RegExp(`the log starts at ${c.start}`))
          return true
        })
        assert.deepEqual(warnings, [])
        return
      }
      const out = await run
      assert.equal(asked, want === 'passed' ? 1 : 0, 'the log start read only for a tail the archive lacks')
      if (want === 'nothing') {
        assert.equal(out.skipped, undefined)
        assert.deepEqual(warnings, [])
        return
      }
      assert.deepEqual(out.skipped, { from: c.at, to: c.until })
      assert.equal(processor.nextOffset, c.until, 'the view stands at the live position')
      assert.deepEqual(
        warnings.map((w) => [w.partition, w.view, w.from, w.resumeAt, w.logStart]),
        [[2, `${userPurchases.name}@${userPurchases.version}`, c.at, c.until, c.start]],
        'the stretch passed is said',
      )
    })
  }
})
