/**
 * The events of a `kfs produce --file`: newline-delimited JSON (one event per line, blank lines
 * skipped) or one JSON array. Read as a stream, so a file can be checked in full and then sent
 * without ever holding all of it (except the array form, which JSON.parse needs whole).
 *
 * Every item is either an event or the reason it is not one, with where it was (`line 12` or
 * `item 3`), so a check can report every bad event instead of stopping at the first.
 *
 * Numbers are parsed as a changelog message's are (schemas/json-number-literals.ts): a literal
 * JSON would silently change — a fraction rounded to an integer, a finite number beyond a double's
 * range — stays a `LossyNumber`, so the schema check can refuse it for an integer field instead of
 * sending a value the file never said (`eventJsonText` writes it back as the file wrote it).
 *
 * Lines are split as bytes and each must be UTF-8: a line that is not (Latin-1, UTF-16) is bad,
 * like one that is not JSON, rather than decoded with U+FFFD in place of its bytes.
 */
import { isUtf8 } from 'node:buffer'
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { LossyNumber, parseJsonNumbersExact } from '../../schemas/json-number-literals.ts'
import { isJsonObject } from '../../core/json-object.ts'
import { duplicateName, type DuplicateName } from '../../core/json-duplicate-names.ts'

export type EventItem =
  { readonly where: string; readonly event: Record<string, unknown> } | { readonly where: string; readonly error: string }

/**
 * The file's lines as readline splits them (LF, CRLF or a lone CR), each decoded only if it is
 * UTF-8: `undefined` for one that is not, which decoding would have turned into U+FFFD (a Latin-1
 * `café` sent as another user's key). readline reads the file as latin1, which maps each byte to
 * one character, so it splits the bytes exactly (no line break byte occurs inside a UTF-8
 * sequence) and each line's bytes come back whole to be checked.
 */
async function* fileLines(path: string): AsyncGenerator<string | undefined> {
  let first = true
  for await (const text of createInterface({ input: createReadStream(path, 'latin1'), crlfDelay: Infinity })) {
    let bytes = Buffer.from(text, 'latin1')
    // A UTF-8 byte-order mark (Windows editors write one) is not part of line 1, as for CSV files.
    if (first && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3)
    first = false
    yield isUtf8(bytes) ? bytes.toString('utf8') : undefined
  }
}

export async function* readEventFile(path: string): AsyncGenerator<EventItem> {
  let n = 0
  let arrayText: string | undefined
  for await (const line of fileLines(path)) {
    n++
    if (line === undefined) {
      if (arrayText === undefined) {
        yield { where: `line ${n}`, error: 'not UTF-8 text' }
        continue
      }
      yield { where: 'the file', error: `is not UTF-8 text (line ${n})` }
      return
    }
    if (arrayText !== undefined || (n === 1 && line.trimStart().startsWith('['))) {
      arrayText = (arrayText ?? '') + line + '\n'
      continue
    }
    if (line.trim() === '') continue
    const where = `line ${n}`
    let parsed: unknown
    try {
      parsed = parseJsonNumbersExact(line)
    } catch {
      yield { where, error: 'not valid JSON' }
      continue
    }
    if (!isJsonObject(parsed)) {
      yield { where, error: 'an event must be a JSON object' }
      continue
    }
    const twice = duplicateName(line, parsed)
    yield twice === undefined ? { where, event: parsed } : { where, error: twiceError(twice) }
  }
  if (arrayText === undefined) return
  let parsed: unknown
  try {
    parsed = parseJsonNumbersExact(arrayText)
  } catch {
    yield { where: 'the file', error: 'starts with [ but is not a valid JSON array' }
    return
  }
  if (!Array.isArray(parsed)) {
    yield { where: 'the file', error: 'expected a JSON array of events' }
    return
  }
  const twice = duplicateName(arrayText, parsed)
  if (twice !== undefined) {
    yield { where: 'the file', error: twiceError(twice) }
    return
  }
  for (let i = 0; i < parsed.length; i++) {
    const item: unknown = parsed[i]
    yield isJsonObject(item) ? { where: `item ${i}`, event: item } : { where: `item ${i}`, error: 'an event must be a JSON object' }
  }
}

/**
 * An object naming one name twice: JSON.parse keeps the last value silently, so the event sent
 * would be one the file may not mean (`"user_id":"u1",…,"user_id":"u2"` sent as u2's), as a
 * changelog message or a request body naming a name twice is refused.
 */
function twiceError(twice: DuplicateName): string {
  const where = twice.path === '' ? 'the event' : `the object at ${twice.path}`
  return `${where} holds the name ${JSON.stringify(twice.name)} twice: which value is meant is not known`
}

/** Whether the event holds a literal JSON would have changed (a `LossyNumber`) anywhere. */
export function holdsLossyNumber(value: unknown): boolean {
  if (value instanceof LossyNumber) return true
  if (Array.isArray(value)) return value.some(holdsLossyNumber)
  if (value !== null && typeof value === 'object') return Object.values(value).some(holdsLossyNumber)
  return false
}

/** The event with every `LossyNumber` replaced by the double JSON gives for it. */
export function withRoundedNumbers(value: unknown): unknown {
  if (value instanceof LossyNumber) return value.value
  if (Array.isArray(value)) return value.map(withRoundedNumbers)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withRoundedNumbers(v)]))
  return value
}

/** `JSON.rawJSON` (Node ≥ 21): a value JSON.stringify writes verbatim; not yet in TypeScript's lib. */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON

/**
 * The event as JSON text, each `LossyNumber` written as its literal (what the file said), and a
 * negative zero as `-0` (JSON.stringify writes `0`: a double column's sign would be lost).
 */
export function eventJsonText(event: Record<string, unknown>): string {
  return JSON.stringify(event, (_key, value: unknown) =>
    value instanceof LossyNumber ? rawJson(value.literal) : Object.is(value, -0) ? rawJson('-0') : value,
  )
}

/** What a full check of a file found: how many events are good, and the first bad ones. */
export interface EventFileCheck {
  readonly events: number
  readonly badCount: number
  /** The first few bad events, in file order. */
  readonly bad: readonly { readonly where: string; readonly error: string }[]
}

/**
 * Reads the whole file through `check` (parse, schema, keys) without sending anything. `check`
 * returns the reason an event cannot be sent, or undefined when it can.
 */
export async function checkEventFile(
  path: string,
  check: (event: Record<string, unknown>) => string | undefined,
  keep = 5,
): Promise<EventFileCheck> {
  let events = 0
  let badCount = 0
  const bad: { where: string; error: string }[] = []
  for await (const item of readEventFile(path)) {
    const error = 'error' in item ? item.error : checkOne(check, item.event)
    if (error === undefined) {
      events++
      continue
    }
    badCount++
    if (bad.length < keep) bad.push({ where: item.where, error })
  }
  return { events, badCount, bad }
}

/**
 * `check` of one event, where an event nested too deeply for the checks' recursion (a line of
 * 100,000 `[`) is that event's fault, reported with its line like any other, not a crash.
 */
function checkOne(check: (event: Record<string, unknown>) => string | undefined, event: Record<string, unknown>): string | undefined {
  try {
    return check(event)
  } catch (err: unknown) {
    if (err instanceof RangeError) return 'nested too deeply to check'
    throw err
  }
}
