/**
 * The key-part check's fast path (printable ASCII, told by one loop) must never accept what the
 * full rules refuse, and every part it does not decide must still be judged by those rules.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  encodeEntityKey,
  invalidEntityKeyReason,
  invalidKeyPartReason,
  isPlainKeyPart,
  MAX_ENTITY_KEY_BYTES,
} from '../../../core/entity-key.ts'

/** The rules without the fast path: empty, control characters, a lone surrogate, too many UTF-8 bytes. */
function fullRules(part: string): string | undefined {
  if (part.length === 0) return 'empty'
  if (/[\u0000-\u001f\u007f]/.test(part)) return 'not printable (it holds control characters)'
  if (/\p{Cs}/u.test(part)) return 'not well-formed Unicode (it holds a lone surrogate)'
  if (Buffer.byteLength(part, 'utf8') > MAX_ENTITY_KEY_BYTES) return `longer than ${MAX_ENTITY_KEY_BYTES} bytes`
  return undefined
}

void describe('entity key parts', () => {
  const edges = [
    '',
    'u42',
    ' ',
    '~',
    'a\u001fb',
    'a\u007fb',
    '\u0000',
    'tab\there',
    'é',
    'ключ',
    '🔑',
    '\ud800',
    'a\udfff',
    '\u0000\ud800',
    `${'a'.repeat(MAX_ENTITY_KEY_BYTES - 2)}\ud800`,
    '\u0080',
    'a'.repeat(MAX_ENTITY_KEY_BYTES),
    'a'.repeat(MAX_ENTITY_KEY_BYTES + 1),
    'é'.repeat(MAX_ENTITY_KEY_BYTES / 2),
    'é'.repeat(MAX_ENTITY_KEY_BYTES / 2 + 1),
    `${'a'.repeat(MAX_ENTITY_KEY_BYTES - 1)}é`,
  ]

  void test('the fast path accepts only parts the full rules accept, and the verdicts agree on every part', () => {
    let seed = 11
    const next = (n: number): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n
    // Characters from each class the rules tell apart: controls, DEL, printable ASCII, Latin-1, BMP, astral, lone surrogates.
    const pool = ['\u0000', '\u0009', '\u001f', '\u007f', ' ', 'a', 'Z', '~', '\u0080', 'é', 'ß', '中', '🔑', '\ud83d', '\udd11']
    const random = Array.from({ length: 5000 }, () =>
      Array.from({ length: next(2) === 0 ? next(8) : next(600) }, () => pool[next(pool.length)]!).join(''),
    )
    let fast = 0
    for (const part of [...edges, ...random]) {
      if (isPlainKeyPart(part)) {
        fast++
        assert.equal(fullRules(part), undefined, `fast path accepted ${JSON.stringify(part.slice(0, 20))}`)
      }
      assert.equal(invalidKeyPartReason(part), fullRules(part), JSON.stringify(part.slice(0, 20)))
    }
    assert.ok(fast > 0, 'some parts took the fast path')
  })

  void test('an encoded key is judged part by part: the first refused part, named by its position', () => {
    const good = ['u1', 'a\\b', '😀', 'a'.repeat(MAX_ENTITY_KEY_BYTES)]
    for (const part of edges) {
      const reason = invalidKeyPartReason(part)
      assert.equal(invalidEntityKeyReason(part, 1), reason)
      for (let at = 0; at < good.length; at++) {
        const parts = good.toSpliced(at, 0, part)
        assert.equal(
          invalidEntityKeyReason(encodeEntityKey(parts), parts.length),
          reason === undefined ? undefined : `${reason} (part ${at + 1} of ${parts.length})`,
          JSON.stringify(parts.map((p) => p.slice(0, 8))),
        )
      }
    }
  })
})
