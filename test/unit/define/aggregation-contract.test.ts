/**
 * The aggregation contracts (operators/aggregators/catalog.ts) as the DSL and the planner read
 * them: definitions written before the contracts existed keep their hashes and plans, every
 * parameter that changes an accumulator separates tile columns, and parameters are checked by
 * the op that declares them.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import * as examples from '../../../examples/features.ts'
import { featureView, type AggregationOptions } from '../../../features/index.ts'
import type { FeatureViewDef } from '../../../features/types.ts'
import { AGGREGATIONS } from '../../../operators/aggregators/catalog.ts'
import { planView } from '../../../operators/task/plan.ts'
import { viewHash } from '../../../registry/hash.ts'
import { viewBase } from './fixtures.ts'

const view = (aggregations: AggregationOptions[], name = 'user_stats'): FeatureViewDef => featureView({ ...viewBase, name, aggregations })

/** One feature of every op that existed before the contracts, with parameters, shared columns and overrides. */
const everyOp = (): FeatureViewDef =>
  view(
    [
      { op: 'count', windows: ['5m', '1h', 'lifetime'] },
      { op: 'count', field: 'category', windows: ['1h'] },
      { op: 'sum', field: 'price', windows: ['1h', '1d'] },
      { op: 'avg', field: 'price', windows: ['1h', 'lifetime'] },
      { op: 'min', field: 'quantity', windows: ['1h'] },
      { op: 'max', field: 'price', windows: ['1d'], hop: '1h' },
      { op: 'first', field: 'item_id', windows: ['1h'] },
      { op: 'last', field: 'price', windows: ['lifetime'] },
      { op: 'last_n', field: 'item_id', n: 5, windows: ['1d'] },
      { op: 'last_n', field: 'item_id', n: 2, windows: ['1d'], name: 'two_items' },
      { op: 'approx_distinct', field: 'item_id', windows: ['1d', 'lifetime'] },
      { op: 'approx_percentile', field: 'price', quantile: 0.95, windows: ['1d'] },
      { op: 'approx_percentile', field: 'price', quantile: 0.999, windows: ['1d'] },
    ],
    'every_op',
  )

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

