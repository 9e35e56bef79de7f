/**
 * The embedded log's open descriptors stay bounded however many segments its partitions hold
 * (adapters/event-log/embedded/segment-handles.ts): random appends, reads from random offsets and
 * reopens of a log with small segments — far more of them than the limit — against a reference
 * of every record written, counting the process's open descriptors (/proc/self/fd) all along.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { EmbeddedLogReader } from '../../../adapters/event-log/embedded/embedded-log-reader.ts'
import { PartitionLog } from '../../../adapters/event-log/embedded/partition-log.ts'
import { SegmentHandles } from '../../../adapters/event-log/embedded/segment-handles.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import { prng } from '../../../examples/generate-events.ts'
import { eventually } from '../../contracts/event-log.ts'

const PARTITIONS = 3
const LIMIT = 4
/** Per partition, held for as long as it is open: its active segment, that segment's index file, its acknowledged-end file. */
const PER_PARTITION = 3
const SLACK = 8

const openDescriptors = () => readdirSync('/proc/self/fd').length
const segmentsOf = (dir: string) =>
  Array.from(
    { length: PARTITIONS },
    (_, p) => readdirSync(join(dir, 'topics', 't', String(p))).filter((n) => n.endsWith('.log')).length,
  ).reduce((a, b) => a + b, 0)

/** Every record of every partition from `from[p]` on, through a consumer, the open descriptors counted at each batch; returns the most seen. */
async function readFrom(
  log: EventLog,
  group: string,
  from: readonly number[],
  ends: readonly number[],
  got: string[][],
): Promise<number> {
  let most = openDescriptors()
  const consumer = log.consumer({ groupId: group, topics: ['t'] })
  from.forEach((offset, partition) => consumer.seek({ topic: 't', partition, offset: String(offset) }))
  await consumer.run({
    eachBatch: async (b) => {
      most = Math.max(most, openDescriptors())
      got[b.partition]!.push(...b.records.map((r) => `${r.offset}:${Buffer.from(r.value!).toString()}`))
    },
  })
  await eventually(
    () => got.every((records, p) => (records.at(-1)?.split(':')[0] ?? String(from[p]! - 1)) === String(ends[p]! - 1)),
    `${group} read to the end`,
  )
  await consumer.stop()
  return most
}

void describe('event log > embedded > open segments', () => {
  void test('random appends, reads and reopens over hundreds of segments: every record reads as written, and the open descriptors stay within the limit', async () => {
    for (const seed of [41, 42]) {
      const rand = prng(seed)
      const dir = mkdtempSync(join(tmpdir(), 'kfs-open-segments-'))
      const baseline = openDescriptors()
      const bound = baseline + LIMIT + PARTITIONS * PER_PARTITION + SLACK
      const options = { dir, segmentBytes: 60, pollIntervalMs: 2, fsync: 'never' as const, openSegments: LIMIT }
      let log = new EmbeddedEventLog(options)
      await log.createTopic('t', PARTITIONS)
      const written: string[][] = Array.from({ length: PARTITIONS }, () => [])
      let reads = 0
      try {
        for (let step = 0; step < 60; step++) {
          const what = `seed ${seed}, step ${step}`
          const roll = rand()
          if (roll < 0.6) {
            // A few batches, most rolling a segment (each past the segment size).
            for (let batch = Math.floor(rand() * 8); batch >= 0; batch--) {
              const partition = Math.floor(rand() * PARTITIONS)
              const values = Array.from(
                { length: 1 + Math.floor(rand() * 4) },
                () =>
                  `v${rand()
                    .toString(36)
                    .slice(2, 4 + Math.floor(rand() * 20))}`,
              )
              const out = await log.produce(
                't',
                values.map((v) => ({ key: null, value: Buffer.from(v), partition })),
              )
              out.forEach((o, i) => assert.equal(o.offset, String(written[partition]!.length + i), `${what}: offset given`))
              values.forEach((v) => written[partition]!.push(v))
            }
          } else if (roll < 0.9) {
            const from = written.map((w) => Math.floor(rand() * (w.length + 1)))
            const got: string[][] = Array.from({ length: PARTITIONS }, () => [])
            const most = await readFrom(
              log,
              `g${reads++}`,
              from,
              written.map((w) => w.length),
              got,
            )
            assert.ok(
              most <= bound,
              `${what}: ${most} descriptors open while reading (${baseline} before the log, limit ${LIMIT}, ${segmentsOf(dir)} segments)`,
            )
            got.forEach((records, p) =>
              assert.deepEqual(
                records,
                written[p]!.slice(from[p]).map((v, i) => `${from[p]! + i}:${v}`),
                `${what}: partition ${p} from ${from[p]}`,
              ),
            )
          } else {
            await log.close()
            log = new EmbeddedEventLog(options)
            assert.deepEqual(
              await log.endOffsets('t'),
              written.map((w) => String(w.length)),
              `${what}: ends after a reopen`,
            )
          }
          assert.ok(
            openDescriptors() <= bound,
            `${what}: ${openDescriptors()} descriptors open (${baseline} before the log, limit ${LIMIT}, ${segmentsOf(dir)} segments)`,
          )
          assert.ok(log.openSegments <= LIMIT, `${what}: ${log.openSegments} sealed segments open`)
        }
        assert.ok(segmentsOf(dir) > 10 * LIMIT, `seed ${seed}: only ${segmentsOf(dir)} segments`)
        // A reader beside the writer (kfs serve) bounds its own the same way.
        const reader = new EmbeddedLogReader({ dir, pollIntervalMs: 2, openSegments: LIMIT })
        const got: string[][] = Array.from({ length: PARTITIONS }, () => [])
        const most = await readFrom(
          reader,
          'beside',
          [0, 0, 0],
          written.map((w) => w.length),
          got,
        )
        await reader.close()
        assert.ok(most <= bound + LIMIT + PARTITIONS, `seed ${seed}: ${most} descriptors open with a reader beside`)
        got.forEach((records, p) =>
          assert.deepEqual(
            records,
            written[p]!.map((v, i) => `${i}:${v}`),
            `seed ${seed}: the reader's partition ${p}`,
          ),
        )
      } finally {
        await log.close()
      }
      assert.ok(
        openDescriptors() <= baseline + SLACK,
        `seed ${seed}: ${openDescriptors()} descriptors left open after close (${baseline} before)`,
      )
    }
  })

  void test('a sealed segment whose file is gone when it is next opened is refused as damage naming it, and the other segments still read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-open-segments-'))
    const log = PartitionLog.open(dir, { segmentBytes: 50, fsync: false, handles: new SegmentHandles(1) })
    try {
      for (let i = 0; i < 12; i++)
        log.append([{ timestampMs: 0, key: null, value: Buffer.from(`value ${i}`.padEnd(40, '.')), headers: {} }])
      const names = readdirSync(dir)
        .filter((n) => n.endsWith('.log'))
        .sort()
      assert.ok(names.length > 3, `${names.length} segments`)
      assert.equal(Buffer.from(log.read(11, 1, 1000)[0]!.value!).toString(), 'value 11'.padEnd(40, '.'))
      unlinkSync(join(dir, names[1]!))
      assert.throws(
        () => log.read(Number(names[1]!.slice(0, 20)), 1, 1000),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT' && err.message.includes(names[1]!),
      )
      assert.equal(Buffer.from(log.read(0, 1, 1000)[0]!.value!).toString(), 'value 0'.padEnd(40, '.'))
    } finally {
      log.close()
    }
  })
})
