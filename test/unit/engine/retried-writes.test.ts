/**
 * engine/retried-writes.ts: `put` and `delete` are asked again on a passing fault up to the bound
 * (repeating them is harmless), past it a RetriesExhaustedError naming what was written; a refusal
 * is asked once, named; `putIfAbsent` is asked once whatever the fault — a create whose answer was
 * lost would read as a lost race the second time — with its failure named; reads pass through.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { FeatureStoreError, RetriesExhaustedError, SinkWriteError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { objectStoreWritesRetried } from '../../../engine/retried-writes.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'

const instant: Clock = { nowMs: () => 0, sleep: async () => {} }
const ATTEMPTS = 4
const options = { clock: instant, attempts: ATTEMPTS }
const KEY = 'warehouse/features/clicks_v1/data/day=1/abc.parquet'
const NAMED =
  /could not (write|delete) the Iceberg data file warehouse\/features\/clicks_v1\/data\/day=1\/abc\.parquet in memory:\/\//

type Write = 'put' | 'putIfAbsent' | 'delete'

/** A store whose `write` throws `fail()` its first `failures` calls (after landing, when `landed`). */
function failingStore(write: Write, fail: () => unknown, failures: number, landed = false) {
  const inner = new MemoryObjectStore()
  let calls = 0
  const store: ObjectStore = {
    rootUri: inner.rootUri,
    uriOf: (k) => inner.uriOf(k),
    get: (k) => inner.get(k),
    list: (p) => inner.list(p),
    listWithTimes: (p) => inner.listWithTimes(p),
    put: (k, b) => inner.put(k, b),
    putIfAbsent: (k, b) => inner.putIfAbsent(k, b),
    delete: (k) => inner.delete(k),
  }
  const real = store[write].bind(store) as (k: string, b: Uint8Array) => Promise<unknown>
  ;(store as unknown as Record<Write, unknown>)[write] = async (k: string, b: Uint8Array) => {
    if (++calls <= failures) {
      if (landed) await real(k, b)
      throw fail()
    }
    return real(k, b)
  }
  const call = (): Promise<unknown> => {
    const retried = objectStoreWritesRetried(store, options)
    const body = new Uint8Array([1, 2, 3])
    return write === 'delete' ? retried.delete(KEY) : write === 'put' ? retried.put(KEY, body) : retried.putIfAbsent(KEY, body)
  }
  return { inner, calls: () => calls, call }
}

const transient = () => new SinkWriteError('SINK_UNAVAILABLE', '503 slow down')
const refusal = () => new SinkWriteError('SINK_REJECTED', 'access denied')

void describe('objectStoreWritesRetried', () => {
  for (const write of ['put', 'delete'] as const) {
    void test(`${write}: a passing fault up to the bound is ridden out`, async () => {
      const s = failingStore(write, transient, ATTEMPTS - 1)
      await s.call()
      assert.equal(s.calls(), ATTEMPTS)
    })
    void test(`${write}: a fault that outlasts the bound ends named, a RetriesExhaustedError`, async () => {
      const s = failingStore(write, transient, Infinity)
      await assert.rejects(s.call(), (err: unknown) => {
        assert.ok(err instanceof RetriesExhaustedError)
        assert.match(err.message, NAMED)
        assert.match(err.message, new RegExp(`gave up after ${ATTEMPTS} attempts`))
        return true
      })
      assert.equal(s.calls(), ATTEMPTS)
    })
    void test(`${write}: a refusal is asked once, named`, async () => {
      const s = failingStore(write, refusal, 1)
      await assert.rejects(s.call(), (err: unknown) => {
        assert.ok(err instanceof FeatureStoreError && err.code === 'SINK_REJECTED')
        assert.match(err.message, NAMED)
        return true
      })
      assert.equal(s.calls(), 1)
    })
  }

  void test('put: a first attempt that landed, its answer lost, is written again to the same bytes', async () => {
    const s = failingStore('put', transient, 1, true)
    await s.call()
    assert.deepEqual(await s.inner.get(KEY), new Uint8Array([1, 2, 3]))
  })

  void test('putIfAbsent: a passing fault is not asked again here (its caller settles a lost answer), but named', async () => {
    const s = failingStore('putIfAbsent', transient, 1, true)
    await assert.rejects(s.call(), (err: unknown) => {
      assert.ok(err instanceof FeatureStoreError && err.retriable, 'still retriable: the caller may ask again')
      assert.match(err.message, /could not write the Iceberg data file .* 503 slow down/)
      return true
    })
    assert.equal(s.calls(), 1)
    // Landed: asked again here it would have answered "lost the race" for its own write.
    assert.equal(await objectStoreWritesRetried(s.inner, options).putIfAbsent(KEY, new Uint8Array([9])), false)
  })
})
