/**
 * EmbeddedLogReader refusals: damage below the acknowledged end, every write method, a closed
 * reader; and the runtime's reader on the embedded defaults (no LOCK taken, no directory made).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { EmbeddedLogReader } from '../../../adapters/event-log/embedded/embedded-log-reader.ts'
import type { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { DEFAULT_OPEN_SEGMENTS } from '../../../adapters/event-log/embedded/segment-handles.ts'
import { loadConfig } from '../../../main/config.ts'
import { createRuntime } from '../../../main/runtime.ts'
import { SEGMENT, snapshot, writtenLog, values, letterDetails } from './embedded-log-reader-support.ts'

void describe('event log > embedded > reader beside its writer: refusals', () => {
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

void describe('runtime > the embedded log’s open-segment bound', () => {
  void test('KFS_EMBEDDED_LOG_OPEN_SEGMENTS bounds the writer’s and the reader’s open segments; absent, the default', async () => {
    for (const [env, limit] of [[{ KFS_EMBEDDED_LOG_OPEN_SEGMENTS: '3' }, 3], [{}, DEFAULT_OPEN_SEGMENTS]] as const) {
      const dataDir = mkdtempSync(join(tmpdir(), 'kfs-log-open-segments-'))
      const runtime = await createRuntime(loadConfig({ KFS_DATA_DIR: dataDir, KFS_LOG_LEVEL: 'silent', ...env }))
      try {
        const log = (await runtime.eventLog()) as EmbeddedEventLog
        const reader = (await runtime.eventLogReader()) as EmbeddedLogReader
        assert.deepEqual([log.openSegmentsLimit, reader.openSegmentsLimit], [limit, limit])
      } finally {
        await runtime.close()
      }
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
