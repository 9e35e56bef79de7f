/**
 * EmbeddedLogReader: the embedded log read beside its writer (kfs serve's catalog while kfs run owns
 * the log). It changes nothing on disk in any state the writer can leave (holding the LOCK, a torn
 * tail, an append in flight, a crash's journal and pending records, no log at all), reads only what
 * was acknowledged, follows what the writer appends after it, and refuses every write.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { EmbeddedLogReader } from '../../../adapters/event-log/embedded/embedded-log-reader.ts'
import { encodeRecords } from '../../../adapters/event-log/embedded/record-format.ts'
import { SEGMENT, snapshot, writtenLog, appendLetters, inFlight, values, letterDetails } from './embedded-log-reader-support.ts'

void describe('event log > embedded > reader beside its writer', () => {
  const states: {
    readonly name: string
    readonly make: (root: string) => Promise<{ dir: string; close?: () => Promise<void> }>
    /** endOffsets of t, or the error code it fails with. */
    readonly ends: string[] | string
    readonly records: string[]
    readonly letters: number
  }[] = [
    {
      name: 'a writer holds the LOCK',
      make: async (root) => {
        const { dir, writer } = await writtenLog(root, 3, 2, true)
        return { dir, close: () => writer.close() }
      },
      ends: ['3'],
      records: ['r0', 'r1', 'r2'],
      letters: 2,
    },
    {
      name: 'a torn final write past the acknowledged end',
      make: async (root) => {
        const { dir } = await writtenLog(root, 3, 1)
        appendFileSync(join(dir, SEGMENT), Buffer.from([0, 0, 0, 40, 1, 2, 3]))
        return { dir }
      },
      ends: ['3'],
      records: ['r0', 'r1', 'r2'],
      letters: 1,
    },
    {
      name: 'an append in flight (whole records, not acknowledged) while the writer holds the LOCK',
      make: async (root) => {
        const { dir, writer } = await writtenLog(root, 3, 1, true)
        inFlight(dir, 3, ['x3', 'x4'])
        return { dir, close: () => writer.close() }
      },
      ends: ['3'],
      records: ['r0', 'r1', 'r2'],
      letters: 1,
    },
    {
      name: 'the log does not exist yet',
      make: async (root) => ({ dir: join(root, 'log') }),
      ends: 'NOT_FOUND',
      records: [],
      letters: 0,
    },
    {
      name: 'an empty log directory',
      make: async (root) => {
        mkdirSync(join(root, 'log'))
        return { dir: join(root, 'log') }
      },
      ends: 'NOT_FOUND',
      records: [],
      letters: 0,
    },
    {
      name: "a crash's transaction journal, pending records and stale LOCK",
      make: async (root) => {
        const { dir } = await writtenLog(root, 2, 1)
        mkdirSync(join(dir, 'txn'))
        writeFileSync(join(dir, 'txn', 'kfs-x.json'), '{"partitions":[],"offsets":[]}')
        mkdirSync(`${dir}.pending`)
        writeFileSync(
          join(`${dir}.pending`, '1-2-3.ready.jsonl'),
          '{"topic":"kfs.dead-letters","key":null,"value":null,"headers":{},"timestampMs":1}\n',
        )
        writeFileSync(join(dir, 'LOCK'), '2147483646 1')
        return { dir }
      },
      ends: ['2'],
      records: ['r0', 'r1'],
      letters: 1,
    },
    {
      name: 'a partition without an acknowledged-end file (written before it existed), nobody holding the log',
      make: async (root) => {
        const { dir } = await writtenLog(root, 3, 0)
        unlinkSync(join(dir, 'topics', 't', '0', 'acked-end'))
        return { dir }
      },
      ends: ['3'],
      records: ['r0', 'r1', 'r2'],
      letters: 0,
    },
  ]

  for (const state of states) {
    void test(`${state.name}: reads what was acknowledged and leaves every byte as it was`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'kfs-log-reader-'))
      const { dir, close } = await state.make(root)
      const before = snapshot(root)
      const reader = new EmbeddedLogReader({ dir, pollIntervalMs: 10 })
      try {
        const ends = await reader.endOffsets('t').catch((err: unknown) => (err as FeatureStoreError).code)
        assert.deepEqual(ends, state.ends)
        if (typeof state.ends !== 'string') {
          assert.deepEqual(await reader.startOffsets('t'), ['0'])
          assert.equal(await reader.partitionCount('t'), 1)
          assert.deepEqual(await reader.committedOffsets('g', 't'), [undefined])
        }
        assert.deepEqual(await values(reader, 't'), state.records)
        assert.equal((await letterDetails(reader)).length, state.letters)
      } finally {
        await reader.close()
      }
      assert.deepEqual(snapshot(root), before, 'the reader changed nothing under the log or beside it')
      if (!existsSync(dir)) assert.deepEqual([...before.keys()], [], 'no directory made')
      await close?.()
    })
  }

  void test('sees the records and dead letters a writer appended after it opened, at its next read', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kfs-log-reader-'))
    const { dir, writer } = await writtenLog(root, 2, 1, true)
    const reader = new EmbeddedLogReader({ dir, pollIntervalMs: 10 })
    try {
      assert.deepEqual(await reader.endOffsets('t'), ['2'])
      assert.deepEqual(await letterDetails(reader), ['letter 0'])
      await writer.produce('t', [
        { key: null, value: Buffer.from('r2') },
        { key: null, value: Buffer.from('r3') },
      ])
      await appendLetters(writer, 1, 2)
      assert.deepEqual(await reader.endOffsets('t'), ['4'])
      assert.deepEqual(await values(reader, 't'), ['r0', 'r1', 'r2', 'r3'])
      assert.deepEqual(await letterDetails(reader), ['letter 0', 'letter 1', 'letter 2'])
    } finally {
      await reader.close()
      await writer.close()
    }
  })

  void test('a topic the writer creates after the reader opened is found', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kfs-log-reader-'))
    const reader = new EmbeddedLogReader({ dir: join(root, 'log'), pollIntervalMs: 10 })
    try {
      assert.deepEqual(await letterDetails(reader), [])
      const { writer } = await writtenLog(root, 1, 1, true)
      assert.deepEqual(await reader.endOffsets('t'), ['1'])
      assert.deepEqual(await letterDetails(reader), ['letter 0'])
      await writer.close()
    } finally {
      await reader.close()
    }
  })

  const tails: {
    readonly name: string
    readonly make: (root: string) => Promise<{ dir: string; close?: () => Promise<void> }>
    readonly records: string[]
  }[] = [
    {
      name: 'a torn record past the acknowledged end',
      make: async (root) => {
        const { dir } = await writtenLog(root, 2, 0)
        const { buf } = encodeRecords([{ timestampMs: 1, key: null, value: Buffer.from('torn'), headers: {} }], 2)
        appendFileSync(join(dir, SEGMENT), buf.subarray(0, buf.length - 3))
        return { dir }
      },
      records: ['r0', 'r1'],
    },
    {
      name: 'whole records past the acknowledged end, the writer gone (its next open keeps or cuts them, not the reader)',
      make: async (root) => {
        const { dir } = await writtenLog(root, 2, 0)
        inFlight(dir, 2, ['x2'])
        return { dir }
      },
      records: ['r0', 'r1'],
    },
    {
      name: "a partition's first append in flight (nothing acknowledged yet) while the writer holds the LOCK",
      make: async (root) => {
        const { dir, writer } = await writtenLog(root, 0, 0, true)
        inFlight(dir, 0, ['x0', 'x1'])
        return { dir, close: () => writer.close() }
      },
      records: [],
    },
    {
      name: 'an acknowledged-end file caught half written while the writer holds the LOCK',
      make: async (root) => {
        const { dir, writer } = await writtenLog(root, 2, 0, true)
        writeFileSync(join(dir, 'topics', 't', '0', 'acked-end'), Buffer.alloc(12, 7))
        return { dir, close: () => writer.close() }
      },
      records: [],
    },
  ]

  for (const tail of tails) {
    void test(`never reads past what was acknowledged: ${tail.name}`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'kfs-log-reader-'))
      const { dir, close } = await tail.make(root)
      const before = snapshot(root)
      const reader = new EmbeddedLogReader({ dir, pollIntervalMs: 10 })
      try {
        assert.deepEqual(await reader.endOffsets('t'), [String(tail.records.length)])
        assert.deepEqual(await values(reader, 't'), tail.records)
      } finally {
        await reader.close()
      }
      assert.deepEqual(snapshot(root), before)
      await close?.()
    })
  }
})
