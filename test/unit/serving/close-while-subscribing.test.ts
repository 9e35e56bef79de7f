/**
 * A server closed while its change-feed subscription is still being made (the store slow to
 * subscribe): the subscription is ended once it arrives, and an end that fails is logged — before,
 * its rejection was left unhandled (`void off()`), which ends a Node process; and `listen` rejects
 * (INTERRUPTED) instead of binding the port after `close` — before, it bound it and held it for good.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FeatureStoreError } from '../../../core/errors.ts'
import { createServer } from '../../../serving/server/index.ts'
import { allViews } from './fixtures.ts'
import { captureLogger, requestedTransport } from './server-harness.ts'

void test('closed while subscribing: a failing unsubscribe is logged, not an unhandled rejection; listen does not bind after close', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    let subscribed: (off: () => Promise<void>) => void = () => {}
    const logger = captureLogger()
    const server = createServer({
      store: {
        readRows: async () => [],
        subscribeChanges: () => new Promise((resolve) => (subscribed = resolve)),
      },
      views: allViews,
      services: [],
      requestFeatures: [],
      options: { logger, transport: requestedTransport() },
    })
    const listening = server.listen(0)
    const closed = server.close()
    subscribed(() => Promise.reject(new Error('the store is gone')))
    await assert.rejects(listening, (err: unknown) => err instanceof FeatureStoreError && err.code === 'INTERRUPTED')
    await closed
    // A rejection nobody handles is reported once the microtasks and the next macrotask have run.
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setTimeout(resolve, 10))
    assert.deepEqual(unhandled, [])
    assert.ok(
      logger.lines.some((l) => l.msg === 'change feed did not unsubscribe'),
      'the failed unsubscribe is logged',
    )
    await server.close()
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})
