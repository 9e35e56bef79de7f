/**
 * ISO-8601 times as kfs reads them everywhere a person writes one (CSV snapshot cells, CLI options;
 * label files check their dates the same way): a date alone is midnight UTC, a time without a zone
 * is UTC — never the machine's zone, which Date.parse would take — digits below the millisecond are
 * dropped, and the day must be one its month has.
 */

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/**
 * Whether year-month-day names a day of the (proleptic Gregorian) calendar. Date.parse checks only
 * day ≤ 31 and rolls the rest over (2024-02-30 is 1 March), which would read another time silently.
 * setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
 */
export function isCalendarDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

/** `text` as epoch ms; undefined when it is no ISO-8601 date or time, or names none (see the file comment). */
export function isoTimeMs(text: string): number | undefined {
  const m = ISO_TIME.exec(text)
  if (m === null || !isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]))) return undefined
  if (m[4] === undefined) return Date.parse(`${text}T00:00:00Z`)
  // Up to milliseconds: Date.parse takes 3 fraction digits at most.
  const trimmed = text.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1')
  const ms = Date.parse(m[8] === undefined ? `${trimmed}Z` : trimmed)
  return Number.isNaN(ms) ? undefined : ms
}

/** Why `text`, of the ISO-8601 form, names no time (for messages); undefined when it is not of the form. */
export function isoTimeProblem(text: string): string | undefined {
  const m = ISO_TIME.exec(text)
  if (m === null) return undefined
  return isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]))
    ? 'the time of day is out of range'
    : `${m[1]}-${m[2]}-${m[3]} is not a day of the calendar`
}

/**
 * 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the times every engine and file format here
 * can hold (four-digit ISO years; DuckDB, Parquet readers and Python's datetime refuse the rest).
 * Event times at every door and training labels' times are refused outside them.
 */
export const MIN_TIME_MS = -62_135_596_800_000
export const MAX_TIME_MS = 253_402_300_799_999
/** The range in words, for messages. */
export const TIME_RANGE_TEXT = '0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999Z'

/** Whether `ms` lies within years 1–9999 (MIN_TIME_MS … MAX_TIME_MS). */
export function withinTimeRange(ms: number): boolean {
  return ms >= MIN_TIME_MS && ms <= MAX_TIME_MS
}

/**
 * The largest |epoch ms| a Date holds (±100,000,000 days). An event time may be any safe integer
 * (docs/semantics.md: within ±2^53), which reaches beyond it: there toISOString throws.
 */
export const MAX_DATE_MS = 8_640_000_000_000_000

/** `ms` as ISO-8601 text (UTC), or as `<ms> ms` beyond the dates a Date holds. */
export function isoTextOrMs(ms: number): string {
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms`
}
