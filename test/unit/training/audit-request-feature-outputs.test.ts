/**
 * A request feature's `fn` is user code, run by training sets as serving runs it. An async `fn`
 * returns a promise: training refused it ("returned a object, not a double") but left the promise
 * unwatched, so when it rejected the unhandled rejection ended the process with a stack trace right
 * after the clear error. Every refused output is now a BAD_REQUEST naming the row and what came
 * back, and nothing it does later reaches the process.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { requestFeature } from '../../../features/index.ts'
import type { RequestFeatureDef, RequestValueType } from '../../../features/types.ts'
import { computeRequestFeature } from '../../../training/request-features.ts'

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
before(() => process.on('unhandledRejection', onUnhandled))
after(() => process.off('unhandledRejection', onUnhandled))

/** A thenable whose `then` getter throws: adopting it must not throw where the refusal is made. */
const trap = Object.defineProperty({}, 'then', {
  get() {
    throw new Error('then getter')
  },
})

const REFUSED: readonly { what: string; type: RequestValueType; fn: RequestFeatureDef['fn']; kind: string }[] = [
  {
    what: 'an async fn that rejects later',
    type: 'double',
    fn: (async () => Promise.reject(new Error('boom later'))) as never,
    kind: 'an object',
  },
  { what: 'an async fn that resolves', type: 'long', fn: (async () => 1) as never, kind: 'an object' },
  { what: 'a thenable whose then getter throws', type: 'string', fn: (() => trap) as never, kind: 'an object' },
  { what: 'an array', type: 'double', fn: (() => [1]) as never, kind: 'an array' },
  { what: 'a function', type: 'boolean', fn: (() => () => true) as never, kind: 'a function' },
  { what: 'a bigint', type: 'long', fn: (() => 1n) as never, kind: 'a bigint' },
  { what: 'a string for a double', type: 'double', fn: (() => '1.5') as never, kind: 'a string' },
]

// The fns under test read this module's values, which requestFeature refuses (a fn reads nothing
// from outside itself, docs/semantics.md §27): each is set on the declared definition.
const def = (type: RequestValueType, fn: RequestFeatureDef['fn']): RequestFeatureDef => ({
  ...requestFeature({
    name: 'score',
    request: { amount: 'double' },
    features: [],
    outputType: type,
    fn: () => null,
    description: 'd',
  }),
  fn,
})

void describe('training set > request features returning what their type does not allow', () => {
  for (const c of REFUSED) {
    void test(`${c.what}: BAD_REQUEST naming the row and what came back, nothing unhandled`, async () => {
      const before = unhandled.length
      assert.throws(
        () =>
          computeRequestFeature(
            def(c.type, c.fn),
            2,
            () => [1, 2],
            () => [],
          ),
        (err: unknown) => {
          assert.ok(err instanceof FeatureStoreError, String(err))
          assert.equal(err.code, 'BAD_REQUEST')
          assert.equal(err.message, `label row 1: request feature score returned ${c.kind}, not a ${c.type}`)
          return true
        },
      )
      // A rejection nobody handles is reported once the microtasks have run: let them run.
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(unhandled.slice(before), [])
    })
  }

  void test('values of the declared type, null and undefined still pass', () => {
    const values = computeRequestFeature(
      def('double', ((req: Record<string, unknown>) => (req.amount === 1 ? undefined : Number(req.amount) / 2)) as never),
      2,
      () => [1, 3],
      () => [],
    )
    assert.deepEqual(values, [null, 1.5])
  })
})
