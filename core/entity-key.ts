/**
 * Canonical entity-key encoding, shared by the engine (state, re-keying, Kafka message keys),
 * the online store (Redis key names) and serving (request validation).
 *
 * - A single join key is its value as a string: `u42`.
 * - A composite key (user × category) joins the parts in the entity's declared join-key order with
 *   the unit separator U+001F, each part escaped so the encoding is injective.
 *
 * Entity keys are limited to printable, well-formed Unicode without control codes (except the
 * separator we add) and to 512 bytes of UTF-8 per part, so nothing odd can reach a Redis key or a
 * Kafka header: invalidKeyPartReason is that rule, and every door that takes a key uses it.
 */
export const KEY_PART_SEPARATOR = '\u001f'
export const MAX_ENTITY_KEY_BYTES = 512

/**
 * An `int` entity's key written as a string, in its one canonical form: `7`, `-7`, `0` — never
 * `007`, `+7`, `7.0` or `-0`. Two spellings of one integer would be two entities (the engine keys
 * state by the string), so the engine, serving and label files all refuse every other form.
 */
export const CANONICAL_INT_KEY = /^(0|-?[1-9][0-9]*)$/

export function encodeEntityKey(parts: readonly string[]): string {
  if (parts.length === 1) return parts[0] as string
  return parts.map((p) => p.replaceAll('\\', '\\\\').replaceAll(KEY_PART_SEPARATOR, `\\${KEY_PART_SEPARATOR}`)).join(KEY_PART_SEPARATOR)
}

export function decodeEntityKey(key: string, arity: number): string[] {
  if (arity === 1) return [key]
  const parts: string[] = []
  let current = ''
  for (let i = 0; i < key.length; i++) {
    const ch = key[i] as string
    if (ch === '\\' && i + 1 < key.length) {
      current += key[++i]
    } else if (ch === KEY_PART_SEPARATOR) {
      parts.push(current)
      current = ''
    } else {
      current += ch
    }
  }
  parts.push(current)
  return parts
}

/** Why a key part that is not well-formed Unicode is refused (see invalidKeyPartReason). */
export const LONE_SURROGATE_REASON = 'not well-formed Unicode (it holds a lone surrogate)'

/**
 * The one rule every door holds a key part to (docs/semantics.md §20): the reason a key part is
 * unacceptable, phrased to follow "is", or undefined when it is fine. In this order: empty; a
 * control character (U+0000–U+001F, U+007F — so the separator U+001F too); a lone surrogate, which
 * has no UTF-8 form (every store writing keys as UTF-8 would hold it as U+FFFD, one key with every
 * other such spelling); more than MAX_ENTITY_KEY_BYTES bytes of UTF-8.
 */
export function invalidKeyPartReason(part: string): string | undefined {
  if (isPlainKeyPart(part)) return undefined
  if (part.length === 0) return 'empty'
  if (/[\u0000-\u001f\u007f]/.test(part)) return 'not printable (it holds control characters)'
  if (!part.isWellFormed()) return LONE_SURROGATE_REASON
  if (Buffer.byteLength(part, 'utf8') > MAX_ENTITY_KEY_BYTES) return `longer than ${MAX_ENTITY_KEY_BYTES} bytes`
  return undefined
}

/**
 * Why an encoded entity key of `arity` join keys names no entity (a part refused by
 * invalidKeyPartReason, followed by its position when there are several), or undefined — the
 * online stores' last guard, which hold encoded keys.
 */
export function invalidEntityKeyReason(key: string, arity: number): string | undefined {
  if (arity === 1) return invalidKeyPartReason(key)
  // Each part the key holds is judged; how many there are is the encoder's business (a store keys what it is given).
  const parts = decodeEntityKey(key, arity)
  for (let i = 0; i < parts.length; i++) {
    const reason = invalidKeyPartReason(parts[i]!)
    if (reason !== undefined) return `${reason} (part ${i + 1} of ${parts.length})`
  }
  return undefined
}

/**
 * The usual key part — non-empty printable ASCII, within the byte limit — told by one loop over its
 * characters: every event's key is checked, and a regex and a UTF-8 byte count per event were a
 * few percent of the operators' time. False says nothing: invalidKeyPartReason then decides.
 */
export function isPlainKeyPart(part: string): boolean {
  const n = part.length
  if (n === 0 || n > MAX_ENTITY_KEY_BYTES) return false
  for (let i = 0; i < n; i++) {
    const c = part.charCodeAt(i)
    if (c < 0x20 || c > 0x7e) return false
  }
  return true
}
