/** Keys in UTF-8 byte order (docs/design.md §2), whichever sort path sortKeysByBytes takes. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { compareKeyBytes, sortKeysByBytes } from '../../../operators/task/key-order.ts'

const byUtf8Bytes = (keys: readonly string[]): string[] => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))

void describe('operators > key order', () => {
  void test('sortKeysByBytes orders by UTF-8 bytes: ASCII-only keys and keys with surrogates or units ≥ U+E000', () => {
    // Well-formed strings only: a lone surrogate has no UTF-8 bytes of its own (it encodes as U+FFFD).
    const key = fc.oneof(fc.string({ unit: 'binary' }), fc.string(), fc.constantFrom('a', '\uE000', '😀', '\uFFFF', 'ab', ''))
    fc.assert(
      fc.property(fc.array(key, { maxLength: 60 }), (keys) => {
        assert.deepEqual(sortKeysByBytes([...keys]), byUtf8Bytes(keys))
        assert.deepEqual(sortKeysByBytes([...keys]), [...keys].sort(compareKeyBytes))
      }),
      { numRuns: 500 },
    )
  })

  void test('the fast path and the comparator agree where UTF-16 order would not: U+E000 after a surrogate pair', () => {
    // UTF-16 puts '😀' (D83D DE00) before '\uE000'; UTF-8 bytes (F0… vs EE…) put it after.
    assert.deepEqual(sortKeysByBytes(['😀', '\uE000', 'a']), ['a', '\uE000', '😀'])
    assert.deepEqual(sortKeysByBytes(['u10', 'u2', 'u1']), ['u1', 'u10', 'u2'])
  })

  void test('told that no key holds a unit ≥ U+D800 (a key table that never saw one), the same UTF-8 byte order', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.integer({ min: 0, max: 0xd7ff }).map((c) => String.fromCharCode(c)) }), { maxLength: 60 }), (keys) => {
        assert.deepEqual(sortKeysByBytes([...keys], false), byUtf8Bytes(keys))
      }),
      { numRuns: 300 },
    )
  })
})
