/**
 * Every step of the live engine's stop, failed in turn: a partition's final checkpoint at
 * revocation, one in the stop's own pass over partitions still held (a consumer that stopped
 * without revoking, as a crashed Kafka consumer does), the dead-letter flush, leaving the consumer
 * group, a re-key stage's stop, and a re-key stage's last transaction failing while it stops. The
 * first and the last used to be only logged or reported elsewhere, so stop() resolved and `kfs run`
 * exited 0 as after a clean stop; the others rejected with the bare error and cut the stop short
 * (a failing re-key stage's stop skipped every final checkpoint). Now stop() runs
 * every other step anyway and then rejects with one line naming what failed and where the next
 * start resumes; the table's clean row checks that a stop with nothing failing still resolves.
 * (test/support/checkpoint-fault-scenario.ts faults every step of the checkpoint itself at the stop.)
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { silentLogger } from '../../../core/logger.ts'
import { CheckpointError } from '../../../core/errors.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import { CheckpointStore } from '../../../engine/checkpoint-store.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { createLiveEngine } from '../../../engine/live-engine.ts'
import { rekeyedSource } from '../../../engine/plan-sources.ts'
import type { DeadLetterSink } from '../../../ports/dead-letters.ts'
import type { LogConsumer } from '../../../ports/event-log.ts'
import type { LogTransaction, TransactionalEventLog } from '../../../ports/event-log-transaction.ts'
import { createDecoder } from '../../../schemas/decoder.ts'
import { createEncoder } from '../../../schemas/encoder.ts'
import { fastRetryClock } from '../../support/checkpoint-fault-scenario.ts'
import { FaultyObjectStore, InjectedFault } from '../../support/faulty-object-store.ts'
import { waitFor } from '../../support/scenario.ts'
import { PARTITIONS, T0, buy, buys, itemSpend, spend } from './crash-chaos-workload.ts'

const GROUP = 'kfs-engine'
const DEAD_LETTERS = 'kfs.dead-letters'
const INTERNAL = rekeyedSource(buys, itemSpend.entity).topic

/** What one case breaks, just before the stop (the engine ran healthy until then). */
interface Breakage {
  /** Object-store writes of operator state fail from now on (every attempt). */
  stateWrites?: boolean
  /** The views' consumer stops without revoking its partitions (the engine still holds them). */
  noRevocation?: boolean
  deadLetterFlush?: boolean
  /** The consumer of this group (prefix) rejects its stop once it has stopped. */
  consumerStop?: 'views' | 're-key'
  /** A re-key transaction is open when the stop begins, and its commit then fails (fatal for the engine too). */
  rekeyCommitDuringStop?: boolean
}