void describe('define > aggregation contracts', () => {
  void test('views defined before the contracts keep their hash, feature names and types, and plan fingerprint', () => {
    // Pinned from the code before aggregations owned their contracts (a registry refuses a changed hash,
    // and a changed fingerprint refuses every operator snapshot).
    const pinned: [FeatureViewDef, string, string][] = [
      [examples.userClicks, '44cfe0559381a38eccf7cfb7d385a20783eb0f642929576bddcbf51347780832', 'c9817794b73cea0f79f3423eb9fc1f9450f4f0ccaddd939285be53e05494f07d'],
      [examples.userPurchases, '3ba5beef7cf5494af3d6a503efd5991d3f51772b801ab2c54f494a7a16d375a7', '8cd1ece37c927b409447b42fd3d83a35e7f1e8c5f21692c53dc6f23d240609a8'],
      [examples.itemClicks, '629999f710919c7761bcebd0867d4314a99b4f1700b05f2d23270b3bde676202', '4f1e6680fe758bdcab614f7ef8e4363964dbdcd128cd36497c3b0b7b5fd7b5cc'],
      [everyOp(), '7c2209eb55efbb7edafcdfd4409bcaf92a4c1255d7ab882f02f87f9457423f3e', '558afd258f201f9105f6c339f6fb38c9bfe88ba841267578f6edeff5ef04ae42'],
    ]
    for (const [v, hash, fingerprint] of pinned) {
      assert.equal(viewHash(v), hash, `hash of ${v.name}`)
      assert.equal(sha256(planView(v, v.source).fingerprint), fingerprint, `plan fingerprint of ${v.name}`)
    }
    assert.deepEqual(
      everyOp().features.map((f) => `${f.name}:${f.type}`),
      [
        'count_5m:long', 'count_1h:long', 'count:long', 'category_count_1h:long', 'price_sum_1h:double', 'price_sum_1d:double',
        'price_avg_1h:double', 'price_avg:double', 'quantity_min_1h:double', 'price_max_1d:double', 'item_id_first_1h:string',
        'price_last:double', 'item_id_last_n_1d:string[]', 'two_items:string[]', 'item_id_approx_distinct_1d:long',
        'item_id_approx_distinct:long', 'price_p95_1d:double', 'price_p99_9_1d:double',
      ],
    )
  })

  void test('columns: a state parameter separates them, a finish-only one shares them, avg reads the sum and count columns', () => {
    const columnsOf = (aggregations: AggregationOptions[]): string[] =>
      planView(view(aggregations), view(aggregations).source).groups.flatMap((g) => g.columns.map((c) => `${c.agg.name}|${c.field ?? ''}`))
    assert.deepEqual(columnsOf([{ op: 'last_n', field: 'item_id', n: 2, windows: ['1h'] }, { op: 'last_n', field: 'item_id', n: 5, windows: ['1h'], name: 'five' }]), [
      'last_n|item_id',
      'last_n|item_id',
    ])
    assert.deepEqual(columnsOf([{ op: 'last_n', field: 'item_id', n: 5, windows: ['1h', '30m'] }]), ['last_n|item_id'])
    assert.deepEqual(columnsOf([{ op: 'approx_percentile', field: 'price', quantile: 0.5, windows: ['1h'] }, { op: 'approx_percentile', field: 'price', quantile: 0.9, windows: ['1h'] }]), [
      'approx_percentile|price',
    ])
    assert.deepEqual(columnsOf([{ op: 'avg', field: 'price', windows: ['1h'] }, { op: 'sum', field: 'price', windows: ['1h'] }, { op: 'count', field: 'price', windows: ['1h'] }]), [
      'sum|price',
      'count|price',
    ])
  })

  void test("a parameter is checked by its op and refused on any other op, naming the op it belongs to", () => {
    const refused = (aggregations: AggregationOptions[], ...mentions: string[]): void => {
      assert.throws(() => view(aggregations), (err: unknown) => err instanceof DefinitionError && mentions.every((m) => err.message.includes(m)), mentions.join(' · '))
    }
    refused([{ op: 'sum', field: 'price', n: 3, windows: ['1h'] }], "aggregation sum on field 'price'", 'n applies only to last_n; remove it')
    refused([{ op: 'count', quantile: 0.5, windows: ['1h'] }], 'quantile applies only to approx_percentile; remove it')
    refused([{ op: 'last_n', field: 'item_id', n: 0, windows: ['1h'] }], "last_n needs n, a whole number from 1 to 1000, e.g. { op: 'last_n', field: 'item_id', n: 10 }")
    refused([{ op: 'last_n', field: 'item_id', n: 1001, windows: ['1h'] }], 'last_n needs n')
    refused([{ op: 'approx_percentile', field: 'price', windows: ['1h'] }], 'approx_percentile needs quantile in [0, 1]')
  })

  void test('docs/aggregations.md has a row for every op of the catalog', () => {
    const doc = readFileSync(new URL('../../../docs/aggregations.md', import.meta.url), 'utf8')
    const rows = doc.split('\n').filter((line) => line.startsWith('| `'))
    for (const c of AGGREGATIONS) assert.ok(rows.some((row) => row.split('|')[1]!.includes(`\`${c.op}\``)), `no row for ${c.op}`)
  })

  void test('the catalog: unique snake_case ops, unique parameter names per op, the main output first', () => {
    const ops = AGGREGATIONS.map((c) => c.op)
    assert.equal(new Set(ops).size, ops.length)
    for (const c of AGGREGATIONS) {
      assert.match(c.op, /^[a-z][a-z0-9_]*$/, c.op)
      const names = c.params.map((p) => p.name)
      assert.equal(new Set(names).size, names.length, c.op)
      assert.equal(c.outputs[0]?.suffix, '', c.op)
      assert.ok(c.summary.length > 0, c.op)
    }
  })
})
