/**
 * What a record may hold on the embedded log: every key, value and header the format can carry
 * comes back as given — by a consumer, after a reopen, by produce and by a transaction alike —
 * and headers it cannot carry are refused as BAD_REQUEST before anything is written or journaled.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import type { LogRecord, ProduceRecord } from '../../../ports/event-log.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-log-records-'))

/** Every record of topic 't' a fresh group reads, in offset order. */
async function readAll(log: EmbeddedEventLog, count: number): Promise<LogRecord[]> {
  const got: LogRecord[] = []
  const consumer = log.consumer({ groupId: `reader-${Math.random()}`, topics: ['t'] })
  await consumer.run({ eachBatch: async (b) => void got.push(...b.records) })
  while (got.length < count) await new Promise((resolve) => setTimeout(resolve, 5))
  await consumer.stop()
  return got
}

const seen = (r: LogRecord | ProduceRecord) => ({
  key: r.key === null ? null : Buffer.from(r.key).toString('base64'),
  value: r.value === null ? null : Buffer.from(r.value).toString('base64'),
  headers: { ...r.headers },
})

void describe('event log > embedded > record contents', () => {
  void test('keys, values and headers at the edges of the format come back as given, by produce and by a transaction, before and after a reopen', async () => {
    const records: [string, ProduceRecord][] = [
      ['null key and value, no headers', { key: null, value: null }],
      ['empty key and value, empty headers', { key: Buffer.alloc(0), value: Buffer.alloc(0), headers: {} }],
      ['an empty header name and value', { key: 'k', value: Buffer.from('v'), headers: { '': '' } }],
      ['a header name of 65535 bytes', { key: null, value: null, headers: { ['n'.repeat(65535)]: 'v' } }],
      ['a header value of 2 MiB', { key: null, value: null, headers: { big: 'x'.repeat(2 * 1024 * 1024) } }],
      [
        '65535 headers',
        { key: null, value: null, headers: Object.fromEntries(Array.from({ length: 65535 }, (_, i) => [`h${i}`, String(i)])) },
      ],
      [
        'multi-byte UTF-8 in header names and values',
        { key: 'ключ', value: Buffer.from([0xff, 0x00, 0xfe]), headers: { 'ñame€': '値😀', emoji: '👩‍👩‍👧' } },
      ],
      [
        'headers named __proto__ and constructor',
        { key: null, value: null, headers: JSON.parse('{"__proto__":"p","constructor":"c","a":"b"}') as Record<string, string> },
      ],
      [
        // UTF-8 cannot hold one: it comes back as U+FFFD, as the Kafka clients send it.
        'a lone surrogate in a header name and value',
        { key: null, value: null, headers: { 'n\ud800': 'v\udc00x' } },
      ],
      [
        'binary key bytes that are not UTF-8',
        { key: Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), value: Buffer.from([0]), headers: { a: 'b' } },
      ],
    ]
    const expected = records.map(([, r]) =>
      seen({
        ...r,
        key: typeof r.key === 'string' ? Buffer.from(r.key) : r.key,
        headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toWellFormed(), v.toWellFormed()])),
      }),
    )
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir, maxBatchBytes: 1000, fsync: 'never' })
    await log.createTopic('t', 1)
    await log.produce(
      't',
      records.map(([, r]) => r),
    )
    const txn = await log.transaction('tx')
    await txn.produce(
      't',
      records.map(([, r]) => r),
    )
    await txn.commit()
    const twice = [...expected, ...expected]
    const check = (got: LogRecord[], when: string) =>
      got.forEach((r, i) =>
        assert.deepEqual(
          seen(r),
          twice[i],
          `${records[i % records.length]![0]}, ${i < records.length ? 'produced' : 'in a transaction'}, ${when}`,
        ),
      )
    check(await readAll(log, twice.length), 'while open')
    await log.close()
    const reopened = new EmbeddedEventLog({ dir, maxBatchBytes: 1000 })
    check(await readAll(reopened, twice.length), 'after a reopen')
    await reopened.close()
  })

  void test('headers the format cannot carry are BAD_REQUEST naming the header, by produce and by a transaction, and nothing of the batch is written', async () => {
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['a name of 65536 bytes', { ['n'.repeat(65536)]: 'v' }, /header name 'n{40}…' is 65536 bytes/],
      ['a name of 65538 bytes of 3-byte characters', { ['€'.repeat(21846)]: 'v' }, /is 65538 bytes of UTF-8/],
      ['65536 headers', Object.fromEntries(Array.from({ length: 65536 }, (_, i) => [`h${i}`, ''])), /at most 65535 headers/],
      ['a null value', { a: null }, /header 'a' has a null value/],
      ['a number value', { a: 1 }, /header 'a' has a number value/],
      ['a bytes value', { a: Buffer.from('x') }, /header 'a' has a object value/],
    ]
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir, fsync: 'never' })
    await log.createTopic('t', 2)
    for (const [how, headers, names] of bad) {
      const batch: ProduceRecord[] = [
        { key: 'fine', value: Buffer.from('before'), partition: 0 },
        { key: 'bad', value: null, partition: 1, headers: headers as Record<string, string> },
      ]
      const refused = (err: unknown) => err instanceof FeatureStoreError && err.code === 'BAD_REQUEST' && names.test(err.message)
      await assert.rejects(log.produce('t', batch), refused, `produce, ${how}`)
      const txn = await log.transaction('tx')
      await assert.rejects(txn.produce('t', batch), refused, `transaction, ${how}`)
      await txn.commit()
      assert.deepEqual(await log.endOffsets('t'), ['0', '0'], how)
    }
    await log.close()
    const reopened = new EmbeddedEventLog({ dir })
    assert.deepEqual(await reopened.endOffsets('t'), ['0', '0'])
    await reopened.close()
  })
})

void describe('event log > embedded > impossible topics', () => {
  void test("a topic named '.' or '..' is BAD_REQUEST: as topics/<name> it named the topics directory or the log's own", async () => {
    const dir = tempDir()
    const log = new EmbeddedEventLog({ dir, fsync: 'never' })
    for (const name of ['.', '..']) {
      await assert.rejects(
        log.createTopic(name, 1),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'BAD_REQUEST',
        name,
      )
      await assert.rejects(
        log.produce(name, [{ key: null, value: null }]),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'NOT_FOUND',
        name,
      )
    }
    await log.close()
    assert.deepEqual(readdirSync(dir).sort(), [])
  })

  void test('a consumer of a topic name no log can hold is BAD_REQUEST naming it, not a wait without end', async () => {
    const log = new EmbeddedEventLog({ dir: tempDir(), fsync: 'never' })
    await log.createTopic('t', 1)
    for (const name of ['', 'a b', 'a/b', '..', '.', 'x'.repeat(250), 'ünicode', 't\n']) {
      assert.throws(
        () => log.consumer({ groupId: 'g', topics: ['t', name] }),
        (err: unknown) =>
          err instanceof FeatureStoreError &&
          err.code === 'BAD_REQUEST' &&
          err.message.includes(`'${name}' is not a valid topic name`),
        JSON.stringify(name.slice(0, 20)),
      )
    }
    await log.close()
  })
})
