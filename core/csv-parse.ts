/**
 * RFC 4180 CSV: fields separated by commas, records by CRLF or LF; a field in double quotes may
 * hold commas, line breaks and doubled quotes (`""` is one `"`). Hand-written (no CSV library is
 * a dependency, and the grammar is small): it yields records as arrays of raw strings with the
 * line each starts on, and reports a malformed quote with its line instead of guessing.
 * A completely empty line is skipped (a trailing newline, blank lines people leave).
 *
 * One parser for every CSV kfs reads — table snapshots (adapters/tables) and label files
 * (training/labels.ts) — so a file reads the same, and fails on the same line, wherever it goes.
 */
import { isUtf8 } from 'node:buffer'
import { CsvSyntaxError } from './errors.ts'

export interface CsvRecord {
  /** 1-based line the record starts on. */
  readonly line: number
  readonly cells: readonly string[]
  /**
   * The fields written `""` (quoted, empty), when there are any: Postgres, DuckDB and Spark write
   * an empty text so and a null as nothing at all, so a reader of text columns can tell them apart.
   */
  readonly quotedEmpty?: readonly number[]
}

export function* parseCsv(text: string): Generator<CsvRecord> {
  const n = text.length
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0 // a byte-order mark is not part of the first name
  let line = 1
  while (i < n) {
    const startLine = line
    const cells: string[] = []
    let quotedEmpty: number[] | undefined
    // One record: fields until an unquoted line break or the end.
    for (;;) {
      let cell: string
      if (text.charCodeAt(i) === 0x22 /* " */) {
        let value = ''
        let from = i + 1
        for (;;) {
          const q = text.indexOf('"', from)
          if (q < 0) throw new CsvSyntaxError(startLine, 'a quoted field is never closed')
          value += text.slice(from, q)
          if (text.charCodeAt(q + 1) === 0x22) {
            value += '"'
            from = q + 2
            continue
          }
          i = q + 1
          break
        }
        for (const ch of value) if (ch === '\n') line++
        const next = text.charCodeAt(i)
        if (i < n && next !== 0x2c && next !== 0x0a && !(next === 0x0d && text.charCodeAt(i + 1) === 0x0a))
          throw new CsvSyntaxError(line, 'text after a closing quote (a quote inside a field must be doubled: "")')
        cell = value
        if (value === '') (quotedEmpty ??= []).push(cells.length)
      } else {
        let end = i
        while (end < n) {
          const c = text.charCodeAt(end)
          if (c === 0x2c || c === 0x0a || (c === 0x0d && text.charCodeAt(end + 1) === 0x0a)) break
          if (c === 0x22) throw new CsvSyntaxError(line, 'a quote inside an unquoted field (quote the whole field)')
          end++
        }
        cell = text.slice(i, end)
        i = end
      }
      cells.push(cell)
      const c = text.charCodeAt(i)
      if (c === 0x2c) {
        i++
        continue
      }
      // End of record: CRLF, LF or the end of the text.
      i += c === 0x0d ? 2 : i < n ? 1 : 0
      line++
      break
    }
    if (cells.length === 1 && cells[0] === '') continue
    yield quotedEmpty === undefined ? { line: startLine, cells } : { line: startLine, cells, quotedEmpty }
  }
}

/**
 * Whether a header record says its file's lines end in CR alone (classic Mac OS): the parser splits
 * records at LF and CRLF only, so such a file reads as one long record, and a column name never
 * holds a carriage return otherwise. Readers refuse it, naming the line endings, rather than report
 * missing columns.
 */
export function headerShowsCrOnlyLines(header: readonly string[]): boolean {
  return header.some((name) => name.includes('\r'))
}

/**
 * The bytes of a CSV file as text, which must be UTF-8 — for every CSV kfs reads, so both refuse
 * the same files: decoding other bytes would make each U+FFFD (two Latin-1 keys `caf\xe9` and
 * `caf\xe8` would become one), or throw Node's bare TypeError. `undefined` and the 1-based line
 * holding the first bytes that are not UTF-8 (found per line: no UTF-8 sequence holds a LF byte,
 * so lines can be checked alone; a real U+FFFD earlier in the file does not mislead it).
 */
export function csvUtf8Text(
  bytes: Uint8Array,
): { readonly text: string } | { readonly text: undefined; readonly badLine: number } {
  if (isUtf8(bytes)) return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8') }
  let line = 1
  for (let start = 0; ; line++) {
    const lf = bytes.indexOf(0x0a, start)
    const end = lf === -1 ? bytes.length : lf
    if (lf === -1 || !isUtf8(bytes.subarray(start, end))) return { text: undefined, badLine: line }
    start = lf + 1
  }
}
