import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FeatureSkewCounter, nearestRank, sameValue } from '../../../training/skew-stats.ts'

void describe('training > skew stats', () => {
  void test('exact match: null only equals null, lists element by element, NaN equals NaN, -0 is not 0', () => {
    const equal: [unknown, unknown][] = [[null, null], [1, 1], [0.1 + 0.2, 0.1 + 0.2], ['a', 'a'], [[], []], [['a', 'b'], ['a', 'b']], [[1, 2.5], [1, 2.5]], [Number.NaN, Number.NaN], [-0, -0], [[-0, 5e-324], [-0, 5e-324]]]
    const different: [unknown, unknown][] = [[null, 0], [0, null], [1, 1.0000000001], ['1', 1], [[], null], [['a'], ['a', 'b']], [[1, 2], [2, 1]], [0.3, 0.1 + 0.2], [0, -0], [-0, 0], [[0], [-0]], [5e-324, 0]]
    for (const [a, b] of equal) assert.equal(sameValue(a as never, b as never), true, `${JSON.stringify(a)} = ${JSON.stringify(b)}`)
    for (const [a, b] of different) assert.equal(sameValue(a as never, b as never), false, `${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`)
  })

  void test('numeric feature: exact %, mean and p99 of |diff| over pairs where both are numbers', () => {
    const c = new FeatureSkewCounter('v@1', 'x', true)
    // 200 pairs: 190 equal, 8 off by 1..8 (alternating sign), one null on the served side, one on the offline side.
    for (let i = 0; i < 190; i++) c.add(i * 0.5, i * 0.5)
    for (let k = 1; k <= 8; k++) c.add(100 + (k % 2 === 0 ? k : -k), 100)
    c.add(null, 3)
    c.add(4, null)
    const r = c.result()
    assert.equal(r.compared, 200)
    assert.equal(r.exactMatches, 190)
    assert.equal(r.exactMatchPct, 95)
    assert.equal(r.numericPairs, 198)
    // By hand: the differences sum to 1+…+8 = 36 over 198 pairs.
    assert.equal(r.meanAbsDiff, 36 / 198)
    // 99 % of 198 = 196.02 → the 197th smallest: 190 zeros then 1..8, so the 7th non-zero is 7.
    assert.equal(r.p99AbsDiff, 7)
  })

  void test('few pairs: p99 is the largest difference; nothing numeric gives nulls', () => {
    const c = new FeatureSkewCounter('v@1', 'x', true)
    c.add(1, 4)
    c.add(10, 9)
    c.add(2, 2)
    assert.deepEqual([c.result().meanAbsDiff, c.result().p99AbsDiff, c.result().exactMatchPct], [4 / 3, 3, 100 / 3])
    const s = new FeatureSkewCounter('v@1', 'city', false)
    s.add('Oslo', 'Oslo')
    s.add('Oslo', 'Lima')
    assert.deepEqual([s.result().exactMatchPct, s.result().numericPairs, s.result().meanAbsDiff, s.result().p99AbsDiff], [50, 0, null, null])
    assert.equal(new FeatureSkewCounter('v@1', 'y', true).result().exactMatchPct, null)
  })

  void test('nearest rank', () => {
    assert.equal(nearestRank([5], 0.99), 5)
    assert.equal(nearestRank([3, 1, 2], 0.5), 2)
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i)
    assert.equal(nearestRank(hundred, 0.99), 99)
    assert.equal(nearestRank(hundred, 1), 100)
  })
})