const CASES: readonly { name: string; breaks: Breakage; error: RegExp | undefined; engineFails?: boolean }[] = [
  { name: 'nothing fails', breaks: {}, error: undefined },
  {
    name: 'the final checkpoints at revocation',
    breaks: { stateWrites: true },
    error:
      /^the checkpoint of buys\/0, buys\/1, buys\/2(, kfs\.buys\.by-item\/\d+)* failed \(the first of them: gave up after 10 attempts, the last: injected failure of put /,
  },
  {
    name: "the final checkpoints of the stop's own pass (partitions never revoked)",
    breaks: { stateWrites: true, noRevocation: true },
    error: /^the checkpoint of buys\/0, buys\/1, buys\/2(, kfs\.buys\.by-item\/\d+)* failed/,
  },
  {
    name: 'the dead-letter flush',
    breaks: { deadLetterFlush: true },
    error: /^the dead-letter flush failed: dead letters refused/,
  },
  {
    name: 'leaving the consumer group',
    breaks: { consumerStop: 'views' },
    error: /^leaving the consumer group failed: injected failure of the views consumer's stop/,
  },
  {
    name: "a re-key stage's stop",
    breaks: { consumerStop: 're-key' },
    error: new RegExp(
      `^re-key stage ${INTERNAL.replaceAll('.', '\\.')} failed: injected failure of the re-key consumer's stop\\. .*\\(a re-key stage: from its last committed transaction\\)`,
    ),
  },
  {
    name: "a re-key stage's last transaction, failing while the stage stops",
    breaks: { rekeyCommitDuringStop: true },
    error: new RegExp(
      `^re-key stage ${INTERNAL.replaceAll('.', '\\.')} failed: injected failure of the re-key transaction's commit\\. `,
    ),
    engineFails: true,
  },
]

/** A commit held until the test releases it (then it fails), and how the test learns it was reached. */
interface HeldCommit {
  readonly reached: () => void
  readonly release: Promise<void>
}

/** `inner` with its consumers' stop and revocations, and the re-key stage's commits, under the case's control. */
function controlledLog(inner: EmbeddedEventLog, breaks: () => Breakage, held: { commit?: HeldCommit }): TransactionalEventLog {
  const transaction = async (id: string): Promise<LogTransaction> => {
    const txn = await inner.transaction(id)
    return {
      produce: (topic, records) => txn.produce(topic, records),
      sendOffsets: (groupId, offsets) => txn.sendOffsets(groupId, offsets),
      abort: () => txn.abort(),
      commit: async () => {
        const hold = held.commit
        if (hold === undefined) return txn.commit()
        held.commit = undefined
        hold.reached()
        await hold.release
        throw new InjectedFault("injected failure of the re-key transaction's commit")
      },
    }
  }
  const consumer = (c: LogConsumer, groupId: string): LogConsumer => {
    const who = groupId.includes('.rekey.') ? 're-key' : 'views'
    let stopping = false
    return {
      run: (handlers) =>
        c.run({
          ...handlers,
          onRevoked: async (revoked) => {
            if (stopping && who === 'views' && breaks().noRevocation) return
            await handlers.onRevoked?.(revoked)
          },
        }),
      commit: (offsets) => c.commit(offsets),
      seek: (position) => c.seek(position),
      pause: (partitions) => c.pause(partitions),
      resume: (partitions) => c.resume(partitions),
      stop: async () => {
        stopping = true
        await c.stop()
        if (breaks().consumerStop === who) throw new InjectedFault(`injected failure of the ${who} consumer's stop`)
      },
    }
  }
  return {
    createTopic: (topic, partitions) => inner.createTopic(topic, partitions),
    partitionCount: (topic) => inner.partitionCount(topic),
    produce: (topic, records) => inner.produce(topic, records),
    endOffsets: (topic) => inner.endOffsets(topic),
    startOffsets: (topic) => inner.startOffsets(topic),
    committedOffsets: (groupId, topic) => inner.committedOffsets(groupId, topic),
    transaction,
    consumer: (options) => consumer(inner.consumer(options), options.groupId),
    close: () => inner.close(),
  }
}

for (const { name, breaks, error, engineFails = false } of CASES) {
  void test(`live engine stop: ${name} → ${error === undefined ? 'resolves' : 'rejects, naming it'}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kfs-stop-failures-'))
    const log = new EmbeddedEventLog({ dir: join(dir, 'log'), fsync: 'never' })
    try {
      const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
      const encoder = await createEncoder({ registry, subject: `${buys.topic}-value`, schema: buys.schema })
      await log.createTopic(buys.topic, PARTITIONS)
      const produce = (from: number, to: number) =>
        log.produce(
          buys.topic,
          Array.from({ length: to - from }, (_, n) => {
            const i = from + n
            return {
              key: `u${i % 7}`,
              partition: i % PARTITIONS,
              value: encoder.encode(buy(`u${i % 7}`, `i${i % 5}`, i, T0 + i * 1_000)),
            }
          }),
        )
      await produce(0, 60)
      let broken: Breakage = {}
      const held: { commit?: HeldCommit } = {}
      const store = new FaultyObjectStore(new MemoryObjectStore())
      const topicSink = createDeadLetterTopicSink(log, DEAD_LETTERS)
      const deadLetters: DeadLetterSink = {
        write: (letters) => topicSink.write(letters),
        flush: async () => {
          await topicSink.flush()
          if (broken.deadLetterFlush) throw new InjectedFault('dead letters refused')
        },
      }
      const engine = createLiveEngine({
        log: controlledLog(log, () => broken, held),
        stateStore: store,
        offline: new IcebergOfflineSink(store, { clock: fastRetryClock }),
        online: new EmbeddedOnlineStore(),
        deadLetters,
        deadLetterTopic: DEAD_LETTERS,
        decoderFor: (s) => createDecoder({ registry, readerSchema: s.schema }),
        views: [spend, itemSpend],
        groupId: GROUP,
        clock: fastRetryClock,
        logger: silentLogger,
        checkpointIntervalMs: 60_000,
        tickMs: 20,
      })
      await engine.start()
      await waitFor(() => engine.isCaughtUp(100), 'engine caught up')
      const read = await log.endOffsets(buys.topic)
      broken = breaks
      if (breaks.stateWrites)
        store.arm({ operation: 'put', key: /\/state-\d+-[^/]*\.bin$/, when: 'before', skip: 0, times: Infinity })

      let release = () => {}
      if (breaks.rekeyCommitDuringStop) {
        // More records, whose re-key transaction is held open until the stop has begun.
        let reached = () => {}
        const commitReached = new Promise<void>((resolve) => (reached = resolve))
        held.commit = { reached, release: new Promise<void>((resolve) => (release = resolve)) }
        await produce(60, 70)
        await commitReached
      }
      const stopping = engine.stop()
      release()
      const stopped = await stopping.then(
        () => undefined,
        (err: unknown) => err,
      )
      assert.equal(engine.failure !== undefined, engineFails, `the engine itself failed: ${String(engine.failure)}`)
      if (error === undefined) {
        assert.equal(stopped, undefined, `a clean stop resolves: ${String(stopped)}`)
      } else {
        assert.ok(stopped instanceof CheckpointError, `stop rejected with kfs's error, not ${String(stopped)}`)
        assert.equal(stopped.code, 'CHECKPOINT_FAILED')
        assert.match(stopped.message, error)
        assert.match(stopped.message, /Nothing is lost: the next start resumes from the last checkpoint that was published/)
        assert.doesNotMatch(stopped.message, /\n/, 'one line')
      }
      // Whatever failed, every step the failure did not touch still ran: each partition's final
      // checkpoint (when state writes worked) published at least what the engine had read when it
      // caught up — its end, unless more records came while the stop began — so a next start reads
      // none of that again.
      if (!breaks.stateWrites) {
        const checkpoints = new CheckpointStore(store, GROUP)
        const ends = await log.endOffsets(buys.topic)
        for (let p = 0; p < PARTITIONS; p++) {
          const published = BigInt((await checkpoints.latest(buys.topic, p))?.nextOffset ?? -1)
          const what = `partition ${p}: the stop's final checkpoint published ${published}`
          if (breaks.rekeyCommitDuringStop) assert.ok(published >= BigInt(read[p]!), `${what}, at least ${read[p]}`)
          else assert.equal(published, BigInt(ends[p]!), `${what}, its end ${ends[p]}`)
        }
      }
    } finally {
      await log.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
}
