/**
 * The embedded log's transaction commit, cut by a crash at every step, and its journal damaged:
 * a reopen finishes a commit whose journal was written (records once in every partition, the
 * offsets with them), applies nothing of one never written, and refuses a journal it cannot
 * apply whole — DATA_CORRUPT naming it, before any of it lands, and again on the next call.
 * Offsets a group could not store are refused when they are given, never written to bite later.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { fileNameFor } from '../../../adapters/event-log/embedded/durable-file.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'kfs-log-txn-'))
const b64 = (s: string) => Buffer.from(s).toString('base64')

/** A two-partition topic 't' with one record in partition 0; closed. */
async function baseLog(): Promise<string> {
  const dir = tempDir()
  const log = new EmbeddedEventLog({ dir })
  await log.createTopic('t', 2)
  await log.produce('t', [{ key: null, value: Buffer.from('before'), partition: 0 }])
  await log.close()
  return dir
}

/** The journal a commit of a0,a1 → partition 0 and b0 → partition 1, with group g at 0:1, writes on baseLog. */
const JOURNAL = {
  partitions: [
    {
      topic: 't',
      partition: 0,
      baseOffset: 1,
      records: [
        { k: b64('a'), v: b64('a0'), h: { n: '0' } },
        { k: null, v: b64('a1'), h: {} },
      ],
    },
    { topic: 't', partition: 1, baseOffset: 0, records: [{ k: null, v: null, h: {}, t: 5 }] },
  ],
  offsets: [{ groupId: 'g', offsets: [{ topic: 't', partition: 0, offset: '1' }] }],
}

async function state(dir: string): Promise<{ ends: string[]; committed: (string | undefined)[]; values: string[] }> {
  const log = new EmbeddedEventLog({ dir })
  try {
    const ends = [...(await log.endOffsets('t'))]
    const committed = [...(await log.committedOffsets('g', 't'))]
    const values: string[] = []
    const consumer = log.consumer({ groupId: 'reader', topics: ['t'] })
    await consumer.run({
      eachBatch: async (b) =>
        void values.push(
          ...b.records.map((r) => `${r.partition}:${r.offset}:${r.value === null ? 'null' : Buffer.from(r.value).toString()}`),
        ),
    })
    while (values.length < ends.reduce((n, e) => n + Number(e), 0)) await new Promise((resolve) => setTimeout(resolve, 5))
    return { ends, committed, values: values.sort() }
  } finally {
    await log.close()
  }
}

const COMMITTED = { ends: ['3', '1'], committed: ['1', undefined], values: ['0:0:before', '0:1:a0', '0:2:a1', '1:0:null'] }
const NOTHING = { ends: ['1', '0'], committed: [undefined, undefined], values: ['0:0:before'] }

