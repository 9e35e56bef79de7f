/**
 * Canonical entity-key encoding, shared by the engine (state, re-keying, Kafka message keys),
 * the online store (Redis key names) and serving (request validation).
 *
 * - A single join key is its value as a string: `u42`.
 * - A composite key (user × category) joins the parts in the entity's declared join-key order with
 *   the unit separator U+001F, each part escaped so the encoding is injective.
 *
 * Entity keys are limited to printable characters without control codes (except the separator we
 * add) and to 512 bytes, so nothing odd can reach a Redis key or a Kafka header.
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

/** Returns the reason a key part is unacceptable, or undefined when it is fine. */
export function invalidKeyPartReason(part: string): string | undefined {
  if (isPlainKeyPart(part)) return undefined
  if (part.length === 0) return 'empty'
  if (/[\u0000-\u001f\u007f]/.test(part)) return 'not printable (it holds control characters)'
  if (Buffer.byteLength(part, 'utf8') > MAX_ENTITY_KEY_BYTES) return `longer than ${MAX_ENTITY_KEY_BYTES} bytes`
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
