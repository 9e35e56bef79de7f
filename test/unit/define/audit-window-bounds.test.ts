/**
 * Windows, hops and durations that passed the builders and failed (or meant nothing) later:
 * - a window of too many tiles (365d at hop '1ms') was published by `kfs apply`, then `kfs run`
 *   died with "unexpected error: RangeError: Array buffer allocation failed" sizing its tables;
 * - a hop on an aggregation with only a lifetime window was ignored, even a mistyped one;
 * - a duration past 2^53 ms ('99999999999999999999d') became 8.64e27, not a whole number of ms.
 * Each is now a DefinitionError when the view or source is declared; the largest window allowed
 * still builds a partition task, and durations on the CLI get the same bound as usage errors.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { featureView, source, type AggregationOptions } from '../../../features/index.ts'
import { MAX_TILES_PER_WINDOW } from '../../../features/aggregations.ts'
import { UsageError } from '../../../main/commands/usage-error.ts'
import { parseOptionValue } from '../../../main/commands/options.ts'
import { createPartitionTask } from '../../../operators/index.ts'
import { clicks, clickSchema, user, viewBase } from './fixtures.ts'

const view = (aggregations: readonly AggregationOptions[], extra: Record<string, unknown> = {}) =>
  featureView({ ...viewBase, aggregations, ...extra } as Parameters<typeof featureView>[0])
const src = (extra: Record<string, unknown>) =>
  source({ name: 'more_clicks', topic: 'more_clicks', schema: clickSchema, eventTimeField: 'ts', keyedBy: user, ...extra })

const TOO_LONG = '99999999999999999999d'

const REFUSED: readonly { what: string; define: () => unknown; message: RegExp }[] = [
  {
    what: "365d at hop '1ms'",
    define: () => view([{ op: 'count', windows: ['365d'], hop: '1ms' }]),
    message: /spans 31536000000 tiles, over the 100000/,
  },
  {
    what: "1000d at hop '1s'",
    define: () => view([{ op: 'sum', field: 'price', windows: ['1000d'], hop: '1s' }]),
    message: /hop of at least 864s/,
  },
  {
    what: 'a window whose default hop spans too many tiles',
    define: () => view([{ op: 'count', windows: ['1000000d'] }]),
    message: /window 1000000d at hop 1h spans 24000000 tiles/,
  },
  {
    what: 'one tile over the bound',
    define: () => view([{ op: 'count', windows: ['100001m'], hop: '1m' }]),
    message: /spans 100001 tiles/,
  },
  {
    what: 'a hop on a lifetime window',
    define: () => view([{ op: 'count', windows: ['lifetime'], hop: '5m' }]),
    message: /only a lifetime window; remove hop/,
  },
  {
    what: 'a hop on windows: null',
    define: () => view([{ op: 'sum', field: 'price', windows: null, hop: '1h' }]),
    message: /remove hop/,
  },
  {
    what: 'a mistyped hop on a lifetime window',
    define: () => view([{ op: 'count', hop: 'banana' as never }]),
    message: /remove hop/,
  },
  {
    what: 'a window past 2^53 ms',
    define: () => view([{ op: 'count', windows: [TOO_LONG] }]),
    message: /window "99999999999999999999d" is longer than/,
  },
  {
    what: 'a hop past 2^53 ms',
    define: () => view([{ op: 'count', windows: ['1h'], hop: TOO_LONG as never }]),
    message: /hop .* is longer than/,
  },
  {
    what: 'a ttl past 2^53 ms',
    define: () => view([{ op: 'count', windows: ['1h'] }], { ttl: '1000000000d' }),
    message: /ttl "1000000000d" is longer than/,
  },
  {
    what: 'a freshnessSla past 2^53 ms',
    define: () => view([{ op: 'count', windows: ['1h'] }], { freshnessSla: TOO_LONG }),
    message: /freshnessSla .* is longer than/,
  },
  {
    what: 'an outOfOrderness past 2^53 ms',
    define: () => src({ outOfOrderness: TOO_LONG }),
    message: /outOfOrderness .* is longer than/,
  },
  {
    what: 'an allowedLateness past 2^53 ms',
    define: () => src({ allowedLateness: '9999999999999d' }),
    message: /allowedLateness .* is longer than/,
  },
  { what: 'an idleTimeout past 2^53 ms', define: () => src({ idleTimeout: TOO_LONG }), message: /idleTimeout .* is longer than/ },
  {
    what: 'a maxFutureSkew past 2^53 ms',
    define: () => src({ maxFutureSkew: TOO_LONG }),
    message: /maxFutureSkew .* is longer than/,
  },
]

void describe('define > windows, hops and durations refused when declared', () => {
  for (const c of REFUSED) {
    void test(`${c.what}: a DefinitionError`, () => {
      assert.throws(c.define, (err: unknown) => {
        assert.ok(err instanceof DefinitionError, `expected a DefinitionError, got ${String(err)}`)
        assert.match(err.message, c.message)
        return true
      })
    })
  }

  void test('at the bounds: the largest window builds a partition task; a hop beside a lifetime window; 2^53 − 1 ms', () => {
    assert.equal(MAX_TILES_PER_WINDOW, 100_000)
    const widest = view([{ op: 'count', windows: ['100000m'], hop: '1m' }])
    assert.deepEqual(
      widest.features.map((f) => [f.aggregation.windowMs, f.aggregation.hopMs]),
      [[6_000_000_000, 60_000]],
    )
    assert.equal(createPartitionTask({ views: [widest], source: clicks }).views.length, 1)
    const mixed = view([{ op: 'count', windows: ['lifetime', '1h'], hop: '5m' }])
    assert.deepEqual(
      mixed.features.map((f) => f.name),
      ['count', 'count_1h'],
    )
    assert.equal(view([{ op: 'count', windows: ['1h'] }], { ttl: `${Number.MAX_SAFE_INTEGER}ms` }).ttlMs, Number.MAX_SAFE_INTEGER)
  })

  void test('the CLI: a duration or a duration ago past 2^53 ms is a usage error naming the option', () => {
    const ctx = { cwd: '/', nowMs: 1_800_000_000_000 }
    for (const [kind, name] of [
      ['duration', 'idle'],
      ['time', 'from'],
    ] as const) {
      assert.throws(
        () => parseOptionValue(name, kind, TOO_LONG, ctx),
        (err: unknown) => err instanceof UsageError && err.message.startsWith(`--${name}: '${TOO_LONG}' is not`),
      )
    }
    assert.equal(parseOptionValue('from', 'time', '1h', ctx), ctx.nowMs - 3_600_000)
  })
})
