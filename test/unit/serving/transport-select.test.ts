/**
 * Serving never degrades silently: the transport is chosen at start, the choice is said (log line,
 * `FeatureServer.transport`, /metrics), a forced uWebSockets.js that cannot load fails the start
 * with the reason and the way out, and the package's pure-JS fallback (whose WebSocket push does
 * not work) is never loaded. A Node without a uWS build is simulated by an injected loader, and
 * the real loader is asked for builds that do not exist.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { describe, test } from 'node:test'
import { ConfigError } from '../../../core/errors.ts'
import { createServer } from '../../../serving/server/index.ts'
import { selectTransport } from '../../../serving/server/transport/select.ts'
import { loadNativeUws, type Uws } from '../../../serving/server/transport/uws.ts'
import { startServer } from './server-harness.ts'
import { allViews } from './fixtures.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'

const noBuild = (): Uws => {
  throw new Error(
    'uWebSockets.js has no native build for Node v99.0.0 (ABI 999) on linux_x64; its builds here are for ABIs 93, 108, 115',
  )
}
const onError = (): void => {}

void describe('serving > transport > choice', () => {
  void test('auto without a loadable uWS serves on node:http + ws and says why', () => {
    const { transport, reason } = selectTransport('auto', { loadUws: noBuild, onError })
    assert.equal(transport.name, 'node')
    assert.match(reason, /^node:http \+ ws, because uWebSockets.js has no native build for Node v99\.0\.0 \(ABI 999\)/)
    assert.match(reason, /KFS_SERVE_TRANSPORT=node/)
  })

  void test('auto with a loadable uWS serves on it', () => {
    let apps = 0
    const fake = { App: () => (apps++, {}) } as unknown as Uws
    const { transport, reason } = selectTransport('auto', { loadUws: () => fake, onError })
    assert.deepEqual([transport.name, apps], ['uws', 1])
    assert.match(reason, /^uWebSockets\.js, its native build loads on Node v/)
  })

  void test('uws forced where it cannot load fails at start: the reason, and what to do', () => {
    assert.throws(
      () => selectTransport('uws', { loadUws: noBuild, onError }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.match(
          err.message,
          /^KFS_SERVE_TRANSPORT=uws but uWebSockets\.js cannot run here: uWebSockets\.js has no native build for Node v99\.0\.0/,
        )
        assert.match(err.message, /Unset KFS_SERVE_TRANSPORT \(or set it to node\) to serve on node:http \+ ws/)
        assert.equal(err.context?.['variable'], 'KFS_SERVE_TRANSPORT')
        return true
      },
    )
  })

  void test('node forced never tries uWS', () => {
    const { transport, reason } = selectTransport('node', {
      loadUws: () => assert.fail('the uWS loader ran'),
      onError,
    })
    assert.equal(transport.name, 'node')
    assert.match(reason, /as asked \(KFS_SERVE_TRANSPORT=node\)/)
  })

  void test('createServer: a forced uws that cannot load throws before anything listens', () => {
    const store = new EmbeddedOnlineStore({ clock: { nowMs: () => 0, sleep: async () => {} } })
    assert.throws(
      () => createServer({ store, views: allViews, options: { transport: 'uws', loadUws: noBuild } }),
      /KFS_SERVE_TRANSPORT=uws but uWebSockets\.js cannot run here/,
    )
  })

  void test('createServer on auto without uWS: the start log, the server and /metrics all name node, with the reason', async () => {
    const s = await startServer({ options: { transport: 'auto', loadUws: noBuild } })
    try {
      assert.equal(s.transport, 'node')
      assert.match(s.server.transport.reason, /because uWebSockets\.js has no native build for Node v99/)
      const started = s.logs.find((l) => l.msg === 'serving started')
      assert.deepEqual([started?.obj.transport, started?.obj.reason], ['node', s.server.transport.reason])
      assert.match(await (await fetch(`${s.base}/metrics`)).text(), /^kfs_serving_transport_info\{transport="node"\} 1$/m)
    } finally {
      await s.close()
    }
  })
})

void describe('serving > transport > loading native uWS', () => {
  const require = createRequire(import.meta.url)
  const packageFallback = require.resolve('uWebSockets.js/dist/index.js')

  void test('a Node ABI without a build: refused with the builds there are, never the JS fallback', () => {
    assert.throws(
      () => loadNativeUws({ abi: '999' }),
      /uWebSockets\.js has no native build for Node v[\d.]+ \(ABI 999\) on [a-z0-9]+_[a-z0-9]+; its builds here are for ABIs \d+(, \d+)*/,
    )
    assert.equal(require.cache[packageFallback], undefined, "the package's pure-JS fallback was not loaded")
  })

  void test('a platform without any build: refused as such', () => {
    assert.throws(() => loadNativeUws({ platform: 'plan9' }), /on plan9_[a-z0-9]+; it has no build for this platform at all/)
  })

  void test('a build that is there but does not load (a newer glibc needed, say): refused with the loader error', () => {
    const glibc = (): never => {
      throw new Error(
        "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by uws_linux_x64_115.node)\nRequire stack: …",
      )
    }
    assert.throws(
      () => loadNativeUws({ platform: 'linux', arch: 'x64', abi: '115', load: glibc }),
      /^Error: uWebSockets\.js's native build for Node v[\d.]+ on linux_x64 does not load: \/lib\/x86_64-linux-gnu\/libc\.so\.6: version `GLIBC_2\.38' not found \(required by uws_linux_x64_115\.node\)$/,
    )
  })

  void test('the build for this Node, where there is one, is the native module itself', () => {
    let loaded: Uws | undefined
    let refusal: string | undefined
    try {
      loaded = loadNativeUws()
    } catch (err: unknown) {
      refusal = String(err)
    }
    // Either answer is a fact about this machine; both are checked, and neither is the JS fallback.
    if (loaded !== undefined) assert.equal(typeof loaded.us_socket_local_port, 'function')
    else assert.match(refusal ?? '', /^Error: uWebSockets\.js('s native build for| has no native build for) Node /)
    assert.equal(require.cache[packageFallback], undefined)
  })
})
