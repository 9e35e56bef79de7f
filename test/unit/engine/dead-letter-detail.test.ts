/**
 * A dead letter's detail travels in a header, cut to MAX_DETAIL_UNITS code units — never between
 * the two halves of a character, which UTF-8 would carry as U+FFFD.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { DEAD_LETTER_HEADERS, deadLetterRecords, detailHeader, MAX_DETAIL_UNITS } from '../../../engine/dead-letter-topic.ts'

const ASTRAL = '\u{1F600}'

void describe('dead-letter detail header', () => {
  void test('a detail up to the limit is kept whole, a longer one cut at it', () => {
    for (const detail of ['', 'x', 'x'.repeat(MAX_DETAIL_UNITS), `${'x'.repeat(MAX_DETAIL_UNITS - 2)}${ASTRAL}`])
      assert.equal(detailHeader(detail), detail)
    assert.equal(detailHeader('y'.repeat(MAX_DETAIL_UNITS + 5)), 'y'.repeat(MAX_DETAIL_UNITS))
  })

  void test('a character whose halves straddle the limit is left out whole, at every position near it', () => {
    for (let pad = MAX_DETAIL_UNITS - 4; pad <= MAX_DETAIL_UNITS + 1; pad++) {
      const detail = `${'x'.repeat(pad)}${ASTRAL}${'z'.repeat(10)}`
      const cut = detailHeader(detail)
      assert.ok(cut.length <= MAX_DETAIL_UNITS, `pad ${pad}: ${cut.length} units`)
      assert.ok(cut.isWellFormed(), `pad ${pad}: a lone surrogate at the cut`)
      assert.ok(detail.startsWith(cut), `pad ${pad}: a prefix of the detail`)
      assert.ok(cut.length >= MAX_DETAIL_UNITS - 1, `pad ${pad}: at most one unit short of the limit`)
    }
  })

  void test('the dead-letter record carries the cut detail', () => {
    const detail = `${'x'.repeat(MAX_DETAIL_UNITS - 1)}${ASTRAL}`
    const [record] = deadLetterRecords([
      { key: null, value: new Uint8Array(), reason: 'late', detail, topic: 't', partition: 0, offset: '1' },
    ])
    assert.equal(record?.headers?.[DEAD_LETTER_HEADERS.detail], 'x'.repeat(MAX_DETAIL_UNITS - 1))
  })
})
