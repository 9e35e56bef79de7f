/** fast-check generators of sources, views and event streams for the operator property tests. */
import fc from 'fast-check'
import type { EventRecord, FeatureViewDef, SourceDef } from '../../../features/types.ts'
import type { ReferenceRecord } from '../../reference/reference-model.ts'
import { testEntity, testSource, testView, type FeatureSpec } from './defs.ts'

// Keys chosen to exercise key-byte ordering: ASCII, Latin-1, a surrogate pair, a U+E000 char.
const KEYS = ['a', 'b', 'ab', 'Z', 'é', '\u{1F600}', '\uE000x', 'k9']

const windowArb: fc.Arbitrary<{ windowMs: number | null; hopMs?: number }> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom(5, 10, 20), fc.constantFrom(1, 2, 3, 6)).map(([h, m]) => ({ windowMs: h * m, hopMs: h })) },
  { weight: 1, arbitrary: fc.constant({ windowMs: null }) },
)

const featureArb: fc.Arbitrary<FeatureSpec> = fc
  .tuple(
    fc.constantFrom(
      'count', 'count_x', 'sum', 'avg', 'min', 'max', 'first', 'last', 'last_n', 'approx_distinct', 'approx_percentile', 'first_s', 'last_n_s', 'distinct_s',
      'variance', 'variance_samp', 'stddev', 'stddev_samp', 'top_k', 'top_k_counts', 'top_k_s', 'top_k_counts_s',
    ),
    windowArb,
    fc.constantFrom(1, 3),
    fc.constantFrom(0, 0.5, 0.9, 1),
  )
  .map(([kind, w, n, q]): FeatureSpec => {
    switch (kind) {
      case 'count':
        return { op: 'count', ...w }
      case 'count_x':
        return { op: 'count', field: 'x', ...w }
      case 'first_s':
        return { op: 'first', field: 's', ...w }
      case 'last_n_s':
        return { op: 'last_n', field: 's', n, ...w }
      case 'distinct_s':
        return { op: 'approx_distinct', field: 's', ...w }
      case 'last_n':
        return { op: 'last_n', field: 'x', n, ...w }
      case 'approx_percentile':
        return { op: 'approx_percentile', field: 'x', quantile: q, ...w }
      case 'variance':
      case 'variance_samp':
        return { op: 'variance', field: 'x', params: { sample: kind === 'variance_samp' }, ...w }
      case 'stddev':
      case 'stddev_samp':
        return { op: 'stddev', field: 'x', params: { sample: kind === 'stddev_samp' }, ...w }
      case 'top_k':
      case 'top_k_counts':
      case 'top_k_s':
      case 'top_k_counts_s':
        return { op: 'top_k', field: kind.endsWith('_s') ? 's' : 'x', params: { k: n }, ...(kind.includes('counts') ? { output: 'counts' } : {}), ...w }
      default:
        return { op: kind as FeatureSpec['op'], field: 'x', ...w }
    }
  })

/**
 * Variance and stddev are rounded differently by the engine (Welford over tiles) and the oracle
 * (two passes over raw values), so an event that leaves them mathematically unchanged could be
 * deduplicated ("same as_of and values → no row") by one and not the other. A lifetime count of
 * events changes with every accepted event, so views with either carry one and never hit that tie.
 */
function withEventCount(features: readonly FeatureSpec[]): FeatureSpec[] {
  return features.some((f) => f.op === 'variance' || f.op === 'stddev') ? [...features, { op: 'count', windowMs: null }] : [...features]
}

export interface Scenario {
  source: SourceDef
  views: FeatureViewDef[]
  records: ReferenceRecord[]
}

const viewShapeArb = fc.record({
  features: fc.array(featureArb, { minLength: 1, maxLength: 6 }),
  composite: fc.boolean(),
  filter: fc.boolean(),
  map: fc.constantFrom('none', 'double', 'throws'),
})

const recordArb = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('event' as const),
      dt: fc.integer({ min: -30, max: 12 }),
      user: fc.oneof({ weight: 20, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.constantFrom(undefined, 7, '') }),
      cat: fc.constantFrom('c1', 'c2'),
      // Quarter-integers keep every sum exact, so the oracle can be compared exactly.
      x: fc.oneof(
        { weight: 12, arbitrary: fc.integer({ min: -40, max: 40 }).map((v) => v / 4) },
        { weight: 2, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constant('oops') },
        // Poison (docs/semantics.md §1): refused before any state changes, never summed.
        { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity, 2 ** 961, -(2 ** 1000), 2n ** 60n) },
        // Summable, but beyond what variance takes (its squares must fit): refused by variance views only.
        { weight: 1, arbitrary: fc.constant(2 ** 500) },
      ),
      s: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('p', 'q', 'r', 's', 't') },
        { weight: 1, arbitrary: fc.constant(undefined) },
        // Over the default 4096-byte string limit; the second only in UTF-8 bytes (2 per 'é').
        { weight: 1, arbitrary: fc.constantFrom('w'.repeat(4097), 'é'.repeat(2049)) },
      ),
      noTime: fc.integer({ min: 0, max: 40 }).map((v) => v === 0),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('marker' as const), ahead: fc.integer({ min: -10, max: 60 }) }) },
)

export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    ooo: fc.constantFrom(0, 3, 15),
    lateness: fc.constantFrom(0, 5, 25, 1000),
    shapes: fc.array(viewShapeArb, { minLength: 1, maxLength: 2 }),
    steps: fc.array(recordArb, { minLength: 1, maxLength: 70 }),
    firstOffset: fc.constantFrom(0, 95, 999_999_990),
    startMs: fc.constantFrom(0, 1_000, -50),
  })
  .map(({ ooo, lateness, shapes, steps, firstOffset, startMs }) => {
    const source = testSource({ outOfOrdernessMs: ooo, allowedLatenessMs: lateness })
    const views = shapes.map((shape, i) =>
      testView({
        name: `v${i}`,
        source,
        entity: shape.composite ? testEntity(['user', 'cat']) : testEntity(['user']),
        features: withEventCount(shape.features),
        filter: shape.filter ? (e: EventRecord) => e.x !== 2 : undefined,
        map:
          shape.map === 'double'
            ? (e: EventRecord) => ({ ...e, x: typeof e.x === 'number' ? e.x * 2 : e.x })
            : shape.map === 'throws'
              ? (e: EventRecord) => {
                  if (e.x === -1) throw new Error('boom')
                  return e
                }
              : undefined,
      }),
    )
    const records: ReferenceRecord[] = []
    let cursor = startMs
    let offset = firstOffset
    for (const step of steps) {
      if (step.kind === 'marker') {
        records.push({ partition: 0, marker: cursor + step.ahead })
        continue
      }
      cursor += Math.max(0, step.dt)
      const t = step.dt < 0 ? cursor + step.dt : cursor
      const event: Record<string, unknown> = { ts: t, user: step.user, cat: step.cat, x: step.x, s: step.s }
      records.push({ partition: 0, offset: String(offset++), eventTimeMs: step.noTime ? undefined : t, event })
    }
    return { source, views, records }
  })
