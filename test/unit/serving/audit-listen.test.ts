/**
 * A port that cannot be bound (another server holds it): `listen` rejects with kfs's own
 * CONFIG_INVALID error naming the address and what to change, on either transport, so `kfs serve`
 * reports it in one line (exit 1) instead of an "unexpected error" with a stack trace.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { createServer } from '../../../serving/server/index.ts'
import { allViews } from './fixtures.ts'
import { startServer, transportsUnderTest } from './server-harness.ts'

void describe('serving > audit > a port already in use', () => {
  for (const transport of transportsUnderTest()) {
    void test(`${transport}: listen rejects with CONFIG_INVALID naming host, port and --port; the holder keeps serving`, async () => {
      const holder = await startServer()
      const second = createServer({ store: new EmbeddedOnlineStore(), views: allViews, options: { transport } })
      try {
        await assert.rejects(second.listen(holder.port), (err: unknown) => {
          assert.ok(err instanceof FeatureStoreError, String(err))
          assert.equal(err.code, 'CONFIG_INVALID')
          assert.match(err.message, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${holder.port} \\(.+\\); choose another with --port or KFS_SERVE_PORT$`))
          return true
        })
        assert.equal((await fetch(`${holder.base}/healthz`)).status, 200)
      } finally {
        await second.close()
        await holder.close()
      }
    })
  }
})
