/**
 * The entity-key corpus every door is held to (docs/semantics.md §20, the key rule): each kind of
 * key part core/entity-key.ts's `invalidKeyPartReason` refuses, keys of the wrong type for their
 * entity, and tricky keys that are valid. The door tests run each door over all of it and expect
 * the door's own form of refusal (a dead letter, a rejected row, a 400, a usage error, a refused
 * write) carrying core's reason text — never a door's own wording, never an acceptance.
 */
import { invalidKeyPartReason, MAX_ENTITY_KEY_BYTES } from '../../../core/entity-key.ts'

/** Which part of the rule a bad part breaks: the test checks core gives that reason, then that each door gives core's. */
export type BadKind = 'empty' | 'control' | 'surrogate' | 'length'

export interface BadPart {
  readonly what: string
  readonly part: string
  readonly kind: BadKind
}

const A = 'a'.repeat(MAX_ENTITY_KEY_BYTES)

/** Every kind of text key part the rule refuses. */
export const BAD_PARTS: readonly BadPart[] = [
  { what: 'empty', part: '', kind: 'empty' },
  { what: 'a lone high surrogate alone', part: '\ud800', kind: 'surrogate' },
  { what: 'a lone high surrogate at the start', part: '\ud83dabc', kind: 'surrogate' },
  { what: 'a lone high surrogate in the middle', part: 'ab\udbffcd', kind: 'surrogate' },
  { what: 'a lone high surrogate at the end (an emoji cut in half)', part: 'u😀'.slice(0, 2), kind: 'surrogate' },
  { what: 'a lone low surrogate at the start', part: '\udc00abc', kind: 'surrogate' },
  { what: 'a lone low surrogate in the middle', part: 'ab\ude00cd', kind: 'surrogate' },
  { what: 'a lone low surrogate at the end', part: 'abc\udfff', kind: 'surrogate' },
  { what: 'a pair in the wrong order (low, high)', part: 'x\ude00\ud83dy', kind: 'surrogate' },
  { what: 'a lone surrogate beside a proper pair', part: '😀\ud800', kind: 'surrogate' },
  {
    what: 'a lone surrogate in a key at the byte limit',
    part: `${'a'.repeat(MAX_ENTITY_KEY_BYTES - 3)}\ud800`,
    kind: 'surrogate',
  },
  { what: 'NUL', part: 'a\u0000b', kind: 'control' },
  { what: 'NUL alone', part: '\u0000', kind: 'control' },
  { what: 'a tab', part: 'a\tb', kind: 'control' },
  { what: 'a line feed', part: 'a\nb', kind: 'control' },
  { what: 'a carriage return', part: 'a\rb', kind: 'control' },
  { what: 'ESC', part: '\u001b[31mred', kind: 'control' },
  { what: "the composite-key separator U+001F (core's KEY_PART_SEPARATOR)", part: 'a\u001fb', kind: 'control' },
  { what: 'DEL', part: 'a\u007f', kind: 'control' },
  { what: 'a control character and a lone surrogate (control is told first)', part: '\u0001\ud800', kind: 'control' },
  { what: 'one byte over the limit, ASCII', part: `${A}a`, kind: 'length' },
  {
    what: 'over the limit in UTF-8 bytes, within it in UTF-16 units (2-byte é)',
    part: 'é'.repeat(MAX_ENTITY_KEY_BYTES / 2 + 1),
    kind: 'length',
  },
  {
    what: 'over the limit in UTF-8 bytes (3-byte 中)',
    part: '中'.repeat(Math.floor(MAX_ENTITY_KEY_BYTES / 3) + 1),
    kind: 'length',
  },
  {
    what: 'over the limit by a 4-byte character after the limit less 3',
    part: `${'a'.repeat(MAX_ENTITY_KEY_BYTES - 3)}😀`,
    kind: 'length',
  },
  { what: 'very long (100,000 characters)', part: 'k'.repeat(100_000), kind: 'length' },
]

