/**
 * kafkajs 2.2.4's `waitForLeaders` gives up on a broker that has not applied a just-created topic
 * (topic-create.ts): such a failure of the wait is followed by kfs's own bounded wait for every
 * partition's leader; failures of the creation itself pass through at once.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createTopicSafely, isLeaderWaitFailure } from '../../../adapters/event-log/kafka/topic-create.ts'

function kafkaError(type: string): Error {
  return Object.assign(new Error(`This server does not host this topic-partition (${type})`), { type, retriable: true })
}

function timeoutError(): Error {
  return Object.assign(new Error('Timed out while waiting for topic leaders'), { name: 'KafkaJSTimeout' })
}

type Answer = { throws: unknown } | { leaders: readonly number[] }

/** An admin whose createTopics fails with `createFailure` (or succeeds) and whose metadata answers in turn. */
function fakeAdmin(createFailure: unknown, answers: readonly Answer[]) {
  const calls = { create: 0, metadata: 0, sleeps: [] as number[] }
  const admin = {
    createTopics: async () => {
      calls.create++
      if (createFailure !== undefined) throw createFailure
      return true
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      const answer = answers[calls.metadata++] ?? answers[answers.length - 1]!
      if ('throws' in answer) throw answer.throws
      return {
        topics: [
          {
            name: topics[0]!,
            partitions: answer.leaders.map((leader, partitionId) => ({
              partitionId,
              leader,
              partitionErrorCode: 0,
              replicas: [],
              isr: [],
            })),
          },
        ],
      }
    },
  }
  const sleep = async (ms: number) => {
    calls.sleeps.push(ms)
  }
  return { admin, calls, sleep }
}

const TOPIC = { topic: 't', numPartitions: 3 }

void describe('adapters > kafka > topic creation around the kafkajs leader wait', () => {
  void test('only the wait’s failures are recognised: not-yet-visible answers and the wait’s timeout', () => {
    for (const type of ['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION'])
      assert.ok(isLeaderWaitFailure(kafkaError(type)), type)
    assert.ok(isLeaderWaitFailure(timeoutError()))
    for (const type of ['INVALID_PARTITIONS', 'TOPIC_AUTHORIZATION_FAILED', 'INVALID_CONFIG', 'NOT_CONTROLLER'])
      assert.ok(!isLeaderWaitFailure(kafkaError(type)), type)
    assert.ok(
      !isLeaderWaitFailure(new Error('Timed out while waiting for topic leaders')),
      'the message alone, on an error that is not kafkajs’s timeout, is not',
    )
    assert.ok(!isLeaderWaitFailure(Object.assign(new Error('Request timed out'), { name: 'KafkaJSTimeout' })))
  })

  void test('a creation whose wait succeeds asks nothing more', async () => {
    const { admin, calls, sleep } = fakeAdmin(undefined, [])
    await createTopicSafely(admin as never, TOPIC, sleep)
    assert.deepEqual({ create: calls.create, metadata: calls.metadata }, { create: 1, metadata: 0 })
  })

  void test('every wait failure, then k not-yet answers (unknown topic, missing partitions, no leader), then leaders: resolves after k + 1 asks', async () => {
    const notYet: Answer[] = [
      { throws: kafkaError('UNKNOWN_TOPIC_OR_PARTITION') },
      { leaders: [] },
      { leaders: [1, 1] },
      { leaders: [1, -1, 1] },
      { throws: kafkaError('LEADER_NOT_AVAILABLE') },
      { leaders: [-1, -1, -1] },
      { throws: kafkaError('NOT_LEADER_FOR_PARTITION') },
    ]
    for (const failure of [kafkaError('UNKNOWN_TOPIC_OR_PARTITION'), kafkaError('LEADER_NOT_AVAILABLE'), timeoutError()]) {
      for (let k = 0; k <= notYet.length; k++) {
        const { admin, calls, sleep } = fakeAdmin(failure, [...notYet.slice(0, k), { leaders: [1, 1, 1] }])
        await createTopicSafely(admin as never, TOPIC, sleep)
        assert.equal(calls.metadata, k + 1, `k=${k}`)
        assert.equal(calls.create, 1, 'the creation itself is not repeated')
        assert.ok(
          calls.sleeps.every((ms) => ms > 0 && ms <= 1_000),
          'each ask waits a bounded back-off first',
        )
      }
    }
  })

  void test('bounded: leaders that never come fail after ten asks with the last reason', async () => {
    const { admin, calls, sleep } = fakeAdmin(kafkaError('UNKNOWN_TOPIC_OR_PARTITION'), [{ leaders: [1, -1, 1] }])
    await assert.rejects(createTopicSafely(admin as never, TOPIC, sleep), /2 of 3 partitions have a leader/)
    assert.equal(calls.metadata, 10)
    const {
      admin: a2,
      calls: c2,
      sleep: s2,
    } = fakeAdmin(kafkaError('UNKNOWN_TOPIC_OR_PARTITION'), [{ throws: kafkaError('LEADER_NOT_AVAILABLE') }])
    await assert.rejects(
      createTopicSafely(a2 as never, TOPIC, s2),
      (err: unknown) => (err as { type?: string }).type === 'LEADER_NOT_AVAILABLE',
    )
    assert.equal(c2.metadata, 10)
  })

  void test('failures of the creation, and other errors while waiting, pass through at once', async () => {
    for (const type of ['INVALID_PARTITIONS', 'TOPIC_AUTHORIZATION_FAILED', 'INVALID_REPLICATION_FACTOR']) {
      const { admin, calls, sleep } = fakeAdmin(kafkaError(type), [{ leaders: [1, 1, 1] }])
      await assert.rejects(
        createTopicSafely(admin as never, TOPIC, sleep),
        (err: unknown) => (err as { type?: string }).type === type,
      )
      assert.equal(calls.metadata, 0, type)
    }
    const { admin, calls, sleep } = fakeAdmin(kafkaError('UNKNOWN_TOPIC_OR_PARTITION'), [
      { throws: kafkaError('TOPIC_AUTHORIZATION_FAILED') },
    ])
    await assert.rejects(
      createTopicSafely(admin as never, TOPIC, sleep),
      (err: unknown) => (err as { type?: string }).type === 'TOPIC_AUTHORIZATION_FAILED',
    )
    assert.equal(calls.metadata, 1)
  })
})
