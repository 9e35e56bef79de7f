/**
 * The embedded log after a crash mid-append, at every byte: the batch in flight (not acknowledged)
 * cut anywhere — inside the open segment, or in a segment a roll had just created — reopens at
 * the acknowledged end with every acknowledged record and the in-flight records written whole,
 * and appends go on from there. And readers while appends roll segments:
 * every record once, in order, to the members of a group that changes as it reads.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { encodeRecords } from '../../../adapters/event-log/embedded/record-format.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { eventually } from '../../contracts/event-log.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-log-crash-'))
const value = (i: number) => Buffer.from(`value ${i}`.padEnd(20 + (i % 7), '.'))

async function values(dir: string): Promise<string[]> {
  const log = new EmbeddedEventLog({ dir, pollIntervalMs: 5 })
  const [end] = await log.endOffsets('t')
  const got: string[] = []
  const consumer = log.consumer({ groupId: 'reader', topics: ['t'] })
  await consumer.run({
    eachBatch: async (b) => void got.push(...b.records.map((r) => `${r.offset}:${Buffer.from(r.value!).toString()}`)),
  })
  await eventually(() => got.length >= Number(end), 'every record')
  await log.close()
  return got
}

void describe('event log > embedded > crash mid-append', () => {
  void test('the batch in flight cut at every byte, in the open segment or a segment just rolled to: reopens at the acknowledged end, appends go on', async () => {
    // 9 records acknowledged in 3 batches (about 190 bytes each): segments of 1000 bytes hold the 4th
    // too; of 150, each batch fills one, so the 4th goes to a segment its roll creates.
    for (const segmentBytes of [1000, 150]) {
      const dir = tempDir()
      const log = new EmbeddedEventLog({ dir, segmentBytes })
      await log.createTopic('t', 1)
      for (let b = 0; b < 3; b++)
        await log.produce(
          't',
          [0, 1, 2].map((i) => ({ key: `k${3 * b + i}`, value: value(3 * b + i), timestampMs: 7 })),
        )
      await log.close()
      const partition = join(dir, 'topics', 't', '0')
      const last = join(
        partition,
        readdirSync(partition)
          .filter((n) => n.endsWith('.log'))
          .sort()
          .at(-1)!,
      )
      const rolls = readFileSync(last).length >= segmentBytes
      assert.equal(rolls, segmentBytes === 150, `segments of ${segmentBytes} bytes`)
      const target = rolls ? join(partition, '00000000000000000009.log') : last
      const before = rolls ? Buffer.alloc(0) : readFileSync(last)
      const { buf: inFlight, starts } = encodeRecords(
        [9, 10, 11].map((i) => ({ key: Buffer.from(`k${i}`), value: value(i), timestampMs: 7, headers: {} })),
        9,
      )
      const ends = [...starts.slice(1), inFlight.length]
      const acked = join(partition, 'acked-end')
      const ackedBefore = readFileSync(acked)
      const expected = Array.from({ length: 9 }, (_, i) => `${i}:${value(i).toString()}`)
      for (let cut = 0; cut <= inFlight.length; cut++) {
        writeFileSync(target, Buffer.concat([before, inFlight.subarray(0, cut)]))
        const what = `segments of ${segmentBytes} bytes, the batch in flight cut at byte ${cut} of ${inFlight.length}`
        const reopened = new EmbeddedEventLog({ dir })
        const [end] = await reopened.endOffsets('t')
        // The records of it written whole are kept (a prefix of the batch, as from a failed append); the torn one is cut.
        const whole = ends.filter((e) => e <= cut)
        assert.equal(end, String(9 + whole.length), what)
        assert.equal(readFileSync(target).length, before.length + (whole.at(-1) ?? 0), `${what}: the torn bytes left`)
        await reopened.close()
        writeFileSync(acked, ackedBefore)
      }
      // Cut mid-record, then appended after: every acknowledged record and the new one, in order.
      writeFileSync(target, Buffer.concat([before, inFlight.subarray(0, 30)]))
      const reopened = new EmbeddedEventLog({ dir })
      assert.deepEqual(await reopened.produce('t', [{ key: null, value: Buffer.from('after') }]), [{ partition: 0, offset: '9' }])
      await reopened.close()
      assert.deepEqual(await values(dir), [...expected, '9:after'], `segments of ${segmentBytes} bytes`)
      rmSync(dir, { recursive: true })
    }
  })
})

void describe('event log > embedded > readers while appends roll segments', () => {
  void test('a group whose members come and go while a producer appends across segment rolls gets every record once, in order', async () => {
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir, segmentBytes: 300, pollIntervalMs: 5, maxBatchRecords: 7 })
    await log.createTopic('t', 3)
    const got = new Map<number, string[]>([0, 1, 2].map((p) => [p, []]))
    const member = async () => {
      const consumer = log.consumer({ groupId: 'g', topics: ['t'] })
      await consumer.run({
        eachBatch: async (b) => {
          got.get(b.partition)!.push(...b.records.map((r: LogRecord) => `${r.offset}:${Buffer.from(r.value!).toString()}`))
          await consumer.commit([{ topic: 't', partition: b.partition, offset: String(Number(b.records.at(-1)!.offset) + 1) }])
        },
      })
      return consumer
    }
    const first = await member()
    let second: Awaited<ReturnType<typeof member>> | undefined
    const produced = new Map<number, string[]>([0, 1, 2].map((p) => [p, []]))
    for (let b = 0; b < 120; b++) {
      const records = Array.from({ length: 1 + (b % 4) }, (_, i) => ({
        key: null,
        value: Buffer.from(`v${b}-${i}`.padEnd(10 + ((b * i) % 30), '.')),
        partition: (b + i) % 3,
      }))
      const out = await log.produce('t', records)
      out.forEach((o, i) => produced.get(o.partition)!.push(`${o.offset}:${records[i]!.value.toString()}`))
      if (b === 30) second = await member()
      if (b === 70) await first.stop()
      if (b % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 2))
    }
    await eventually(() => [0, 1, 2].every((p) => got.get(p)!.length >= produced.get(p)!.length), 'every record')
    await second?.stop()
    await log.close()
    assert.ok(readdirSync(join(dir, 'topics', 't', '0')).filter((n) => n.endsWith('.log')).length > 3, 'segments rolled')
    for (const p of [0, 1, 2]) assert.deepEqual(got.get(p), produced.get(p), `partition ${p}`)
  })
})
