/**
 * A JSON object that holds one name twice (`{"op":"u", …, "op":"d"}`, `"amount":14,"amount":99`)
 * says two things, and JSON.parse silently keeps the last: a changelog message read that way
 * applies a value its writer may not have meant. RFC 8259 leaves such an object's meaning to the
 * reader; kfs refuses it — a changelog message (schemas/debezium-json.ts) and a request body
 * (serving/request-body.ts) alike — naming the object and the name.
 *
 * Strategy: the parsed value is checked against the text cheaply, and the text is scanned only
 * when the two may disagree. Every member of the text is a name followed by `:`; writers put the
 * colon right after the name's closing quote (Kafka Connect's JSON converter does), so counting
 * `":` counts the members — plus any `":` inside a string, which only overcounts. When the text
 * has no name followed by whitespace before its colon, a count equal to the parsed objects'
 * own names proves there is no duplicate; anything else takes the exact scan.
 */

/** Where a name occurs twice: the object's path (`after`, `` for the message) and the name. */
export interface DuplicateName {
  readonly path: string
  readonly name: string
}

const SPACED_COLON = /"[ \t\r\n]+:/

export interface DuplicateNameOptions {
  /**
   * Only objects this deep or shallower, with no array above them, are checked (the top object is
   * depth 1): a reader that refuses anything deeper by its shape need not track it. Default: all.
   */
  readonly checkedDepth?: number
}

/** The first duplicate name in `text`, whose JSON.parse result is `parsed`; undefined when none. */
export function duplicateName(text: string, parsed: unknown, options: DuplicateNameOptions = {}): DuplicateName | undefined {
  // No duplicate anywhere is none in the checked objects either.
  if (!SPACED_COLON.test(text) && countColonsAfterQuote(text) === countNames(parsed)) return undefined
  return scanForDuplicate(text, options.checkedDepth ?? Infinity)
}

function countColonsAfterQuote(text: string): number {
  let n = 0
  for (let at = text.indexOf('":'); at >= 0; at = text.indexOf('":', at + 2)) n++
  return n
}

/**
 * Own names of every plain object in the parsed value (JSON.parse makes only plain objects and
 * arrays). Iterative: JSON.parse reads any depth, and a message nested deeper than the call stack
 * must be refused or read, not crash the decoder.
 */
function countNames(parsed: unknown): number {
  let n = 0
  const todo: unknown[] = [parsed]
  while (todo.length > 0) {
    const value = todo.pop()
    if (value === null || typeof value !== 'object') continue
    if (Array.isArray(value)) {
      for (const item of value) todo.push(item)
      continue
    }
    // A reviver's own objects (json-number-literals.ts LossyNumber) are values, not JSON objects.
    if (Object.getPrototypeOf(value) !== Object.prototype) continue
    for (const key in value) {
      n++
      todo.push((value as Record<string, unknown>)[key])
    }
  }
  return n
}

interface Frame {
  /** Names seen in this object; null for an array, or an object not checked. */
  readonly names: Set<string> | null
  /** Whether objects inside it may be checked: always without a depth limit; with one, only inside a checked object. */
  readonly checksInside: boolean
  readonly path: string
  /** The name of the member being read (objects), whose value a nested container is. */
  member: string
}

/** The exact scan of valid JSON text: the first checked object that repeats a name. */
function scanForDuplicate(text: string, checkedDepth: number): DuplicateName | undefined {
  const stack: Frame[] = []
  const pathOf = (): string => {
    const top = stack.at(-1)
    if (top === undefined) return ''
    if (top.names === null) return `${top.path}[]`
    return top.path === '' ? top.member : `${top.path}.${top.member}`
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (ch === 0x22 /* " */) {
      const end = closingQuote(text, i)
      const top = stack.at(-1)
      if (top?.names != null && isFollowedByColon(text, end + 1)) {
        const name = JSON.parse(text.slice(i, end + 1)) as string
        if (top.names.has(name)) return { path: top.path, name }
        top.names.add(name)
        top.member = name
      }
      i = end
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      const checked = ch === 0x7b && stack.length < checkedDepth && (stack.at(-1)?.checksInside ?? true)
      stack.push({
        names: checked ? new Set() : null,
        checksInside: checked || checkedDepth === Infinity,
        path: pathOf(),
        member: '',
      })
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop()
    }
  }
  return undefined
}

/** Index of the quote closing the string that opens at `open` (valid JSON: one exists). */
function closingQuote(text: string, open: number): number {
  let at = text.indexOf('"', open + 1)
  for (;;) {
    let backslashes = 0
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++
    if (backslashes % 2 === 0) return at
    at = text.indexOf('"', at + 1)
  }
}

function isFollowedByColon(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (ch === 0x3a) return true
    if (ch !== 0x20 && ch !== 0x09 && ch !== 0x0a && ch !== 0x0d) return false
  }
  return false
}
