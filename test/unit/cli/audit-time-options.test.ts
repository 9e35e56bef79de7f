/**
 * Times on the command line (`--from`, `--until` of dead-letters and skew-report, `--start` of
 * produce) were read by Date.parse: a day its month lacks rolled over (`--from 2026-02-30` meant
 * 2 March), a time without a zone was the machine's local time (kfs reads zoneless times as UTC
 * everywhere else: labels, CSV snapshots), and epoch milliseconds past the last date a Date holds
 * were taken. Now each is a usage error naming the option, a zoneless time is UTC whatever TZ the
 * process runs in, and an empty --from/--until span of dead-letters is refused as skew-report's is.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { parseOptionValue } from '../../../main/commands/options.ts'
import { UsageError } from '../../../main/commands/usage-error.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'

const ctx = { cwd: '/', nowMs: Date.UTC(2026, 10, 1) }
const dataDir = mkdtempSync(join(tmpdir(), 'kfs-audit-time-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

const REFUSED: readonly [string, RegExp][] = [
  ['2026-02-30', /2026-02-30 is not a day of the calendar/],
  ['2026-02-29T00:00:00Z', /2026-02-29 is not a day of the calendar/],
  ['2026-04-31T12:00', /2026-04-31 is not a day of the calendar/],
  ['2026-13-01', /2026-13-01 is not a day of the calendar/],
  ['2026-01-01T25:00:00Z', /the time of day is out of range/],
  ['2026-01-01T12:60', /the time of day is out of range/],
  ['2026-01-01Tnoon', /is not an ISO-8601 time/],
  ['yesterday', /is not an ISO-8601 time/],
]

/** Zoneless times and dates, and what they are in UTC. */
const ACCEPTED: readonly [string, number][] = [
  ['2024-02-29', Date.UTC(2024, 1, 29)],
  ['2026-01-01T12:00', Date.UTC(2026, 0, 1, 12)],
  ['2026-01-01 12:00:30', Date.UTC(2026, 0, 1, 12, 0, 30)],
  ['2026-01-01T12:00:00.1239Z', Date.UTC(2026, 0, 1, 12, 0, 0, 123)],
  ['2026-01-01T12:00:00+05:30', Date.UTC(2026, 0, 1, 6, 30)],
]

void describe('cli > time options', () => {
  for (const kind of ['time', 'iso-time'] as const) {
    for (const [raw, why] of REFUSED) {
      void test(`${kind} '${raw}': a usage error naming the option and why`, () => {
        assert.throws(
          () => parseOptionValue('from', kind, raw, ctx),
          (err: unknown) =>
            err instanceof UsageError && err.message.startsWith(`--from: '${raw}' is not`) && why.test(err.message),
        )
      })
    }
  }

  void test('a time without a zone is UTC, also where the machine is not (TZ=Pacific/Kiritimati, UTC+14)', () => {
    const tz = process.env.TZ
    process.env.TZ = 'Pacific/Kiritimati'
    try {
      assert.equal(new Date(2026, 0, 1).getTimezoneOffset(), -840, 'the zone took effect')
      for (const kind of ['time', 'iso-time'] as const)
        for (const [raw, ms] of ACCEPTED) assert.equal(parseOptionValue('from', kind, raw, ctx), ms, `${kind} '${raw}'`)
    } finally {
      if (tz === undefined) delete process.env.TZ
      else process.env.TZ = tz
    }
  })

  void test('epoch milliseconds: up to the last time a Date holds', () => {
    assert.equal(parseOptionValue('from', 'time', '8640000000000000', ctx), 8.64e15)
    for (const raw of ['8640000000000001', '99999999999999999999'])
      assert.throws(() => parseOptionValue('from', 'time', raw, ctx), /after the last time a date can hold/)
  })

  const COMMANDS: readonly [readonly string[], RegExp][] = [
    [['dead-letters', 'list', '--from', '2026-02-30'], /--from: '2026-02-30' is not .*not a day of the calendar/],
    [['dead-letters', 'list', '--from', '2026-03-01', '--until', '2026-02-01'], /--from must be before --until/],
    [['dead-letters', 'redrive', '--from', '1h', '--until', '2h', '--dry-run'], /--from must be before --until/],
    [['skew-report', '--until', '2025-02-29T00:00'], /--until: '2025-02-29T00:00' is not/],
    [['produce', '--generate', '10', '--start', '2026-11-31T00:00:00Z'], /--start: '2026-11-31T00:00:00Z' is not/],
  ]
  for (const [args, message] of COMMANDS) {
    void test(`kfs ${args.join(' ')}: exit 2 before anything runs`, async () => {
      const r = await runKfsInProcess(args, dataDir)
      assert.equal(r.code, 2, r.stdout + r.stderr)
      assert.match(r.stderr, message)
      assert.equal(r.stdout, '')
    })
  }
})
