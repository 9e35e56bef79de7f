/**
 * Percent-decoding of what a request names in its target: path segments and query parameters, by
 * one strict rule. A malformed escape (`%`, `%zz`) or escapes that are not UTF-8 (`%ff`) are a 400
 * naming where — never decoded leniently, since `URLSearchParams` turns `%ff` into U+FFFD (another
 * entity key, served as if asked for) and keeps `%zz` as text, while the path refused both. Raw
 * characters outside printable ASCII are refused too, on either transport.
 */
import { HttpError } from '../errors.ts'
import { clippedName } from '../clipped-name.ts'

/**
 * A request target is ASCII: anything else must be percent-encoded (RFC 3986). node:http's parser
 * refuses a raw byte outside it with a 400; uWebSockets.js passed it on decoded — raw UTF-8 as its
 * character, a byte that is not UTF-8 as U+FFFD (another key, served as if asked for). Both
 * transports now refuse it alike.
 */
const NOT_TARGET_ASCII = /[^\x21-\x7e]/

function refuseRawNonAscii(raw: string, where: string): void {
  if (NOT_TARGET_ASCII.test(raw))
    throw new HttpError(400, 'BAD_REQUEST', `${where} holds a character that is not printable ASCII: percent-encode it (UTF-8)`)
}

/** One path segment, percent-decoded; a 400 when it is not well-formed UTF-8 escapes. */
export function decodePathSegment(segment: string): string {
  refuseRawNonAscii(segment, 'the path')
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'malformed percent-encoding in path')
  }
}

/**
 * A query string's parameters (form encoding: `+` is a space). A name given twice
 * (`?user_id=a&user_id=b`) is ambiguous, a 400, not the last one silently; so is a name or value
 * whose percent-encoding is malformed.
 */
export function queryParameters(query: string): Record<string, string> {
  refuseRawNonAscii(query, 'the query')
  // No prototype: a parameter named __proto__ is a parameter like any other.
  const out = Object.create(null) as Record<string, string>
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decodeQueryPart(eq === -1 ? pair : pair.slice(0, eq), undefined)
    const value = eq === -1 ? '' : decodeQueryPart(pair.slice(eq + 1), name)
    if (Object.hasOwn(out, name))
      throw new HttpError(400, 'BAD_REQUEST', `query parameter ${clippedName(name)} is given more than once`, {
        parameter: clippedName(name),
      })
    out[name] = value
  }
  return out
}

function decodeQueryPart(text: string, parameter: string | undefined): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    throw new HttpError(
      400,
      'BAD_REQUEST',
      parameter === undefined
        ? 'malformed percent-encoding in a query parameter name'
        : `malformed percent-encoding in query parameter ${clippedName(parameter)}`,
      parameter === undefined ? undefined : { parameter: clippedName(parameter) },
    )
  }
}
