/**
 * The platformatic adapter's reading of a raw Fetch answer (fetched-partition.ts) and its
 * exclusive assigner, on hand-built answers: no broker needed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ClusterMetadata, ExtendedGroupProtocolSubscription, RecordsBatch } from '@platformatic/kafka'
import { readFetchedPartition, type FetchResponsePartition } from '../../../adapters/event-log/platformatic/fetched-partition.ts'
import { exclusiveAssignments, ownershipClaim } from '../../../adapters/event-log/platformatic/exclusive-assigner.ts'

const TRANSACTIONAL = 1 << 4
const CONTROL = 1 << 5
const LOG_APPEND_TIME = 1 << 3

function batch(
  firstOffset: number,
  values: string[],
  options: { producerId?: number; attributes?: number; timestamp?: number } = {},
): RecordsBatch {
  return {
    firstOffset: BigInt(firstOffset),
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes: options.attributes ?? 0,
    lastOffsetDelta: values.length - 1,
    firstTimestamp: BigInt(options.timestamp ?? 1_000),
    maxTimestamp: BigInt((options.timestamp ?? 1_000) + 99),
    producerId: BigInt(options.producerId ?? -1),
    producerEpoch: 0,
    firstSequence: 0,
    records: values.map((v, i) => ({
      length: 0,
      attributes: 0,
      timestampDelta: BigInt(i),
      offsetDelta: i,
      key: Buffer.from(`k${v}`),
      value: Buffer.from(v),
      headers: [[Buffer.from('h'), Buffer.from(v)] as [Buffer, Buffer]],
    })),
  }
}

/** A transaction marker: one control record whose key is version 0, type 0 (abort) or 1 (commit). */
function marker(offset: number, producerId: number, type: 'abort' | 'commit'): RecordsBatch {
  const b = batch(offset, ['marker'], { producerId, attributes: TRANSACTIONAL | CONTROL })
  const key = Buffer.alloc(4)
  key.writeInt16BE(type === 'abort' ? 0 : 1, 2)
  b.records[0]!.key = key
  return b
}

function answer(
  records: RecordsBatch[],
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[] = [],
): FetchResponsePartition {
  return {
    partitionIndex: 2,
    errorCode: 0,
    highWatermark: 99n,
    lastStableOffset: 99n,
    logStartOffset: 0n,
    abortedTransactions,
    preferredReadReplica: -1,
    records,
  }
}

const values = (r: ReturnType<typeof readFetchedPartition>) =>
  r.records.map((x) => `${x.offset}:${Buffer.from(x.value!).toString()}`)

void test('platformatic fetch > records at or after the fetched offset, markers skipped, next past the last entry', () => {
  const read = readFetchedPartition(
    't',
    answer([batch(0, ['a', 'b', 'c'], { producerId: 7, attributes: TRANSACTIONAL }), marker(3, 7, 'commit')]),
    1n,
    true,
  )
  assert.deepEqual(values(read), ['1:b', '2:c'])
  assert.equal(read.next, 4n)
  const first = read.records[0]!
  assert.deepEqual([first.topic, first.partition, first.timestampMs, first.headers], ['t', 2, 1_001, { h: 'b' }])
  assert.equal(Buffer.from(first.key!).toString(), 'kb')
})

void test('platformatic fetch > an answer of markers only moves next without records; an empty answer moves nothing', () => {
  assert.deepEqual(readFetchedPartition('t', answer([marker(5, 7, 'commit')]), 5n, true), { records: [], next: 6n })
  assert.deepEqual(readFetchedPartition('t', answer([]), 5n, true), { records: [], next: undefined })
})

void test('platformatic fetch > read-committed drops an aborted transaction even when its abort marker is past the answer', () => {
  const open = [
    batch(0, ['ok'], { producerId: 1, attributes: TRANSACTIONAL }),
    batch(1, ['x', 'y'], { producerId: 2, attributes: TRANSACTIONAL }),
  ]
  const aborted = [{ producerId: 2n, firstOffset: 1n }]
  // The library keeps producer 2's records when the answer ends before its abort marker.
  assert.deepEqual(values(readFetchedPartition('t', answer(open, aborted), 0n, true)), ['0:ok'])
  assert.equal(readFetchedPartition('t', answer(open, aborted), 0n, true).next, 3n)
  // With the marker in the answer, the producer's later transaction is delivered again.
  const later = [...open, marker(3, 2, 'abort'), batch(4, ['z'], { producerId: 2, attributes: TRANSACTIONAL })]
  assert.deepEqual(values(readFetchedPartition('t', answer(later, aborted), 0n, true)), ['0:ok', '4:z'])
  // Read-uncommitted delivers everything but markers.
  assert.deepEqual(values(readFetchedPartition('t', answer(later, aborted), 0n, false)), ['0:ok', '1:x', '2:y', '4:z'])
})

void test('platformatic fetch > a broker-stamped batch (LogAppendTime) gives every record its max timestamp', () => {
  const read = readFetchedPartition(
    't',
    answer([batch(0, ['a', 'b'], { attributes: LOG_APPEND_TIME, timestamp: 5_000 })]),
    0n,
    false,
  )
  assert.deepEqual(
    read.records.map((r) => r.timestampMs),
    [5_099, 5_099],
  )
})

void test('platformatic exclusive assigner > everything to the member that owns partitions, else to the smallest id', () => {
  const metadata = {
    topics: new Map([
      ['t', { partitionsCount: 3 }],
      ['u', { partitionsCount: 1 }],
    ]),
  } as unknown as ClusterMetadata
  const member = (memberId: string, owns: boolean) =>
    [memberId, { memberId, version: 0, metadata: ownershipClaim(owns) }] as [string, ExtendedGroupProtocolSubscription]
  const assigned = (members: [string, ExtendedGroupProtocolSubscription][]) =>
    Object.fromEntries(
      exclusiveAssignments('x', new Map(members), new Set(['t', 'u']), metadata).map((a) => [
        a.memberId,
        [...a.assignments.values()],
      ]),
    )
  assert.deepEqual(assigned([member('b', true), member('a', false)]), {
    a: [],
    b: [
      { topic: 't', partitions: [0, 1, 2] },
      { topic: 'u', partitions: [0] },
    ],
  })
  assert.deepEqual(Object.keys(assigned([member('b', false), member('a', false)])).sort(), ['a', 'b'])
  assert.equal(assigned([member('b', false), member('a', false)]).a?.length, 2)
})
