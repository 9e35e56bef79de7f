/**
 * Label times written as text (a CSV cell, a Parquet string column): every text the label-time
 * rule accepts must mean the instant ISO-8601 gives it — its zone offset applied, none = UTC,
 * digits below the ms floored — and any other text is refused naming its row, never read as
 * another instant. The reader once handed text to Date.parse after appending `Z`, whose fallback
 * parser takes much more than ISO-8601: `2026-01-01 10:00 +0200 (CEST)` was read as 10:00 UTC
 * (its offset dropped: two hours in the future, so the join could read a feature from after the
 * label), and `2026-01-01 (x)` or `2026-01-01, 10:00` were read at all.
 *
 * The expected instant is computed here from the fields (days from the civil date, by Howard
 * Hinnant's algorithm), not by any parser; the build test reads the output's label-time column
 * back and compares it with that.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import fc from 'fast-check'
import { FeatureStoreError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { readParquetBatches } from '../../../adapters/offline/parquet/index.ts'
import { createTrainingSet, labelTimeMs } from '../../../training/index.ts'
import { registryWithViews, trainingDeps } from './fixtures.ts'

const dir = await mkdtemp(join(tmpdir(), 'kfs-label-time-text-'))
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Days from 1970-01-01 to year-month-day (proleptic Gregorian). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

const daysIn = (year: number, month: number): number =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31

interface IsoParts {
  readonly year: number
  readonly month: number
  readonly day: number
  /** Absent: a date alone. */
  readonly time?: {
    readonly sep: 'T' | 't' | ' '
    readonly h: number
    readonly mi: number
    readonly s?: number
    readonly frac?: string
  }
  /** Absent: no zone (UTC). Offset in minutes east of UTC. */
  readonly zone?: { readonly form: 'Z' | 'z' | '+HH:MM' | '+HHMM'; readonly minutes: number }
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

function isoText(p: IsoParts): string {
  let text = `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`
  if (p.time === undefined) return text
  const t = p.time
  text += `${t.sep}${pad(t.h)}:${pad(t.mi)}`
  if (t.s !== undefined) text += `:${pad(t.s)}${t.frac === undefined ? '' : `.${t.frac}`}`
  if (p.zone === undefined) return text
  const z = p.zone
  if (z.form === 'Z' || z.form === 'z') return text + z.form
  const sign = z.minutes < 0 ? '-' : '+'
  const abs = Math.abs(z.minutes)
  return `${text}${sign}${pad(Math.floor(abs / 60))}${z.form === '+HH:MM' ? ':' : ''}${pad(abs % 60)}`
}

function expectedMs(p: IsoParts): number {
  const day = daysFromCivil(p.year, p.month, p.day) * 86_400_000
  if (p.time === undefined) return day
  const t = p.time
  const fracMs = t.frac === undefined ? 0 : Number(t.frac.padEnd(3, '0').slice(0, 3))
  const offset = p.zone === undefined || p.zone.form === 'Z' || p.zone.form === 'z' ? 0 : p.zone.minutes * 60_000
  return day + t.h * 3_600_000 + t.mi * 60_000 + (t.s ?? 0) * 1000 + fracMs - offset
}

