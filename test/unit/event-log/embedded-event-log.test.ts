import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { PACKED_RUN_FIELDS, type PackedRecords } from '../../../ports/event-log.ts'
import { eventually, runEventLogContract } from '../../contracts/event-log.ts'
import { runEventLogStopContract } from '../../contracts/event-log-stop.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-log-'))

runEventLogContract('embedded', async () => new EmbeddedEventLog({ dir: tempDir(), pollIntervalMs: 20, fsync: 'never' }))
runEventLogStopContract('embedded', async () => new EmbeddedEventLog({ dir: tempDir(), pollIntervalMs: 20, fsync: 'never' }))

void describe('event log > embedded > durability', () => {
  void test('offsets, records and committed offsets survive a close and reopen', async () => {
    const dir = tempDir()
    const first = new EmbeddedEventLog({ dir })
    await first.createTopic('t', 2)
    await first.produce('t', [{ key: 'a', value: Buffer.from('1') }, { key: null, value: Buffer.from('2'), partition: 1 }])
    const c = first.consumer({ groupId: 'g', topics: ['t'] })
    await c.run({ eachBatch: async () => {} })
    await c.commit([{ topic: 't', partition: 1, offset: '1' }])
    await first.close()

    const second = new EmbeddedEventLog({ dir, pollIntervalMs: 20 })
    const before = await second.endOffsets('t')
    const out = await second.produce('t', [{ key: null, value: Buffer.from('3'), partition: 1 }])
    assert.equal(out[0]?.offset, before[1])
    assert.equal(before.reduce((a, b) => a + Number(b), 0), 2)
    const got: string[] = []
    const c2 = second.consumer({ groupId: 'g', topics: ['t'] })
    await c2.run({ eachBatch: async (b) => void got.push(...b.records.map((r) => `${r.partition}:${r.offset}:${Buffer.from(r.value!).toString()}`)) })
    await eventually(() => got.length >= 2, 'records after reopen')
    await second.close()
    // Partition 1 resumes at the committed offset 1; partition 0 (never committed) starts at 0.
    assert.deepEqual(got.sort(), [`0:0:1`, `1:1:3`].sort())
  })

  void test('a torn final record from a crash mid-append is dropped on reopen, and appends continue', async () => {
    const dir = tempDir()
    const first = new EmbeddedEventLog({ dir })
    await first.createTopic('t', 1)
    await first.produce('t', [{ key: null, value: Buffer.from('ok-0') }, { key: null, value: Buffer.from('ok-1') }])
    await first.close()
    const segDir = join(dir, 'topics', 't', '0')
    const segment = join(segDir, readdirSync(segDir).find((n) => n.endsWith('.log'))!)
    const goodSize = statSync(segment).size
    appendFileSync(segment, Buffer.from([0, 0, 0, 40, 1, 2, 3, 4, 5])) // a length prefix promising more than was written

    const second = new EmbeddedEventLog({ dir })
    assert.deepEqual(await second.endOffsets('t'), ['2'])
    assert.equal(statSync(segment).size, goodSize)
    assert.deepEqual(await second.produce('t', [{ key: null, value: Buffer.from('ok-2') }]), [{ partition: 0, offset: '2' }])
    await second.close()
  })

  void test('segments roll at the configured size and reads cross segment boundaries', async () => {
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir, segmentBytes: 200, pollIntervalMs: 20 })
    await log.createTopic('t', 1)
    for (let i = 0; i < 20; i++) await log.produce('t', [{ key: null, value: Buffer.from(`value-${i}`.padEnd(40, '.')) }])
    assert.ok(readdirSync(join(dir, 'topics', 't', '0')).filter((n) => n.endsWith('.log')).length > 3)
    const got: string[] = []
    const c = log.consumer({ groupId: 'g', topics: ['t'] })
    await c.run({ eachBatch: async (b) => void got.push(...b.records.map((r) => r.offset)) })
    await eventually(() => got.length >= 20, 'all records')
    await log.close()
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => String(i)))
    const reopened = new EmbeddedEventLog({ dir })
    assert.deepEqual(await reopened.endOffsets('t'), ['20'])
    await reopened.close()
  })

  void test('a packed append is written off the thread: unseen until written, and appends asked meanwhile follow it in order', async () => {
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir, pollIntervalMs: 20 })
    await log.createTopic('t', 1)
    const pack = (prefix: string, count: number): PackedRecords => {
      const parts: Buffer[] = []
      const runs = new Uint32Array(2 * PACKED_RUN_FIELDS * count)
      let at = 0
      for (let i = 0; i < count; i++) {
        const key = Buffer.from(`k${i}`)
        const value = Buffer.from(`${prefix}${i}`.padEnd(200, '.'))
        parts.push(key, value)
        runs.set([0, at, (at += key.length), 0, at, (at += value.length)], 2 * PACKED_RUN_FIELDS * i)
      }
      return { count, sources: [Buffer.concat(parts)], runsPerRecord: 2, runs }
    }
    const first = log.producePacked('t', pack('a', 2_000))
    // Still being written: a reader sees none of it.
    assert.deepEqual(await log.endOffsets('t'), ['0'])
    const second = log.produce('t', [{ key: 'x', value: Buffer.from('b0') }])
    const third = log.producePacked('t', pack('c', 3))
    await Promise.all([first, second, third])
    assert.deepEqual((await second).map((r) => r.offset), ['2000'])
    assert.deepEqual(await log.endOffsets('t'), ['2004'])
    const got: string[] = []
    const c = log.consumer({ groupId: 'g', topics: ['t'] })
    await c.run({ eachBatch: async (b) => void got.push(...b.records.map((r) => `${r.offset}:${Buffer.from(r.value!).toString().replace(/\.+$/, '')}`)) })
    await eventually(() => got.length >= 2004, 'all records')
    await log.close()
    assert.deepEqual(got, [...Array.from({ length: 2000 }, (_, i) => `${i}:a${i}`), '2000:b0', '2001:c0', '2002:c1', '2003:c2'])
    const reopened = new EmbeddedEventLog({ dir })
    assert.deepEqual(await reopened.endOffsets('t'), ['2004'])
    await reopened.close()
  })

  void test('a second open of the same directory is refused while the first is open', async () => {
    const dir = tempDir()
    const first = new EmbeddedEventLog({ dir })
    await first.createTopic('t', 1)
    await assert.rejects(new EmbeddedEventLog({ dir }).endOffsets('t'))
    await first.close()
  })

  void test('a failing handler with onCrash stops the consumer and reports; without one the batch is retried', async () => {
    const log = new EmbeddedEventLog({ dir: tempDir(), pollIntervalMs: 20, retryBackoffMs: 10 })
    await log.createTopic('t', 1)
    await log.produce('t', [{ key: null, value: Buffer.from('x') }])
    const crashes: unknown[] = []
    const crashing = log.consumer({ groupId: 'g1', topics: ['t'], onCrash: (err) => crashes.push(err) })
    await crashing.run({ eachBatch: async () => { throw new Error('boom') } })
    await eventually(() => crashes.length === 1, 'the crash report')

    let attempts = 0
    const delivered: string[] = []
    const retrying = log.consumer({ groupId: 'g2', topics: ['t'] })
    await retrying.run({
      eachBatch: async (b) => {
        if (++attempts < 3) throw new Error('transient')
        delivered.push(...b.records.map((r) => r.offset))
      },
    })
    await eventually(() => delivered.length === 1, 'the retried batch')
    await log.close()
    assert.deepEqual(delivered, ['0'])
    assert.equal(crashes.length, 1)
  })

  void test('an interrupted transaction commit is finished on reopen', async () => {
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir })
    await log.createTopic('t', 1)
    await log.close()
    // A journal as commit writes it before applying: the crash came between journal and append.
    const { writeFileSync, mkdirSync } = await import('node:fs')
    mkdirSync(join(dir, 'txn'))
    writeFileSync(
      join(dir, 'txn', 'rekey.json'),
      JSON.stringify({
        partitions: [{ topic: 't', partition: 0, baseOffset: 0, records: [{ k: null, v: Buffer.from('committed').toString('base64'), h: {} }] }],
        offsets: [{ groupId: 'g', offsets: [{ topic: 't', partition: 0, offset: '1' }] }],
      }),
    )
    const reopened = new EmbeddedEventLog({ dir, pollIntervalMs: 20 })
    assert.deepEqual(await reopened.endOffsets('t'), ['1'])
    assert.deepEqual(readdirSync(join(dir, 'txn')), [])
    await reopened.produce('t', [{ key: null, value: Buffer.from('later') }])
    const got: string[] = []
    const c = reopened.consumer({ groupId: 'g', topics: ['t'] })
    await c.run({ eachBatch: async (b) => void got.push(...b.records.map((r) => Buffer.from(r.value!).toString())) })
    await eventually(() => got.length >= 1, 'the record after the journal offset')
    await reopened.close()
    assert.deepEqual(got, ['later'])
  })
})
