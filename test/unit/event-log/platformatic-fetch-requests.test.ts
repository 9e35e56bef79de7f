/**
 * Which partitions a failed platformatic Fetch reports out of range (fetch-requests.ts), on the
 * library's own error classes, as its fetch-v17 parser throws them: the answer rides on the
 * ResponseError, not on the per-partition errors it holds. A miss here crashed the consumer
 * where retention had passed its position, instead of restarting the partition.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MultipleErrors, ProtocolError, ResponseError } from '@platformatic/kafka'
import { outOfRangePartitions, type FetchResponse } from '../../../adapters/event-log/platformatic/fetch-requests.ts'

const FETCH = 1
const OFFSET_OUT_OF_RANGE = 1
const NOT_LEADER_OR_FOLLOWER = 6
const names = new Map([
  ['id-a', 'a'],
  ['id-b', 'b'],
])

/** A Fetch answer with these error codes, by topic id then partition, and the ResponseError the library throws for it. */
function fetchFailure(codes: Record<string, Record<number, number>>): ResponseError {
  const responses = Object.entries(codes).map(([topicId, partitions]) => ({
    topicId,
    partitions: Object.entries(partitions).map(([p, errorCode]) => ({ partitionIndex: Number(p), errorCode })),
  }))
  const errors: Record<string, [number, null]> = {}
  responses.forEach((t, i) =>
    t.partitions.forEach((p, j) => {
      if (p.errorCode !== 0) errors[`/responses/${i}/partitions/${j}`] = [p.errorCode, null]
    }),
  )
  const response = { throttleTimeMs: 0, errorCode: 0, sessionId: 1, responses, nodeEndpoints: [] } as unknown as FetchResponse
  return new ResponseError(FETCH, 17, errors, response)
}

void test('the out-of-range partitions of a failed fetch, and nothing for every other failure', () => {
  const cases: [string, unknown, { topic: string; partition: number }[]][] = [
    ['one partition out of range', fetchFailure({ 'id-a': { 0: OFFSET_OUT_OF_RANGE } }), [{ topic: 'a', partition: 0 }]],
    [
      'out of range next to a healthy partition and another error',
      fetchFailure({ 'id-a': { 0: 0, 1: OFFSET_OUT_OF_RANGE }, 'id-b': { 2: NOT_LEADER_OR_FOLLOWER, 3: OFFSET_OUT_OF_RANGE } }),
      [
        { topic: 'a', partition: 1 },
        { topic: 'b', partition: 3 },
      ],
    ],
    ['a topic id the request did not name', fetchFailure({ 'id-z': { 0: OFFSET_OUT_OF_RANGE } }), []],
    [
      'the failed fetch inside a retry aggregate',
      new MultipleErrors('retries exhausted', [fetchFailure({ 'id-b': { 4: OFFSET_OUT_OF_RANGE } })]),
      [{ topic: 'b', partition: 4 }],
    ],
    ['another partition error only', fetchFailure({ 'id-a': { 0: NOT_LEADER_OR_FOLLOWER } }), []],
    ['an out-of-range protocol error with no answer', new ProtocolError('OFFSET_OUT_OF_RANGE'), []],
    ['a plain error', new Error('socket hang up'), []],
    ['not an error', 'OFFSET_OUT_OF_RANGE', []],
    ['nothing', undefined, []],
  ]
  for (const [name, err, expected] of cases) assert.deepEqual(outOfRangePartitions(err, names), expected, name)
})
