/**
 * The embedded defaults' small JSON state files — a topic's metadata, a group's committed offsets,
 * the schema registry's ids and subjects — damaged on disk (cut short, emptied, another shape):
 * the call that reads one fails with DATA_CORRUPT naming the file, never a SyntaxError or
 * TypeError with a stack trace, and never as if the file were not there (offsets from 0 again).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { FeatureStoreError } from '../../../core/errors.ts'
import { EmbeddedEventLog } from '../../../adapters/event-log/embedded/embedded-event-log.ts'
import { EmbeddedSchemaRegistry } from '../../../adapters/schema-registry/embedded/embedded-schema-registry.ts'
import type { AvroSchema } from '../../../ports/schema-registry.ts'

const SCHEMA: AvroSchema = { type: 'record', name: 'E', fields: [{ name: 'id', type: 'string' }] }

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => path.endsWith('.json') && statSync(path).isFile())
    .sort()
}

/** Everything a reopened log and registry read of their state; throws what the first failing read throws. */
async function readState(dir: string): Promise<void> {
  const log = new EmbeddedEventLog({ dir: join(dir, 'log') })
  try {
    await log.endOffsets('t')
    await log.committedOffsets('g', 't')
  } finally {
    await log.close().catch(() => {})
  }
  const registry = new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') })
  await registry.register('t-value', SCHEMA)
}

void describe('embedded defaults > damaged state files', () => {
  void test('each JSON state file, damaged, fails the read that needs it as DATA_CORRUPT naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-state-damage-'))
    const log = new EmbeddedEventLog({ dir: join(dir, 'log') })
    await log.createTopic('t', 2)
    await log.produce('t', [{ key: 'a', value: Buffer.from('1') }])
    const consumer = log.consumer({ groupId: 'g', topics: ['t'] })
    await consumer.run({ eachBatch: async () => {} })
    await consumer.commit([{ topic: 't', partition: 0, offset: '1' }])
    await log.close()
    await new EmbeddedSchemaRegistry({ dir: join(dir, 'schemas') }).register('t-value', SCHEMA)
    await readState(dir)

    const files = jsonFiles(dir)
    const names = files.map((f) => relative(dir, f))
    for (const expected of ['log/topics/t/topic.json', 'schemas/ids/1.json', 'schemas/subjects/t-value.json'])
      assert.ok(names.includes(expected), `${expected} among ${names.join(', ')}`)
    assert.ok(
      names.some((n) => n.startsWith('log/groups/')),
      `a group offsets file among ${names.join(', ')}`,
    )
    for (const file of files) {
      const original = readFileSync(file, 'utf8')
      for (const [how, body] of [
        ['cut to half', original.slice(0, original.length >> 1)],
        ['empty', ''],
        ['another shape', '[1, 2, 3]'],
      ] as const) {
        writeFileSync(file, body)
        const failure = await readState(dir).then(
          () => undefined,
          (err: unknown) => err,
        )
        const what = `${relative(dir, file)} ${how}`
        assert.ok(failure instanceof FeatureStoreError, `${what}: ${String(failure)}`)
        assert.equal(failure.code, 'DATA_CORRUPT', `${what}: ${failure.message}`)
        assert.ok(failure.message.includes(file), `${what}: ${failure.message}`)
      }
      writeFileSync(file, original)
    }
    await readState(dir)
  })
})

void describe('embedded log > topic.json naming impossible values', () => {
  void test('a partition count below the partitions that hold records is DATA_CORRUPT naming topic.json, never those records dropped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-state-damage-'))
    const log = new EmbeddedEventLog({ dir })
    await log.createTopic('t', 4)
    await log.produce(
      't',
      [0, 1, 2, 3].map((partition) => ({ key: null, value: Buffer.from('x'), partition })),
    )
    await log.close()
    const meta = join(dir, 'topics', 't', 'topic.json')
    for (const partitions of [1, 2, 3]) {
      writeFileSync(meta, JSON.stringify({ partitions }))
      const reopened = new EmbeddedEventLog({ dir })
      const failure = await reopened.endOffsets('t').then(
        (ends) => ends,
        (err: unknown) => err,
      )
      await reopened.close()
      assert.ok(failure instanceof FeatureStoreError, `${partitions} partitions: ${String(failure)}`)
      assert.equal(failure.code, 'DATA_CORRUPT', failure.message)
      assert.ok(failure.message.includes(meta), failure.message)
    }
    writeFileSync(meta, JSON.stringify({ partitions: 4 }))
    const reopened = new EmbeddedEventLog({ dir })
    assert.deepEqual(await reopened.endOffsets('t'), ['1', '1', '1', '1'])
    await reopened.close()
    // Partitions past the count without records (as a failed open of a larger count leaves them) are no loss.
    const larger = new EmbeddedEventLog({ dir })
    writeFileSync(meta, JSON.stringify({ partitions: 6 }))
    assert.deepEqual(await larger.endOffsets('t'), ['1', '1', '1', '1', '0', '0'])
    await larger.close()
    writeFileSync(meta, JSON.stringify({ partitions: 4 }))
    const shrunk = new EmbeddedEventLog({ dir })
    assert.deepEqual(await shrunk.endOffsets('t'), ['1', '1', '1', '1'])
    await shrunk.close()
    const again = new EmbeddedEventLog({ dir })
    assert.deepEqual(await again.endOffsets('t'), ['1', '1', '1', '1'])
    await again.close()
  })

  void test('a topic whose last partition fails to open leaves no file of the others open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfs-state-damage-'))
    const log = new EmbeddedEventLog({ dir })
    await log.createTopic('t', 3)
    await log.produce(
      't',
      [0, 1, 2].map((partition) => ({ key: null, value: Buffer.from('x'), partition })),
    )
    await log.close()
    writeFileSync(join(dir, 'topics', 't', '2', '00000000000000000000.log'), 'damaged')
    const openFiles = () => readdirSync('/proc/self/fd').length
    const before = openFiles()
    for (let attempt = 0; attempt < 20; attempt++) {
      const reopened = new EmbeddedEventLog({ dir })
      await assert.rejects(
        reopened.endOffsets('t'),
        (err: unknown) => err instanceof FeatureStoreError && err.code === 'DATA_CORRUPT',
      )
      await reopened.close()
    }
    assert.equal(openFiles(), before)
  })
})
