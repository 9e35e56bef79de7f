/**
 * Percent-decoding of what a request names in its target: path segments and query parameters, by
 * one strict rule. A malformed escape (`%`, `%zz`) or escapes that are not UTF-8 (`%ff`) are a 400
 * naming where — never decoded leniently, since `URLSearchParams` turns `%ff` into U+FFFD (another
 * entity key, served as if asked for) and keeps `%zz` as text, while the path refused both.
 */
import { HttpError } from '../errors.ts'

/** One path segment, percent-decoded; a 400 when it is not well-formed UTF-8 escapes. */
export function decodePathSegment(segment: string): string {
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
  // No prototype: a parameter named __proto__ is a parameter like any other.
  const out = Object.create(null) as Record<string, string>
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decodeQueryPart(eq === -1 ? pair : pair.slice(0, eq), undefined)
    const value = eq === -1 ? '' : decodeQueryPart(pair.slice(eq + 1), name)
    if (Object.hasOwn(out, name))
      throw new HttpError(400, 'BAD_REQUEST', `query parameter ${name} is given more than once`, { parameter: name })
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
        : `malformed percent-encoding in query parameter ${parameter}`,
      parameter === undefined ? undefined : { parameter },
    )
  }
}