void describe('event log > embedded > transaction recovery', () => {
  void test('a commit cut at every step: records land once in every partition with their offsets, or not at all', async () => {
    const steps: [string, (dir: string) => Promise<void>, typeof COMMITTED][] = [
      [
        'journal half written (its temp file only)',
        async (dir) => writeFileSync(join(dir, 'txn', 'x.json.tmp'), JSON.stringify(JOURNAL).slice(0, 40)),
        NOTHING,
      ],
      [
        'journal written, nothing applied',
        async (dir) => writeFileSync(join(dir, 'txn', 'x.json'), JSON.stringify(JOURNAL)),
        COMMITTED,
      ],
      [
        'first partition applied',
        async (dir) => {
          const log = new EmbeddedEventLog({ dir })
          await log.produce('t', [
            { key: 'a', value: Buffer.from('a0'), headers: { n: '0' }, partition: 0 },
            { key: null, value: Buffer.from('a1'), partition: 0 },
          ])
          await log.close()
          writeFileSync(join(dir, 'txn', 'x.json'), JSON.stringify(JOURNAL))
        },
        COMMITTED,
      ],
      [
        'every partition applied, offsets not',
        async (dir) => {
          const log = new EmbeddedEventLog({ dir })
          await log.produce('t', [
            { key: 'a', value: Buffer.from('a0'), headers: { n: '0' }, partition: 0 },
            { key: null, value: Buffer.from('a1'), partition: 0 },
          ])
          await log.produce('t', [{ key: null, value: null, partition: 1 }])
          await log.close()
          writeFileSync(join(dir, 'txn', 'x.json'), JSON.stringify(JOURNAL))
        },
        COMMITTED,
      ],
      [
        'everything applied, journal not removed',
        async (dir) => {
          const log = new EmbeddedEventLog({ dir })
          await log.produce('t', [
            { key: 'a', value: Buffer.from('a0'), headers: { n: '0' }, partition: 0 },
            { key: null, value: Buffer.from('a1'), partition: 0 },
          ])
          await log.produce('t', [{ key: null, value: null, partition: 1 }])
          await log.consumer({ groupId: 'g', topics: ['t'] }).commit([{ topic: 't', partition: 0, offset: '1' }])
          await log.close()
          writeFileSync(join(dir, 'txn', 'x.json'), JSON.stringify(JOURNAL))
        },
        COMMITTED,
      ],
    ]
    for (const [step, crash, expected] of steps) {
      const dir = await baseLog()
      mkdirSync(join(dir, 'txn'))
      await crash(dir)
      assert.deepEqual(await state(dir), expected, step)
      assert.deepEqual(await state(dir), expected, `${step}, reopened again`)
      assert.ok(!readdirSync(join(dir, 'txn')).includes('x.json'), `${step}: journal left`)
    }
  })

  void test('a journal that cannot be applied whole is DATA_CORRUPT naming it, applies nothing, and stays refused', async () => {
    const part = (change: object) => ({
      ...JOURNAL,
      partitions: [JOURNAL.partitions[0], { ...JOURNAL.partitions[1], ...change }],
    })
    const damaged: [string, string][] = [
      ['not JSON', JSON.stringify(JOURNAL).slice(0, 60)],
      ['empty', ''],
      ['an empty object', '{}'],
      ['an array', '[]'],
      ['partitions not a list', JSON.stringify({ ...JOURNAL, partitions: {} })],
      ['a negative partition', JSON.stringify(part({ partition: -1 }))],
      ['a fractional base offset', JSON.stringify(part({ baseOffset: 0.5 }))],
      ['a record value not base64', JSON.stringify(part({ records: [{ k: null, v: 7, h: {} }] }))],
      ['a header value not a string', JSON.stringify(part({ records: [{ k: null, v: null, h: { a: 1 } }] }))],
      ['a partition the topic lacks', JSON.stringify(part({ partition: 2 }))],
      ['a topic the log lacks', JSON.stringify(part({ topic: 'nope' }))],
      ['a base offset the partition moved past', JSON.stringify(part({ baseOffset: 3 }))],
      ['a base offset past the partition end', JSON.stringify(part({ baseOffset: 9 }))],
      [
        'an offset not a number',
        JSON.stringify({ ...JOURNAL, offsets: [{ groupId: 'g', offsets: [{ topic: 't', partition: 0, offset: 'x' }] }] }),
      ],
      [
        'an offset for a partition the topic lacks',
        JSON.stringify({ ...JOURNAL, offsets: [{ groupId: 'g', offsets: [{ topic: 't', partition: 5, offset: '1' }] }] }),
      ],
    ]
    for (const [how, body] of damaged) {
      const dir = await baseLog()
      const journal = join(dir, 'txn', 'x.json')
      mkdirSync(join(dir, 'txn'))
      writeFileSync(journal, body)
      const log = new EmbeddedEventLog({ dir })
      for (const attempt of ['first', 'second']) {
        const failure = await log.endOffsets('t').then(
          (ends) => ends,
          (err: unknown) => err,
        )
        assert.ok(failure instanceof FeatureStoreError, `${how}, ${attempt} call: ${String(failure)}`)
        assert.equal(failure.code, 'DATA_CORRUPT', `${how}: ${failure.message}`)
        assert.ok(failure.message.includes(journal), `${how}: ${failure.message}`)
      }
      await log.close()
      rmSync(journal)
      assert.deepEqual(await state(dir), NOTHING, `${how}: applied in part`)
    }
  })

  void test('offsets a group cannot store are refused when given, by commit and by sendOffsets, and nothing is stored', async () => {
    const bad: [string, { topic: string; partition: number; offset: string }][] = [
      ['a word', { topic: 't', partition: 0, offset: 'abc' }],
      ['empty', { topic: 't', partition: 0, offset: '' }],
      ['negative', { topic: 't', partition: 0, offset: '-1' }],
      ['fractional', { topic: 't', partition: 0, offset: '1.5' }],
      ['exponent', { topic: 't', partition: 0, offset: '1e3' }],
      ['padded', { topic: 't', partition: 0, offset: ' 1' }],
      ['past 2^53', { topic: 't', partition: 0, offset: '9007199254740993' }],
      ['a partition the topic lacks', { topic: 't', partition: 2, offset: '1' }],
      ['a negative partition', { topic: 't', partition: -1, offset: '1' }],
      ['a topic the log lacks', { topic: 'nope', partition: 0, offset: '1' }],
    ]
    const dir = await baseLog()
    const log = new EmbeddedEventLog({ dir })
    const consumer = log.consumer({ groupId: 'g', topics: ['t'] })
    for (const [how, offset] of bad) {
      await assert.rejects(
        consumer.commit([{ topic: 't', partition: 1, offset: '0' }, offset]),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'BAD_REQUEST',
        `commit, ${how}`,
      )
      const txn = await log.transaction('tx')
      await txn.produce('t', [{ key: null, value: Buffer.from('txn'), partition: 1 }])
      await assert.rejects(
        txn.sendOffsets('g', [offset]),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'BAD_REQUEST',
        `sendOffsets, ${how}`,
      )
      await txn.abort()
    }
    // Offsets a transaction sent, then aborted, are no more stored than refused ones.
    const aborted = await log.transaction('tx')
    await aborted.sendOffsets('g', [{ topic: 't', partition: 0, offset: '1' }])
    await aborted.abort()
    await log.close()
    assert.deepEqual(await state(dir), NOTHING)
  })

  void test('a commit that fails part-applied (a partition that cannot be written) takes no more writes, and lands once on the next open', async () => {
    const tries: [string, (log: EmbeddedEventLog) => Promise<unknown>][] = [
      ['produce', (log) => log.produce('t', [{ key: null, value: Buffer.from('retry'), partition: 0 }])],
      ['producePacked', (log) => log.producePacked('t', { sources: [], runs: new Uint32Array(0), runsPerRecord: 1, count: 0 })],
      [
        'a group commit',
        (log) => log.consumer({ groupId: 'g', topics: ['t'] }).commit([{ topic: 't', partition: 0, offset: '2' }]),
      ],
      [
        'the transaction again',
        async (log) => {
          const txn = await log.transaction('tx')
          await txn.produce('t', [{ key: null, value: Buffer.from('a0'), partition: 0 }])
          await txn.commit()
        },
      ],
    ]
    for (const [what, retry] of tries) {
      const dir = tempDir()
      const setup = new EmbeddedEventLog({ dir, segmentBytes: 100 })
      await setup.createTopic('t', 2)
      await setup.produce('t', [{ key: null, value: Buffer.alloc(120), partition: 1 }]) // partition 1's next append rolls
      await setup.close()
      const log = new EmbeddedEventLog({ dir, segmentBytes: 100 })
      await log.endOffsets('t') // partitions opened
      // The segment partition 1 rolls to cannot be created: its name is taken by a directory (EISDIR).
      const blocker = join(dir, 'topics', 't', '1', '00000000000000000001.log')
      mkdirSync(blocker)
      const txn = await log.transaction('tx')
      await txn.produce('t', [{ key: null, value: Buffer.from('a0'), partition: 0 }])
      await txn.produce('t', [{ key: null, value: Buffer.from('b0'), partition: 1 }])
      await txn.sendOffsets('g', [{ topic: 't', partition: 0, offset: '1' }])
      const inDoubt = (err: unknown) =>
        err instanceof FeatureStoreError &&
        err.code === 'SOURCE_UNAVAILABLE' &&
        /failed part-applied .*close and reopen it/.test(err.message)
      await assert.rejects(txn.commit(), inDoubt, `${what}: the commit`)
      await assert.rejects(retry(log), inDoubt, what)
      assert.deepEqual(await log.endOffsets('t'), ['1', '1'], `${what}: reads go on`)
      await log.close()
      rmSync(blocker, { recursive: true })
      const reopened = new EmbeddedEventLog({ dir })
      assert.deepEqual(await reopened.endOffsets('t'), ['1', '2'], what)
      assert.deepEqual(await reopened.committedOffsets('g', 't'), ['1', undefined], what)
      assert.deepEqual(
        await reopened.produce('t', [{ key: null, value: null, partition: 0 }]),
        [{ partition: 0, offset: '1' }],
        `${what}: writes again`,
      )
      await reopened.close()
    }
  })

  void test('group and transactional ids of any spelling commit, reopen, and recover a crashed commit', async () => {
    const ids: [string, string][] = [
      ['300 letters', 'x'.repeat(300)],
      ['100 accented letters (600 bytes encoded)', 'é'.repeat(100)],
      ['a lone surrogate', 'a\ud800b'],
      ['dots', '..'],
      ['slashes', 'a/b\\c'],
      ['a short plain id', 'engine.rekey.orders.by-user'],
    ]
    for (const [what, id] of ids) {
      const dir = await baseLog()
      const log = new EmbeddedEventLog({ dir })
      await log.consumer({ groupId: id, topics: ['t'] }).commit([{ topic: 't', partition: 0, offset: '1' }])
      const txn = await log.transaction(id)
      await txn.produce('t', [{ key: null, value: Buffer.from('x'), partition: 1 }])
      await txn.sendOffsets(id, [{ topic: 't', partition: 1, offset: '1' }])
      await txn.commit()
      await log.close()
      // A commit of this id cut by a crash after its journal was written.
      mkdirSync(join(dir, 'txn'), { recursive: true })
      const journal = {
        partitions: [{ topic: 't', partition: 0, baseOffset: 1, records: [{ k: null, v: b64('y'), h: {} }] }],
        offsets: [{ groupId: id, offsets: [{ topic: 't', partition: 0, offset: '2' }] }],
      }
      writeFileSync(join(dir, 'txn', `${fileNameFor(id)}.json`), JSON.stringify(journal))
      const reopened = new EmbeddedEventLog({ dir })
      assert.deepEqual(await reopened.endOffsets('t'), ['2', '1'], what)
      assert.deepEqual(await reopened.committedOffsets(id, 't'), ['2', '1'], what)
      await reopened.close()
      assert.deepEqual(readdirSync(join(dir, 'txn')), [], `${what}: journal left`)
    }
  })
})
