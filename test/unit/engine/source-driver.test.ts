/**
 * The bounded side of the Source port: the archive as a source (record batches cut before every
 * idle marker, ranges and snapshots passed through) and the one loop that drains a partition into
 * a slot or a processor (engine/source-driver.ts).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { drainPartition, type PartitionInput } from '../../../engine/source-driver.ts'
import { archiveSource } from '../../../engine/sources/archive-source.ts'
import type { ArchiveReader, ArchiveRow } from '../../../ports/offline.ts'
import type { SourceChunk, SourceRecord } from '../../../ports/source.ts'

const record = (offset: number): ArchiveRow => ({
  partition: 0,
  offset: String(offset),
  eventTimeMs: offset,
  key: null,
  schemaId: 1,
  payload: new Uint8Array([offset]),
  markerWatermarkMs: null,
  timestampMs: 1_000 + offset,
})
const marker = (offset: number, watermarkMs: number): ArchiveRow => ({ ...record(offset), payload: null, schemaId: null, eventTimeMs: null, markerWatermarkMs: watermarkMs })

function fakeArchive(rows: readonly ArchiveRow[]) {
  const reads: unknown[] = []
  const ends: (string | undefined)[] = []
  const reader: Pick<ArchiveReader, 'archiveEnd' | 'readArchiveBatches'> = {
    async archiveEnd(_topic, snapshotId) {
      ends.push(snapshotId)
      return { snapshotId: snapshotId ?? 'latest', nextOffsets: { 0: '9' } }
    },
    // Read batches of 4 that do not line up with the source's batches or its markers.
    async *readArchiveBatches(topic, partition, options) {
      reads.push({ topic, partition, ...options })
      for (let i = 0; i < rows.length; i += 4) yield rows.slice(i, i + 4)
    },
  }
  return { reader, reads, ends }
}

async function collect(chunks: AsyncIterable<SourceChunk>): Promise<SourceChunk[]> {
  const out: SourceChunk[] = []
  for await (const c of chunks) out.push(c)
  return out
}

const shape = (chunks: readonly SourceChunk[]) => chunks.map((c) => (c.kind === 'marker' ? `m${c.offset}@${c.watermarkMs}` : c.records.map((r) => r.offset).join(',')))

void test('archive source > records in batches of at most batchRecords, cut before every marker, markers in place', async () => {
  const { reader } = fakeArchive([record(0), record(1), record(2), marker(3, 50), marker(3, 60), record(3), record(4), record(5), record(6), marker(7, 70)])
  const chunks = await collect(archiveSource(reader, 'clicks', { batchRecords: 3 }).read(0))
  assert.deepEqual(shape(chunks), ['0,1,2', 'm3@50', 'm3@60', '3,4,5', '6', 'm7@70'])
  const first = (chunks[0] as Extract<SourceChunk, { kind: 'records' }>).records[0] as SourceRecord
  assert.deepEqual({ ...first, value: [...(first.value ?? [])] }, { offset: '0', key: null, value: [0], timestampMs: 1_000, headers: {} })
})

void test('archive source > ranges and the fixed snapshot reach the reader; ends come from archiveEnd', async () => {
  const { reader, reads, ends } = fakeArchive([])
  const latest = archiveSource(reader, 'clicks')
  await collect(latest.read(2, { from: '5', until: '9' }))
  const fixed = latest.at('17')
  await collect(fixed.read(1))
  assert.deepEqual(reads, [
    { topic: 'clicks', partition: 2, fromOffset: '5', untilOffset: '9', snapshotId: undefined },
    { topic: 'clicks', partition: 1, fromOffset: undefined, untilOffset: undefined, snapshotId: '17' },
  ])
  assert.deepEqual(await latest.ends(), { snapshotId: 'latest', ends: { 0: '9' } })
  assert.deepEqual(await fixed.ends(), { snapshotId: '17', ends: { 0: '9' } })
  assert.deepEqual(ends, [undefined, '17'])
})

/** A recording input: applies records at or after its position, as a slot does. */
function recordingInput(startAt: number) {
  let next = BigInt(startAt)
  const log: string[] = []
  const input: PartitionInput<{ records: number; what: string }> = {
    get nextOffset() {
      return next.toString()
    },
    async processRecords(records: readonly SourceRecord[], createdAtMs: number) {
      const fresh = records.filter((r) => BigInt(r.offset) >= next)
      if (fresh.length > 0) next = BigInt(fresh.at(-1)!.offset) + 1n
      log.push(`records ${fresh.map((r) => r.offset).join(',')} at ${createdAtMs}`)
      return { records: fresh.length, what: 'records' }
    },
    processMarker(watermarkMs: number, createdAtMs: number) {
      log.push(`marker ${watermarkMs} at ${next} (${createdAtMs})`)
      return { records: 0, what: 'marker' }
    },
  }
  return { input, log }
}

async function* chunksOf(...chunks: SourceChunk[]): AsyncIterable<SourceChunk> {
  yield* chunks
}
const recs = (...offsets: number[]): SourceChunk => ({ kind: 'records', records: offsets.map((o) => ({ offset: String(o), key: null, value: null, timestampMs: 0, headers: {} })) })

void test('drain > records and markers in source order; markers before the position are skipped; outputs and hooks in order', async () => {
  const { input, log } = recordingInput(2)
  const outputs: string[] = []
  let stamp = 100
  const drained = await drainPartition(input, chunksOf({ kind: 'marker', offset: '1', watermarkMs: 10 }, recs(1, 2, 3), { kind: 'marker', offset: '4', watermarkMs: 20 }, recs(4), { kind: 'marker', offset: '5', watermarkMs: 30 }), {
    createdAtMs: () => stamp++,
    onOutput: (out) => void outputs.push(out.what),
    afterRecords: async () => void outputs.push('after'),
  })
  assert.deepEqual(log, ['records 2,3 at 100', 'marker 20 at 4 (101)', 'records 4 at 102', 'marker 30 at 5 (103)'])
  assert.deepEqual(outputs, ['records', 'after', 'marker', 'records', 'after', 'marker'])
  assert.deepEqual(drained, { records: 3, markers: 2 })
})

void test('drain > an error from the input stops the read of the source', async () => {
  let closed = false
  async function* source(): AsyncIterable<SourceChunk> {
    try {
      yield recs(0)
      yield recs(1)
    } finally {
      closed = true
    }
  }
  const { input } = recordingInput(0)
  const failing = { ...input, nextOffset: '0', processRecords: async () => Promise.reject(new Error('decoder down')) }
  await assert.rejects(drainPartition(failing, source(), { createdAtMs: () => 0 }), /decoder down/)
  assert.equal(closed, true)
})
