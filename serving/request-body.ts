/**
 * The JSON body of a POST, read strictly: UTF-8 (Buffer#toString would turn bytes that are not —
 * a Latin-1 `café` — into U+FFFD and read another entity), JSON, and no object naming a key twice.
 * JSON.parse keeps the last of two equal keys silently, so `{"entities": A, "entities": B}` was
 * answered for B while the client (or a proxy or logger that keeps the first) reads it as A: an
 * ambiguous request, refused like a query parameter given twice.
 */
import { isUtf8 } from 'node:buffer'
import { HttpError } from './errors.ts'
import { shown } from './shown.ts'

export function parseJsonBody(body: Buffer): unknown {
  if (!isUtf8(body)) throw new HttpError(400, 'BAD_REQUEST', 'body is not valid UTF-8')
  const text = body.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'body is not valid JSON')
  }
  if (typeof value === 'object' && value !== null) {
    const key = duplicateKey(text)
    if (key !== undefined) {
      throw new HttpError(400, 'BAD_REQUEST', `the body names key ${shown(key)} twice in one object: give each key once`, {
        key: shown(key),
      })
    }
  }
  return value
}

/**
 * Objects this deep or shallower are checked: the body (1) and its `entities` and `request` (2),
 * the only objects a feature request has. A deeper object is refused by the request's shape
 * anyway, and not tracking it keeps a deeply nested body from costing a set per level.
 */
const CHECKED_DEPTH = 2

/** The first key an object of `text` (valid JSON) names twice, up to CHECKED_DEPTH; undefined when none does. */
export function duplicateKey(text: string): string | undefined {
  // Per open object or array, innermost last: the keys seen (checked objects), else undefined.
  const open: (Set<string> | undefined)[] = []
  let atKey = false
  let i = 0
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const end = stringEnd(text, i)
      const keys = atKey ? open[open.length - 1] : undefined
      if (keys !== undefined) {
        const raw = text.slice(i + 1, end)
        // Escapes name the same key another way (`"entit\u0069es"`): compare decoded keys.
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw
        if (keys.has(key)) return key
        keys.add(key)
      }
      atKey = false
      i = end + 1
      continue
    }
    if (c === OPEN_OBJECT) {
      open.push(open.length < CHECKED_DEPTH && !open.includes(undefined) ? new Set() : undefined)
      atKey = true
    } else if (c === OPEN_ARRAY) open.push(undefined)
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) open.pop()
    else if (c === COMMA) atKey = open[open.length - 1] !== undefined
    i++
  }
  return undefined
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c

/** The index of the quote closing the string that opens at `start` (valid JSON: it exists). */
function stringEnd(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1)
  for (;;) {
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return quote
    quote = text.indexOf('"', quote + 1)
  }
}
