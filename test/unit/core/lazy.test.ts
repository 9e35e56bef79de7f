import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RetryingLazy } from '../../../core/lazy.ts'

void test('lazy > made once on first use and shared by concurrent callers', async () => {
  let made = 0
  const lazy = new RetryingLazy(async () => ++made)
  assert.equal(lazy.current, undefined, 'nothing is made before the first use')
  assert.deepEqual(await Promise.all([lazy.get(), lazy.get(), lazy.get()]), [1, 1, 1])
  assert.equal(await lazy.get(), 1)
  assert.equal(made, 1)
})

void test('lazy > a failed make is forgotten, so the next use tries again', async () => {
  let attempts = 0
  const lazy = new RetryingLazy(async () => {
    if (++attempts < 3) throw new Error(`down ${attempts}`)
    return 'connected'
  })
  await assert.rejects(lazy.get(), /down 1/)
  await assert.rejects(lazy.get(), /down 2/)
  assert.equal(await lazy.get(), 'connected')
  assert.equal(await lazy.get(), 'connected')
  assert.equal(attempts, 3)
})