const isoParts: fc.Arbitrary<IsoParts> = fc
  .record({
    year: fc.integer({ min: 1900, max: 2200 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    time: fc.option(
      fc.record(
        {
          sep: fc.constantFrom('T' as const, 't' as const, ' ' as const),
          h: fc.integer({ min: 0, max: 23 }),
          mi: fc.integer({ min: 0, max: 59 }),
          s: fc.integer({ min: 0, max: 59 }),
          frac: fc.stringMatching(/^\d{1,9}$/),
        },
        { requiredKeys: ['sep', 'h', 'mi'] },
      ),
      { nil: undefined },
    ),
    zone: fc.option(
      fc.record({
        form: fc.constantFrom('Z' as const, 'z' as const, '+HH:MM' as const, '+HHMM' as const),
        minutes: fc.integer({ min: -14 * 60, max: 14 * 60 }),
      }),
      { nil: undefined },
    ),
  })
  .map((p) => ({
    year: p.year,
    month: p.month,
    day: Math.min(p.day, daysIn(p.year, p.month)),
    ...(p.time === undefined ? {} : { time: p.time.s === undefined ? { sep: p.time.sep, h: p.time.h, mi: p.time.mi } : p.time }),
    // A zone only after a time; a fraction only after seconds (the record's requiredKeys keep them optional).
    ...(p.time === undefined || p.zone === undefined ? {} : { zone: p.zone }),
  }))
  .map((p) =>
    p.time !== undefined && p.time.s === undefined && p.time.frac !== undefined
      ? { ...p, time: { sep: p.time.sep, h: p.time.h, mi: p.time.mi } }
      : p,
  )

/** Text around an ISO time that makes it no ISO-8601 time: the fallback parser read each of these. */
const SPOILERS: readonly ((iso: string) => string)[] = [
  (iso) => `${iso} (CEST)`,
  (iso) => `${iso} `,
  (iso) => ` ${iso}`,
  (iso) => `${iso},`,
  (iso) => `${iso} x`,
  (iso) => `${iso} (x)Z`,
  (iso) => iso.replace(/^(\d{4}-\d{2}-\d{2})/, '$1,'),
]

function refused(value: string, row: number): boolean {
  try {
    labelTimeMs(value, row, 'ts')
    return false
  } catch (err) {
    return err instanceof FeatureStoreError && err.code === 'BAD_REQUEST' && err.message.includes(`label row ${row + 1}`)
  }
}

void describe('training > label time written as text', () => {
  void test('every ISO-8601 form reads as the instant its fields and zone name', () => {
    fc.assert(
      fc.property(isoParts, (p) => {
        assert.equal(labelTimeMs(isoText(p), 0, 'ts'), expectedMs(p), isoText(p))
      }),
      { numRuns: 2000 },
    )
  })

  void test('text around an ISO time, or an ISO time spelt otherwise, is refused naming the row', () => {
    fc.assert(
      fc.property(isoParts, fc.integer({ min: 0, max: SPOILERS.length - 1 }), fc.nat(1000), (p, s, row) => {
        const text = SPOILERS[s]!(isoText(p))
        assert.ok(
          refused(text, row),
          `${JSON.stringify(text)} was read as ${(() => {
            try {
              return new Date(labelTimeMs(text, row, 'ts')).toISOString()
            } catch {
              return 'an error of another kind'
            }
          })()}`,
        )
      }),
      { numRuns: 1000 },
    )
    for (const text of [
      '2026-01-01 10:00 +0200 (CEST)',
      '2026-01-01 10:00:00 GMT+0200',
      '2026-01-01 (x)',
      '2026-01-01, 10:00',
      '2026-01-01T10:00:00+05:30Z',
      '2026-01-01T10:00:00 PST',
      '2026-01-01T10',
      '2026-1-1',
      '+002026-01-01',
      'Thu Jan 01 2026 10:00:00 GMT+0200',
      '2026-01-01T10:60',
      '2026-02-30',
    ])
      assert.ok(refused(text, 6), text)
  })

  void test('a CSV label file of text times: the output label time is the instant each row names', async () => {
    const samples = fc.sample(isoParts, { numRuns: 300, seed: 31 })
    const store = new MemoryObjectStore()
    const registry = await registryWithViews(store, [examples.userClicks])
    const csv = ['user_id,ts', ...samples.map((p, i) => `u${i % 5},${isoText(p)}`)].join('\n')
    const out = join(dir, 'text-times.parquet')
    await createTrainingSet({
      ...trainingDeps(store),
      registry,
      labels: { bytes: new TextEncoder().encode(csv), format: 'csv' },
      features: ['user_clicks:count_1h'],
      output: out,
    })
    const read: number[] = []
    for await (const batch of readParquetBatches(new Uint8Array(await readFile(out))))
      for (const v of batch.columns.ts!) read.push(Number(v))
    // The repo reader gives a timestamp as epoch ms.
    assert.deepEqual(read, samples.map(expectedMs))
  })

  void test('a misread time in a CSV label file stops the build naming its line', async () => {
    const store = new MemoryObjectStore()
    const registry = await registryWithViews(store, [examples.userClicks])
    const csv = 'user_id,ts\nu1,2026-01-01T10:00:00Z\nu2,2026-01-01 10:00 +0200 (CEST)\n'
    await assert.rejects(
      createTrainingSet({
        ...trainingDeps(store),
        registry,
        labels: { bytes: new TextEncoder().encode(csv), format: 'csv' },
        features: ['user_clicks:count_1h'],
        output: join(dir, 'never.parquet'),
      }),
      (err: unknown) =>
        err instanceof FeatureStoreError && err.code === 'BAD_REQUEST' && /label row 2 \(CSV line 3\)/.test(err.message),
    )
  })
})
