/**
 * The JSON body of a POST, read strictly: UTF-8 (Buffer#toString would turn bytes that are not —
 * a Latin-1 `café` — into U+FFFD and read another entity), JSON, and no object naming a key twice.
 * JSON.parse keeps the last of two equal keys silently, so `{"entities": A, "entities": B}` was
 * answered for B while the client (or a proxy or logger that keeps the first) reads it as A: an
 * ambiguous request, refused like a query parameter given twice.
 */
import { isUtf8 } from 'node:buffer'
import { duplicateName } from '../core/json-duplicate-names.ts'
import { HttpError } from './errors.ts'
import { clippedName } from './clipped-name.ts'

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
    const key = duplicateKey(text, value)
    if (key !== undefined) {
      throw new HttpError(400, 'BAD_REQUEST', `the body names key ${clippedName(key)} twice in one object: give each key once`, {
        key: clippedName(key),
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

/** The first key a checked object of `text` (valid JSON, parsed as `parsed`) names twice; undefined when none does. */
export function duplicateKey(text: string, parsed: unknown = JSON.parse(text)): string | undefined {
  return duplicateName(text, parsed, { checkedDepth: CHECKED_DEPTH })?.name
}
