/**
 * The events of a `kfs produce --file`: newline-delimited JSON (one event per line, blank lines
 * skipped) or one JSON array. Read as a stream, so a file can be checked in full and then sent
 * without ever holding all of it (except the array form, which JSON.parse needs whole).
 *
 * Every item is either an event or the reason it is not one, with where it was (`line 12` or
 * `item 3`), so a check can report every bad event instead of stopping at the first.
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

export type EventItem =
  { readonly where: string; readonly event: Record<string, unknown> } | { readonly where: string; readonly error: string }

export async function* readEventFile(path: string): AsyncGenerator<EventItem> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })
  let n = 0
  let arrayText: string | undefined
  for await (const line of lines) {
    n++
    if (arrayText !== undefined || (n === 1 && line.trimStart().startsWith('['))) {
      arrayText = (arrayText ?? '') + line + '\n'
      continue
    }
    if (line.trim() === '') continue
    const where = `line ${n}`
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      yield { where, error: 'not valid JSON' }
      continue
    }
    yield isObject(parsed) ? { where, event: parsed } : { where, error: 'an event must be a JSON object' }
  }
  if (arrayText === undefined) return
  let parsed: unknown
  try {
    parsed = JSON.parse(arrayText)
  } catch {
    yield { where: 'the file', error: 'starts with [ but is not a valid JSON array' }
    return
  }
  if (!Array.isArray(parsed)) {
    yield { where: 'the file', error: 'expected a JSON array of events' }
    return
  }
  for (let i = 0; i < parsed.length; i++) {
    const item: unknown = parsed[i]
    yield isObject(item) ? { where: `item ${i}`, event: item } : { where: `item ${i}`, error: 'an event must be a JSON object' }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
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
    const error = 'error' in item ? item.error : check(item.event)
    if (error === undefined) {
      events++
      continue
    }
    badCount++
    if (bad.length < keep) bad.push({ where: item.where, error })
  }
  return { events, badCount, bad }
}