/** The reason core gives each kind (the test checks the corpus against it before any door). */
export const KIND_REASON: Readonly<Record<BadKind, RegExp>> = {
  empty: /^empty$/,
  control: /^not printable \(it holds control characters\)$/,
  surrogate: /^not well-formed Unicode \(it holds a lone surrogate\)$/,
  length: new RegExp(`^longer than ${MAX_ENTITY_KEY_BYTES} bytes$`),
}

/** core's reason for a bad part (the corpus holds only parts it refuses). */
export function reasonOf(part: string): string {
  const reason = invalidKeyPartReason(part)
  if (reason === undefined) throw new Error(`the corpus holds ${JSON.stringify(part.slice(0, 20))}, which the rule accepts`)
  return reason
}

/** Parts that text bytes (UTF-8 files, Avro strings, URLs) can carry: a lone surrogate has no UTF-8 form. */
export const BYTE_CARRIABLE = BAD_PARTS.filter((b) => b.kind !== 'surrogate')
export const SURROGATES = BAD_PARTS.filter((b) => b.kind === 'surrogate')

/**
 * A lone surrogate as a byte door receives it: its code unit in UTF-8's 3-byte form (ED A0 80 for
 * U+D800, as a WTF-8 or CESU-8 writer sends it), which no UTF-8 decoder accepts.
 */
export function wtf8(part: string): Buffer {
  const bytes: number[] = []
  for (const ch of part) {
    const c = ch.codePointAt(0)!
    if (c >= 0xd800 && c <= 0xdfff) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f))
    else bytes.push(...Buffer.from(ch, 'utf8'))
  }
  return Buffer.from(bytes)
}

/** Tricky keys the rule accepts: every door must take them, and a row written by one is read back by it. */
export const GOOD_PARTS: readonly { readonly what: string; readonly part: string }[] = [
  { what: 'plain ASCII', part: 'u42' },
  { what: 'a non-BMP character as a proper pair', part: 'u😀' },
  { what: 'only non-BMP characters', part: '𝄞𠀀' },
  { what: 'a combining mark (e + U+0301)', part: 'caf' + 'e\u0301' },
  { what: 'the precomposed form, a different key', part: 'caf\u00e9' },
  { what: 'right-to-left text (Arabic)', part: 'مرحبا' },
  { what: 'right-to-left text with a RLM mark (Hebrew)', part: 'שלום\u200f1' },
  { what: 'a C1 control (U+0085, printable to the rule)', part: 'a\u0085b' },
  { what: 'a no-break space', part: '\u00a0' },
  { what: 'U+FFFD itself', part: 'x\ufffd' },
  { what: 'braces, colons and a backslash', part: '}a:{b\\c' },
  { what: 'leading and trailing spaces', part: ' spaced ' },
  { what: 'exactly the limit, ASCII', part: A },
  { what: 'exactly the limit, 2-byte characters', part: 'é'.repeat(MAX_ENTITY_KEY_BYTES / 2) },
  { what: 'exactly the limit, 4-byte characters', part: '😀'.repeat(MAX_ENTITY_KEY_BYTES / 4) },
  { what: 'exactly the limit, 3-byte characters and ASCII', part: `${'中'.repeat(170)}ab` },
]

/** Values an `int` entity's key is never (each door refuses them, by its own type rule). */
export const BAD_INTS: readonly { readonly what: string; readonly value: unknown }[] = [
  { what: 'NaN', value: Number.NaN },
  { what: 'Infinity', value: Number.POSITIVE_INFINITY },
  { what: 'a fraction', value: 7.5 },
  { what: 'a number past 2^53', value: 2 ** 53 + 2 },
  { what: 'leading zeros', value: '007' },
  { what: 'a plus sign', value: '+7' },
  { what: 'the text -0', value: '-0' },
  { what: 'a decimal point', value: '7.0' },
  { what: 'an exponent', value: '1e3' },
  { what: 'a boolean', value: true },
  { what: 'a string of letters', value: 'abc' },
]
