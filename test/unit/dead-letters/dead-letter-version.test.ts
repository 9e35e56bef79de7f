/**
 * A letter names the version of the view that refused it (`kfs-view-version`), and reads it back
 * only when it is one: a header that is no positive safe integer, or stands without a view, names
 * no version — the re-drive plan then treats the letter as one of an unknown version (held where
 * a backfill may have read the record), never as the current version's.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DEAD_LETTER_HEADERS, deadLetterRecords } from '../../../engine/dead-letter-topic.ts'
import type { DeadLetter } from '../../../ports/dead-letters.ts'
import { parseDeadLetter } from '../../../replay/dead-letters/dead-letter-entry.ts'

const refused: DeadLetter = {
  topic: 'clicks',
  partition: 1,
  offset: '7',
  key: null,
  value: Buffer.from('v'),
  reason: 'late',
  detail: 'late',
  view: 'user_clicks',
}

function readBack(headers: Record<string, string>) {
  return parseDeadLetter({
    topic: 'kfs.dead-letters',
    partition: 0,
    offset: '0',
    key: null,
    value: null,
    timestampMs: 0,
    headers,
  })
}

void describe('dead letters > the refusing view version', () => {
  void test('written with the view and read back', () => {
    const [record] = deadLetterRecords([{ ...refused, viewVersion: 3 }])
    assert.equal(record!.headers![DEAD_LETTER_HEADERS.viewVersion], '3')
    assert.equal(readBack(record!.headers!)?.viewVersion, 3)
    const [unnamed] = deadLetterRecords([{ ...refused, view: undefined, viewVersion: 3 }])
    assert.equal(unnamed!.headers![DEAD_LETTER_HEADERS.viewVersion], undefined, 'a version without a view names nothing')
  })

  void test('a header that is no version reads as none', () => {
    const [record] = deadLetterRecords([refused])
    const base = record!.headers!
    const cases: [string, Record<string, string>][] = [
      ['absent (a letter of an older kfs)', base],
      ['zero', { ...base, [DEAD_LETTER_HEADERS.viewVersion]: '0' }],
      ['negative', { ...base, [DEAD_LETTER_HEADERS.viewVersion]: '-1' }],
      ['a fraction', { ...base, [DEAD_LETTER_HEADERS.viewVersion]: '1.5' }],
      ['leading zero', { ...base, [DEAD_LETTER_HEADERS.viewVersion]: '01' }],
      ['not a number', { ...base, [DEAD_LETTER_HEADERS.viewVersion]: 'v1' }],
      ['empty', { ...base, [DEAD_LETTER_HEADERS.viewVersion]: '' }],
      ['beyond 2^53', { ...base, [DEAD_LETTER_HEADERS.viewVersion]: '9007199254740993' }],
      [
        'without a view',
        Object.fromEntries(
          Object.entries({ ...base, [DEAD_LETTER_HEADERS.viewVersion]: '1' }).filter(([k]) => k !== DEAD_LETTER_HEADERS.view),
        ),
      ],
    ]
    for (const [name, headers] of cases) {
      const entry = readBack(headers)
      assert.ok(entry !== undefined, `${name}: still a letter`)
      assert.equal(entry.viewVersion, undefined, name)
    }
  })
})
