/**
 * kafkajs 2.2.4's fetchTopicOffsets race (topic-offsets.ts): the one failure it has when it reads
 * a topic's partitions from metadata still being refreshed is retried after a metadata refresh,
 * boundedly; every other error passes through at once; calls on one client never overlap.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createTopicOffsetsQueue, fetchTopicOffsetsSafely, isKafkajsMetadataRace, type TopicOffsets } from '../../../adapters/event-log/kafka/topic-offsets.ts'

/** The TypeError kafkajs throws (as V8 words it). */
function raceError(side: 'low' | 'high' = 'low'): TypeError {
  return new TypeError(`Cannot destructure property 'partitions' of '${side}.pop(...)' as it is undefined.`)
}

const OFFSETS: TopicOffsets = [{ partition: 0, offset: '7', high: '7', low: '0' }]

function fakeAdmin(failures: readonly unknown[]) {
  const calls = { offsets: 0, metadata: 0, active: 0, maxActive: 0 }
  return {
    calls,
    admin: {
      fetchTopicOffsets: async (_topic: string) => {
        calls.offsets++
        calls.active++
        calls.maxActive = Math.max(calls.maxActive, calls.active)
        await new Promise((r) => setTimeout(r, 2))
        calls.active--
        const failure = failures[calls.offsets - 1]
        if (failure !== undefined) throw failure
        return OFFSETS
      },
      fetchTopicMetadata: async () => {
        calls.metadata++
        return { topics: [] }
      },
    },
  }
}

void describe('adapters > kafka > topic offsets around the kafkajs metadata race', () => {
  void test('the race error is recognised on either side, other errors are not', () => {
    assert.ok(isKafkajsMetadataRace(raceError('low')))
    assert.ok(isKafkajsMetadataRace(raceError('high')))
    assert.ok(!isKafkajsMetadataRace(new TypeError("Cannot read properties of undefined (reading 'partitions')")))
    assert.ok(!isKafkajsMetadataRace(new Error("Cannot destructure property 'partitions' of 'low.pop(...)' as it is undefined.")))
  })

  void test('retried after a metadata refresh: one race, then the offsets', async () => {
    const { admin, calls } = fakeAdmin([raceError()])
    assert.deepEqual(await fetchTopicOffsetsSafely(admin as never, 't'), OFFSETS)
    assert.deepEqual({ offsets: calls.offsets, metadata: calls.metadata }, { offsets: 2, metadata: 1 })
  })

  void test('bounded: a race every time fails after three attempts with the race error', async () => {
    const { admin, calls } = fakeAdmin([raceError(), raceError(), raceError(), raceError()])
    await assert.rejects(fetchTopicOffsetsSafely(admin as never, 't'), (err: unknown) => isKafkajsMetadataRace(err))
    assert.equal(calls.offsets, 3)
  })

  void test('a partition whose leader is moving: every mix of NOT_LEADER / LEADER_NOT_AVAILABLE / the race is retried after a refresh, bounded', async () => {
    const leader = (type: string) => Object.assign(new Error(type), { type, retriable: true })
    const kinds = [() => leader('NOT_LEADER_FOR_PARTITION'), () => leader('LEADER_NOT_AVAILABLE')]
    for (let n = 0; n <= 7; n++) {
      for (const kind of kinds) {
        const slept: number[] = []
        const { admin, calls } = fakeAdmin(Array.from({ length: n }, kind))
        const sleep = async (ms: number) => void slept.push(ms)
        assert.deepEqual(await fetchTopicOffsetsSafely(admin as never, 't', sleep), OFFSETS, `${n} leader errors, then the offsets`)
        assert.deepEqual({ offsets: calls.offsets, metadata: calls.metadata, backoffs: slept.length }, { offsets: n + 1, metadata: n, backoffs: n })
        assert.ok(slept.every((ms) => ms > 0 && ms <= 1_000))
      }
    }
    const { admin, calls } = fakeAdmin(Array.from({ length: 9 }, () => leader('NOT_LEADER_FOR_PARTITION')))
    await assert.rejects(
      fetchTopicOffsetsSafely(admin as never, 't', async () => undefined),
      (err: unknown) => (err as { type?: string }).type === 'NOT_LEADER_FOR_PARTITION',
    )
    assert.equal(calls.offsets, 8, 'given up after eight attempts, with the answer of the broker')
  })

  void test('any other error passes through at once', async () => {
    const broker = Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' })
    const { admin, calls } = fakeAdmin([broker])
    await assert.rejects(fetchTopicOffsetsSafely(admin as never, 't'), (err: unknown) => err === broker)
    assert.deepEqual({ offsets: calls.offsets, metadata: calls.metadata }, { offsets: 1, metadata: 0 })
  })

  void test('calls on one client run one at a time, and a failed one does not stop the next', async () => {
    const { admin, calls } = fakeAdmin([new Error('boom')])
    const offsetsOf = createTopicOffsetsQueue(async () => admin as never)
    const results = await Promise.allSettled(['a', 'b', 'c', 'd'].map((t) => offsetsOf(t)))
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled', 'fulfilled'])
    assert.equal(calls.maxActive, 1)
  })
})
