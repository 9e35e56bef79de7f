/**
 * A re-key stage's committed offsets set back or lost by an operator (rekey-committed-guard.ts,
 * docs/semantics.md §16): the rule over every ordering of committed offset and forwarded offset,
 * and a stage on the embedded log whose group is set back to every point at or before what it
 * forwarded, partition by partition and all at once: each start stops naming the partition and
 * forwards nothing; set back, the stage goes on and the internal topic holds every event once.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { systemClock } from '../../../core/clock.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { planRekeys } from '../../../engine/plan-sources.ts'
import { refuseCommittedBehindForwarded } from '../../../engine/rekey-committed-guard.ts'
import { rekeyGroupId } from '../../../engine/rekey-stage.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { clicks, itemClicks, itemDwell, userClicks } from '../../fixtures/features/rekey-scoped.ts'
import {
  assertExactlyOnce,
  generateClicks,
  produceClicks,
  readInternalTopic,
  type Click,
} from '../../fixtures/features/rekey-clicks.ts'
import { waitFor } from '../../support/scenario.ts'

const where = { groupId: 'g.rekey.s.by-item', topic: 'src', internalTopic: 'kfs.src.by-item' }

void describe('committed offsets against what the internal topic holds', () => {
  void test('refused exactly when a partition found forwarded is committed at or before that offset, or not at all', () => {
    const forwardedAt = 10n
    const committedCases: (string | undefined)[] = [undefined, '0', '9', '10', '11', '12', '500']
    // Two partitions, each with every committed case, forwarded or not: every combination.
    for (const c0 of committedCases)
      for (const c1 of committedCases)
        for (const f0 of [true, false])
          for (const f1 of [true, false]) {
            const forwarded = new Map<number, bigint>()
            if (f0) forwarded.set(0, forwardedAt)
            if (f1) forwarded.set(1, forwardedAt)
            const behind = (c: string | undefined, f: boolean) => f && (c === undefined || BigInt(c) <= forwardedAt)
            const expected = [0, 1].filter((p) => behind([c0, c1][p], [f0, f1][p]!))
            const call = () => refuseCommittedBehindForwarded(where, [c0, c1], forwarded)
            if (expected.length === 0) assert.doesNotThrow(call, `committed ${c0},${c1} forwarded ${f0},${f1}`)
            else
              assert.throws(call, (err: unknown) => {
                assert.ok(err instanceof FeatureStoreError && err.code === 'INVARIANT_VIOLATED', String(err))
                for (const p of [0, 1]) {
                  const named = err.message.includes(
                    `src/${p} committed at ${[c0, c1][p] ?? 'nothing'}, forwarded through offset 10`,
                  )
                  assert.equal(named, expected.includes(p), `partition ${p} named iff behind: ${err.message}`)
                }
                assert.match(err.message, /g\.rekey\.s\.by-item/)
                return true
              })
          }
  })
})

void test('embedded log: a re-key group set back to any point at or before what it forwarded stops the engine, forwarding nothing; set back right, it goes on once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-rekey-reset-'))
  const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
  try {
    const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
    const store = new LocalObjectStore(join(dir, 'warehouse'))
    const groupId = 'kfs-engine'
    const [itemStage] = planRekeys([userClicks, itemClicks, itemDwell])
    const stageGroup = rekeyGroupId(groupId, itemStage!)
    await log.createTopic(clicks.topic, clicks.partitions)
    const encoder = await createEncoder({ registry, subject: `${clicks.topic}-value`, schema: clicks.schema })
    const makeEngine = () =>
      createLiveEngine({
        log,
        stateStore: store,
        offline: new IcebergOfflineSink(store),
        online: new EmbeddedOnlineStore(),
        deadLetters: createDeadLetterTopicSink(log, 'kfs.dead-letters'),
        deadLetterTopic: 'kfs.dead-letters',
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [userClicks, itemClicks, itemDwell],
        groupId,
        clock: systemClock,
        logger: silentLogger,
        checkpointIntervalMs: 200,
        tickMs: 50,
      })
    const events = generateClicks({ count: 1_600, users: 40, items: 90, seed: 5 })
    const produced = await produceClicks(log, clicks.topic, encoder, events.slice(0, 1_000))
    const first = makeEngine()
    await first.start()
    await waitFor(() => first.isCaughtUp(200), 'the first clicks re-keyed')
    await first.stop()

    const committed = (await log.committedOffsets(stageGroup, clicks.topic)).map((o) => o!)
    const forwarded = await readInternalTopic(log, itemStage!.topic, 'check-forwarded', 1, 200)
    const lastForwarded = [...Array(clicks.partitions).keys()].map((p) =>
      forwarded
        .filter((r) => r.sourcePartition === p)
        .reduce((m, r) => (BigInt(r.sourceOffset) > m ? BigInt(r.sourceOffset) : m), -1n),
    )
    assert.ok(
      lastForwarded.every((o) => o >= 0n),
      'every source partition forwarded something',
    )
    const internalEnds = await log.endOffsets(itemStage!.topic)
    const setOffsets = async (offsets: readonly string[]) => {
      const operator = await log.transaction('operator')
      await operator.sendOffsets(
        stageGroup,
        offsets.map((offset, partition) => ({ topic: clicks.topic, partition, offset })),
      )
      await operator.commit()
    }
    // Each partition alone to its first record and to its last forwarded one, then all to their first.
    const cases = [...Array(clicks.partitions).keys()].flatMap((p) =>
      ['0', lastForwarded[p]!.toString()].map((at) => ({
        partitions: [p],
        offsets: committed.map((c, q) => (q === p ? at : c)),
      })),
    )
    cases.push({ partitions: [...Array(clicks.partitions).keys()], offsets: committed.map(() => '0') })
    for (const { partitions, offsets } of cases) {
      await setOffsets(offsets)
      const engine = makeEngine()
      const failed = engine.failed
      await engine.start().catch(() => undefined)
      // Taken at their word, the offsets re-key everything again and the engine catches up: that is the failure.
      const err = await Promise.race([
        failed,
        waitFor(() => engine.isCaughtUp(200), 'caught up').then(() => 'caught up, forwarding again'),
      ])
      await engine.stop().catch(() => undefined)
      assert.ok(
        err instanceof FeatureStoreError && err.code === 'INVARIANT_VIOLATED',
        `offsets ${offsets.join(',')}: ${String(err)}`,
      )
      for (const p of partitions) assert.ok(err.message.includes(`${clicks.topic}/${p} committed at ${offsets[p]},`), err.message)
      assert.deepEqual(await log.endOffsets(itemStage!.topic), internalEnds, `offsets ${offsets.join(',')}: nothing forwarded`)
    }

    await setOffsets(committed)
    produced.push(...(await produceClicks(log, clicks.topic, encoder, events.slice(1_000))))
    const last = makeEngine()
    await last.start()
    await waitFor(() => last.isCaughtUp(200), 'the rest re-keyed')
    await last.stop()
    const keyable = produced.filter((r) => r.event !== undefined && r.event.item_id !== '')
    const internal = await readInternalTopic(log, itemStage!.topic, 'check-item', keyable.length, 200)
    assertExactlyOnce(internal, keyable, (c: Click) => c.item_id, 'item topic')
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
})
