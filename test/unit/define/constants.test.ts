/**
 * `constants`: the values a view's filter and map, or a request feature's fn, read — given to the
 * function as an argument and part of the definition's hash (docs/semantics.md §27). Every place
 * that runs the function gives it the same constants (the engine's filter/map step, serving, a
 * training set), exactly the ones hashed: JSON data, copied and frozen when declared, so a later
 * change to the caller's object, or a write by the function, cannot change what the next call
 * reads. Anything that is not JSON data is refused, naming the path.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { featureView, MAX_CONSTANTS_BYTES, requestFeature } from '../../../features/index.ts'
import type { Constants, EventRecord } from '../../../features/types.ts'
import { filterAndMap } from '../../../operators/task/filter-map.ts'
import type { TaskDeadLetter } from '../../../operators/task/output.ts'
import { requestFeatureHash, viewHash } from '../../../registry/index.ts'
import { runRequestFeature } from '../../../serving/request-features.ts'
import { computeRequestFeature } from '../../../training/request-features.ts'
import { viewBase } from './fixtures.ts'

const aggregations = [{ op: 'sum', field: 'price', windows: ['1h'] }] as const
const EVENT: EventRecord = { user_id: 'u', item_id: 'i', price: 15, quantity: 2, bot: false, category: null, ts: 0 }

const thresholdView = (constants: Constants) =>
  featureView({
    ...viewBase,
    aggregations,
    constants,
    filter: (e, c) => Number(e.price) > Number(c.threshold),
    map: (e, c) => ({ ...e, price: Number(e.price) * Number(c.rate) }),
  })

const rateFeature = (constants: Constants) =>
  requestFeature({
    name: 'scaled',
    request: { amount: 'double' },
    features: [],
    outputType: 'double',
    description: 'd',
    constants,
    fn: (req, _f, c) => Number(req.amount) * Number(c.rate),
  })

void describe('constants > part of the hash', () => {
  void test("a view's: another value, another version; the same values in another order, the same", () => {
    const h = viewHash(thresholdView({ threshold: 10, rate: 2 }))
    assert.notEqual(viewHash(thresholdView({ threshold: 20, rate: 2 })), h)
    assert.notEqual(viewHash(thresholdView({ threshold: 10, rate: 3 })), h)
    assert.equal(viewHash(thresholdView({ rate: 2, threshold: 10 })), h)
  })

  void test("a request feature's: another value, another version; the same, the same", () => {
    const h = requestFeatureHash(rateFeature({ rate: 2 }))
    assert.notEqual(requestFeatureHash(rateFeature({ rate: 3 })), h)
    assert.notEqual(requestFeatureHash(rateFeature({ rate: 2, unused: 'x' })), h)
    assert.equal(requestFeatureHash(rateFeature({ rate: 2 })), h)
  })
})

void describe('constants > every runner gives the function the hashed constants', () => {
  void test("the engine's filter and map step", () => {
    const dead: TaskDeadLetter[] = []
    assert.equal(filterAndMap(thresholdView({ threshold: 20, rate: 2 }), '0', EVENT, dead), undefined)
    assert.deepEqual(filterAndMap(thresholdView({ threshold: 10, rate: 2 }), '0', EVENT, dead)?.price, 30)
    assert.deepEqual(dead, [])
  })

  void test('serving and a training set', () => {
    const def = rateFeature({ rate: 3 })
    assert.equal(runRequestFeature(def, { amount: 5 }, {}), 15)
    assert.deepEqual(
      computeRequestFeature(
        def,
        2,
        () => [5, 7],
        () => [],
      ),
      [15, 21],
    )
  })

  void test("a copy, frozen: the caller's later change and the function's own write change nothing", () => {
    const mine = { threshold: 10, rate: 2, nested: { k: [1] } }
    const view = featureView({
      ...viewBase,
      aggregations,
      constants: mine,
      filter: (e, c) => Number(e.price) > c.threshold,
      map: (e, c) => {
        ;(c as { rate: number }).rate = 100
        return e
      },
    })
    const before = viewHash(view)
    mine.threshold = 100
    mine.nested.k.push(2)
    assert.equal(viewHash(view), before)
    assert.deepEqual(view.constants, { threshold: 10, rate: 2, nested: { k: [1] } })
    const dead: TaskDeadLetter[] = []
    assert.equal(filterAndMap(view, '7', EVENT, dead), undefined)
    assert.deepEqual(
      dead.map((d) => [d.offset, d.reason]),
      [['7', 'map_failed']],
    )
    assert.deepEqual(view.constants, { threshold: 10, rate: 2, nested: { k: [1] } })
  })

  void test('as hashed: -0 is 0, an undefined member absent, an undefined in an array null', () => {
    const view = featureView({
      ...viewBase,
      aggregations,
      constants: { z: -0, gone: undefined, list: [1, undefined] } as unknown as Constants,
      filter: (_e, c) => Object.is(c.z, 0) && !('gone' in c) && (c.list as unknown[])[1] === null,
    })
    assert.equal(filterAndMap(view, '0', EVENT, []), EVENT)
  })
})

void describe('constants > what is refused', () => {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const NOT_DATA: Readonly<Record<string, { readonly value: unknown; readonly says: RegExp }>> = {
    'an array': { value: [1, 2], says: /constants must be an object of named values.*got an array/ },
    null: { value: null, says: /constants must be an object of named values.*got null/ },
    'a number': { value: 10, says: /constants must be an object of named values.*got number/ },
    'a function member': { value: { f: () => 1 }, says: /constants\.f is a function, which JSON cannot hold/ },
    NaN: { value: { x: NaN }, says: /constants\.x is NaN/ },
    'Infinity deep down': { value: { x: { y: [Infinity] } }, says: /constants\.x\.y\[0\] is Infinity/ },
    'a bigint': { value: { n: 1n }, says: /constants\.n is a bigint/ },
    'a Date': { value: { d: new Date(0) }, says: /constants\.d is a Date, not a plain object/ },
    'a Map': { value: { m: new Map() }, says: /constants\.m is a Map, not a plain object/ },
    'a cycle': { value: cyclic, says: /constants\.self contains itself/ },
    'too large': {
      value: { big: 'x'.repeat(MAX_CONSTANTS_BYTES) },
      says: new RegExp(`more than ${MAX_CONSTANTS_BYTES}; .*table source`),
    },
  }
  for (const [kind, { value, says }] of Object.entries(NOT_DATA)) {
    void test(`${kind}: refused by a view and by a request feature, naming the path`, () => {
      assert.throws(
        () => thresholdView(value as Constants),
        (err: unknown) => err instanceof DefinitionError && says.test(err.message) && err.message.startsWith('view user_stats: '),
      )
      assert.throws(
        () => rateFeature(value as Constants),
        (err: unknown) =>
          err instanceof DefinitionError && says.test(err.message) && err.message.startsWith('request feature scaled: '),
      )
    })
  }

  void test('constants on a view with neither filter nor map: refused (nothing would read them)', () => {
    assert.throws(
      () => featureView({ ...viewBase, aggregations, constants: { threshold: 10 } }),
      /constants are what filter and map read, but there is neither/,
    )
  })
})
