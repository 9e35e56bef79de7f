/**
 * EmbeddedLogReader: the embedded log read beside its writer (kfs serve's catalog while kfs run owns
 * the log). It changes nothing on disk in any state the writer can leave (holding the LOCK, a torn
 * tail, an append in flight, a crash's journal and pending records, no log at all), reads only what
 * was acknowledged, follows what the writer appends after it, and refuses every write.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { EmbeddedLogReader } from '../../../adapters/event-log/embedded/embedded-log-reader.ts'
import { encodeRecords } from '../../../adapters/event-log/embedded/record-format.ts'
import { createDeadLetterTopicSink } from '../../../engine/dead-letter-topic.ts'
import { readDeadLetters } from '../../../replay/dead-letters/redrive.ts'
import { readToEnd } from '../../../replay/dead-letters/read-to-end.ts'
import type { EventLog } from '../../../ports/event-log.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'

const DL = 'kfs.dead-letters'
const SEGMENT = join('topics', 't', '0', '00000000000000000000.log')

/** Every file under `root` with its bytes, and every directory: what a reader must leave as it was. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) {
        out.set(`${relative(root, path)}/`, 'dir')
        walk(path)
      } else out.set(relative(root, path), readFileSync(path).toString('hex'))
    }
  }
  walk(root)
  return out
}

/** A writer's log under `<root>/log` with topic t (1 partition, `records` records) and `letters` dead letters; closed unless `keepOpen`. */
async function writtenLog(
  root: string,
  records: number,
  letters: number,
  keepOpen = false,
): Promise<{ dir: string; writer: EmbeddedEventLog }> {
  const dir = join(root, 'log')
  const writer = new EmbeddedEventLog({ dir, fsync: 'never' })
  await writer.createTopic('t', 1)
  if (records > 0)
    await writer.produce(
      't',
      Array.from({ length: records }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`) })),
    )
  await appendLetters(writer, 0, letters)
  if (!keepOpen) await writer.close()
  return { dir, writer }
}

async function appendLetters(log: EventLog, from: number, count: number): Promise<void> {
  if (count === 0) return
  const sink = createDeadLetterTopicSink(log, DL)
  await sink.write(
    Array.from({ length: count }, (_, i) => ({
      topic: 't',
      partition: 0,
      offset: String(from + i),
      key: null,
      value: Buffer.from(`bad${from + i}`),
      reason: 'undecodable' as const,
      detail: `letter ${from + i}`,
      view: 'v',
    })),
  )
}

/** Whole records in the segment format, written past the partition's end without acknowledging them: an append in flight. */
function inFlight(dir: string, base: number, values: readonly string[]): void {
  const { buf } = encodeRecords(
    values.map((v) => ({ timestampMs: 1, key: null, value: Buffer.from(v), headers: {} })),
    base,
  )
  appendFileSync(join(dir, SEGMENT), buf)
}

async function values(log: EventLog, topic: string): Promise<string[]> {
  const read = await readToEnd(log, [topic], { groupPrefix: 'reader-test', timeoutMs: 30_000 })
  return read.get(topic)!.map((r) => Buffer.from(r.value!).toString())
}

async function letterDetails(log: EventLog): Promise<string[]> {
  return (await readDeadLetters(log, DL)).entries.map((e) => e.detail)
}

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

  void test('damage below the acknowledged end is refused (DATA_CORRUPT naming the segment), never cut or skipped', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kfs-log-reader-'))
    const { dir } = await writtenLog(root, 3, 0)
    const segment = join(dir, SEGMENT)
    const bytes = readFileSync(segment)
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff
    writeFileSync(segment, bytes)
    const before = snapshot(root)
    const reader = new EmbeddedLogReader({ dir, pollIntervalMs: 10 })
    try {
      await assert.rejects(
        values(reader, 't'),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT' && err.message.includes(segment),
      )
    } finally {
      await reader.close()
    }
    assert.deepEqual(snapshot(root), before)
  })

  const writes: {
    readonly name: string
    readonly write: (reader: EmbeddedLogReader) => Promise<unknown>
    readonly says: RegExp
  }[] = [
    { name: 'createTopic', write: (r) => r.createTopic('t2', 1), says: /cannot create topic 't2'/ },
    { name: 'createTopic of an existing topic', write: (r) => r.createTopic('t', 1), says: /cannot create topic 't'/ },
    {
      name: 'produce',
      write: (r) => r.produce('t', [{ key: null, value: Buffer.from('no') }]),
      says: /cannot append to topic 't'/,
    },
    { name: 'produce of nothing', write: (r) => r.produce('t', []), says: /cannot append to topic 't'/ },
    {
      name: "a consumer's commit",
      write: async (r) => {
        const consumer = r.consumer({ groupId: 'g', topics: ['t'] })
        try {
          await consumer.run({ eachBatch: async () => {} })
          await consumer.commit([{ topic: 't', partition: 0, offset: '1' }])
        } finally {
          await consumer.stop()
        }
      },
      says: /cannot commit offsets of group 'g'/,
    },
  ]

  for (const w of writes) {
    void test(`refuses every write, saying why, and changes nothing: ${w.name}`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'kfs-log-reader-'))
      const { dir } = await writtenLog(root, 1, 0)
      const before = snapshot(root)
      const reader = new EmbeddedLogReader({ dir, pollIntervalMs: 10 })
      try {
        await assert.rejects(w.write(reader), (err: unknown) => {
          assert.ok(err instanceof FeatureStoreError, String(err))
          assert.equal(err.code, 'BAD_REQUEST')
          assert.match(err.message, new RegExp(`the embedded log ${dir} is open read-only here .*: ${w.says.source}`))
          return true
        })
      } finally {
        await reader.close()
      }
      assert.deepEqual(snapshot(root), before)
    })
  }

  void test('a closed reader refuses every call', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kfs-log-reader-'))
    const { dir } = await writtenLog(root, 1, 0)
    const reader = new EmbeddedLogReader({ dir })
    await reader.close()
    for (const call of [
      () => reader.endOffsets('t'),
      () => reader.startOffsets('t'),
      () => reader.partitionCount('t'),
      () => reader.committedOffsets('g', 't'),
      async () => reader.consumer({ groupId: 'g', topics: ['t'] }),
    ]) {
      await assert.rejects(call(), /this embedded log reader has been closed/)
    }
  })
})

void describe('runtime > eventLogReader on the embedded defaults', () => {
  void test('reads the log while its writer holds the LOCK, and takes no LOCK, makes no directory, where there is no log yet', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kfs-log-reader-runtime-'))
    const runtime = await createRuntime(loadConfig({ KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent' }))
    try {
      const reader = await runtime.eventLogReader()
      assert.deepEqual(await letterDetails(reader), [])
      await assert.rejects(reader.endOffsets('t'), (err: unknown) => (err as FeatureStoreError).code === 'NOT_FOUND')
      assert.ok(!existsSync(join(dataDir, 'log')), 'no log directory made')
      const { dir, writer } = await writtenLog(dataDir, 2, 1, true)
      const before = snapshot(dir)
      assert.deepEqual(await reader.endOffsets('t'), ['2'])
      assert.deepEqual(await letterDetails(reader), ['letter 0'])
      assert.deepEqual(snapshot(dir), before, "the writer's LOCK and files as they were")
      await writer.close()
    } finally {
      await runtime.close()
    }
  })
})
