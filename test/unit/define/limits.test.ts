import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { DEFAULT_VALUE_LIMITS, featureView, type AggregationOptions } from '../../../features/index.ts'
import { createPartitionTask } from '../../../operators/task/partition-task.ts'
import { viewHash } from '../../../registry/hash.ts'
import { clicks, viewBase } from './fixtures.ts'

function view(aggregations: AggregationOptions[], limits?: unknown) {
  return featureView({ ...viewBase, aggregations, ...(limits !== undefined ? { limits } : {}) } as Parameters<
    typeof featureView
  >[0])
}

void describe('define > featureView > value limits', () => {
  void test('defaults: 4096-byte strings, 256 KiB rows; set on every built view', () => {
    assert.deepEqual(DEFAULT_VALUE_LIMITS, { maxStringBytes: 4096, maxRowBytes: 262_144 })
    assert.deepEqual(view([{ op: 'last', field: 'item_id' }]).limits, DEFAULT_VALUE_LIMITS)
    assert.deepEqual(view([{ op: 'last', field: 'item_id' }], { maxStringBytes: 100 }).limits, {
      maxStringBytes: 100,
      maxRowBytes: 262_144,
    })
  })

  void test('limits that are not whole byte counts in range are refused, naming the limit', () => {
    for (const bad of [
      { maxStringBytes: 0 },
      { maxStringBytes: 1.5 },
      { maxStringBytes: '4k' },
      { maxStringBytes: 2 ** 21 },
      { maxRowBytes: 10 },
      { maxRowBytes: 2 ** 25 },
    ]) {
      const name = Object.keys(bad)[0]!
      assert.throws(
        () => view([{ op: 'count' }], bad),
        (err: unknown) =>
          err instanceof DefinitionError && err.message.includes(`limits.${name}`) && err.message.includes('view user_stats'),
        JSON.stringify(bad),
      )
    }
    assert.throws(() => view([{ op: 'count' }], 'big'), /limits must be an object/)
  })

  void test('a view whose worst row outgrows maxRowBytes is refused at definition time, with the fix', () => {
    // 100 strings of up to 4096 bytes: ~410 KB > 256 KiB.
    assert.throws(
      () => view([{ op: 'last_n', field: 'item_id', n: 100, windows: ['1d'] }]),
      (err: unknown) => {
        assert.ok(err instanceof DefinitionError)
        assert.match(
          err.message,
          /a row can reach \d+ bytes .* item_id_last_n_1d \(last 100 strings\), over limits\.maxRowBytes = 262144; lower last_n's n or limits\.maxStringBytes, or raise limits\.maxRowBytes/,
        )
        return true
      },
    )
    // The same view fits with smaller strings or a larger row bound; numbers weigh little.
    view([{ op: 'last_n', field: 'item_id', n: 100, windows: ['1d'] }], { maxStringBytes: 1024 })
    view([{ op: 'last_n', field: 'item_id', n: 100, windows: ['1d'] }], { maxRowBytes: 1024 * 1024 })
    view([{ op: 'last_n', field: 'price', n: 1000, windows: ['1d'] }])
  })

  void test('the view hash ignores default limits (old definitions keep their hash) and changes with custom ones', () => {
    const aggs: AggregationOptions[] = [{ op: 'last', field: 'item_id' }]
    const plain = viewHash(view(aggs))
    assert.equal(viewHash(view(aggs, { maxStringBytes: 4096 })), plain)
    assert.equal(viewHash({ ...view(aggs), limits: undefined }), plain)
    assert.notEqual(viewHash(view(aggs, { maxStringBytes: 64 })), plain)
  })

  void test("a view's maxStringBytes is what its task enforces", () => {
    const v = view([{ op: 'last', field: 'item_id' }], { maxStringBytes: 8 })
    const task = createPartitionTask({ views: [v], source: clicks })
    const ok = task.processEvent({ offset: '0', eventTimeMs: 1, event: { user_id: 'u', item_id: '12345678' } })
    assert.deepEqual(ok.deadLetters, [])
    const big = task.processEvent({ offset: '1', eventTimeMs: 2, event: { user_id: 'u', item_id: '1234567é' } })
    assert.deepEqual(big.rows, [[]])
    assert.equal(big.deadLetters[0]?.reason, 'oversize')
    assert.match(big.deadLetters[0]!.detail, /field item_id is a string of 9 UTF-8 bytes, over the view's limit of 8/)
  })
})
