/**
 * Dead letters of a re-keyed view point at the source record (its `kfs-source-*` headers on the
 * internal topic), in the DeadLetter and in the dead-letter topic's headers; map_failed keeps the
 * thrown message.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { thrownText } from '../../../operators/task/output.ts'
import { DEAD_LETTER_HEADERS, deadLetterRecords } from '../../../engine/dead-letter-topic.ts'
import { PartitionProcessor } from '../../../engine/partition-processor.ts'
import { REKEY_HEADERS } from '../../../engine/rekey-stage.ts'
import { consumedView } from '../../../engine/plan-sources.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { testEntity, testSource, testView } from '../operators/defs.ts'

const source = testSource({ topic: 'clicks' })
const view = testView({ source, entity: testEntity(['item']), features: [{ op: 'count', windowMs: null }] })
const INTERNAL = 'kfs.clicks.by-item'
const origin = { [REKEY_HEADERS.topic]: 'clicks', [REKEY_HEADERS.partition]: '2', [REKEY_HEADERS.offset]: '9000000000000000001' }

function letterOf(topic: string, headers: Record<string, string>, read = source, runView = view) {
  const processor = new PartitionProcessor({
    topic,
    partition: 5,
    source: read,
    task: createPartitionTask({ views: [runView], source: read }),
    nextOffset: '0',
  })
  const record: LogRecord = { topic, partition: 5, offset: '7', key: null, value: new Uint8Array([1]), timestampMs: 0, headers }
  // No `item`: missing_key for this view.
  const out = processor.processRecords([record], [{ ok: true, event: { ts: 1 }, schemaId: 1 }], 0)
  assert.equal(out.deadLetters.length, 1)
  return out.deadLetters[0]!
}

void describe('engine > dead letter origin', () => {
  void test('a record of an internal topic is dead-lettered with the source record it came from', () => {
    const letter = letterOf(INTERNAL, origin)
    assert.equal(letter.reason, 'missing_key')
    assert.deepEqual(
      { topic: letter.topic, partition: letter.partition, offset: letter.offset },
      { topic: INTERNAL, partition: 5, offset: '7' },
    )
    assert.deepEqual(letter.origin, { topic: 'clicks', partition: 2, offset: '9000000000000000001' })
    const [record] = deadLetterRecords([letter])
    assert.deepEqual(record!.headers, {
      [DEAD_LETTER_HEADERS.reason]: 'missing_key',
      [DEAD_LETTER_HEADERS.detail]: letter.detail,
      [DEAD_LETTER_HEADERS.topic]: INTERNAL,
      [DEAD_LETTER_HEADERS.partition]: '5',
      [DEAD_LETTER_HEADERS.offset]: '7',
      [DEAD_LETTER_HEADERS.view]: view.name,
      [DEAD_LETTER_HEADERS.viewVersion]: String(view.version),
      [DEAD_LETTER_HEADERS.originTopic]: 'clicks',
      [DEAD_LETTER_HEADERS.originPartition]: '2',
      [DEAD_LETTER_HEADERS.originOffset]: '9000000000000000001',
    })
  })

  void test('as the live engine runs a re-keyed view (its own source is the internal topic), letters carry the origin', () => {
    const running = consumedView(view)
    assert.notEqual(running.source.topic, source.topic)
    const letter = letterOf(running.source.topic, origin, running.source, running)
    assert.equal(letter.topic, running.source.topic)
    assert.deepEqual(letter.origin, { topic: 'clicks', partition: 2, offset: '9000000000000000001' })
  })

  void test('origin headers on the source topic itself are not trusted (a producer could forge them)', () => {
    const letter = letterOf('clicks', origin)
    assert.equal(letter.origin, undefined)
    assert.equal(
      Object.keys(deadLetterRecords([letter])[0]!.headers!).some((h) => h.startsWith('kfs-origin')),
      false,
    )
  })

  void test('malformed origin headers on an internal topic give no origin rather than a wrong one', () => {
    assert.equal(letterOf(INTERNAL, { ...origin, [REKEY_HEADERS.partition]: 'x' }).origin, undefined)
    assert.equal(letterOf(INTERNAL, { [REKEY_HEADERS.topic]: 'clicks' }).origin, undefined)
  })

  void test('map_failed keeps the error name and message, cut to 200 characters; any thrown value is described', () => {
    assert.equal(thrownText(new TypeError('cannot read x')), 'TypeError: cannot read x')
    const long = thrownText(new Error('y'.repeat(500)))
    assert.equal(long.length, 200)
    assert.ok(long.startsWith('Error: yyy') && long.endsWith('…'))
    assert.equal(thrownText('plain'), 'string plain')
    assert.equal(thrownText(42), 'number 42')
    const hostile = {
      toString() {
        throw new Error('no')
      },
    }
    assert.equal(thrownText(hostile), 'object')
    assert.equal(thrownText(Object.create(null)), 'object')
  })
})
