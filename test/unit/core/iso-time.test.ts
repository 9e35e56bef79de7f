/**
 * core/iso-time.ts is how CSV snapshot cells and CLI options read a time, and how label files
 * check a date: one grammar, so each form is pinned here once for all of them — every form
 * accepted (date, time with and without seconds, fraction and zone), every way to name no time
 * (a day its month lacks, a month or an hour out of range, a malformed text) refused.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { isCalendarDay, isoTimeMs, isoTimeProblem } from '../../../core/iso-time.ts'

/** Epoch ms of a UTC time, built without Date.parse (setUTCFullYear keeps years 0–99). */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d)
  date.setUTCHours(h, mi, s, ms)
  return date.getTime()
}

void describe('ISO-8601 times', () => {
  void test('every accepted form reads as the UTC instant it names', () => {
    const cases: [string, number][] = [
      ['2026-11-01', utc(2026, 11, 1)],
      ['2024-02-29', utc(2024, 2, 29)],
      ['0001-01-01', utc(1, 1, 1)],
      ['0099-12-31T23:59:59Z', utc(99, 12, 31, 23, 59, 59)],
      ['2026-11-01T10:20', utc(2026, 11, 1, 10, 20)],
      ['2026-11-01 10:20:30', utc(2026, 11, 1, 10, 20, 30)],
      ['2026-11-01T10:20:30.5', utc(2026, 11, 1, 10, 20, 30, 500)],
      ['2026-11-01T10:20:30.123456789', utc(2026, 11, 1, 10, 20, 30, 123)],
      ['2026-11-01T10:20:30.999Z', utc(2026, 11, 1, 10, 20, 30, 999)],
      ['2026-11-01T10:20:30+02:00', utc(2026, 11, 1, 8, 20, 30)],
      ['2026-11-01T10:20:30-0130', utc(2026, 11, 1, 11, 50, 30)],
    ]
    for (const [text, ms] of cases) assert.equal(isoTimeMs(text), ms, text)
  })

  void test('every way to name no time is refused, and the calendar ones say why', () => {
    const noTime = [
      '2026-02-30',
      '2023-02-29',
      '2026-04-31',
      '2026-13-01',
      '2026-00-10',
      '2026-01-00',
      '2026-11-01T25:00',
      '2026-11-01T10:61',
      '2026-11-01T10:20:30.1234567890',
      '2026-11-01T',
      '2026-11-1',
      '26-11-01',
      'yesterday',
      '',
    ]
    for (const text of noTime) assert.equal(isoTimeMs(text), undefined, text)
    assert.equal(isoTimeProblem('2026-02-30'), '2026-02-30 is not a day of the calendar')
    assert.equal(isoTimeProblem('2026-13-01T10:00'), '2026-13-01 is not a day of the calendar')
    assert.equal(isoTimeProblem('2026-11-01T25:00'), 'the time of day is out of range')
    assert.equal(isoTimeProblem('yesterday'), undefined)
  })

  void test('calendar days: each month its own length, leap years by the Gregorian rule', () => {
    const lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    for (const year of [1, 4, 100, 400, 1900, 2000, 2023, 2024, 9999]) {
      const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
      for (let month = 1; month <= 12; month++) {
        const days = month === 2 && leap ? 29 : lengths[month - 1]!
        assert.ok(isCalendarDay(year, month, days), `${year}-${month}-${days}`)
        assert.ok(!isCalendarDay(year, month, days + 1), `${year}-${month}-${days + 1}`)
      }
    }
    assert.ok(!isCalendarDay(2024, 0, 1) && !isCalendarDay(2024, 13, 1) && !isCalendarDay(2024, 1, 0))
  })
})
