/**
 * The uWebSockets.js transport: uWS's app, requests, responses and sockets are handed to the
 * server as they are (they satisfy types.ts), so this file adds nothing per request.
 *
 * Loading: the package (`uWebSockets.js` → @trufflesuite/uws-js-unofficial) ships native
 * binaries per platform and Node ABI and, when none loads, silently returns a pure-JS fallback
 * whose WebSocket push does not work (src/uws.js of the package: a console warning, then
 * `require('../dist/index')`). So kfs never runs the package's entry point: `loadNativeUws`
 * requires the one binary for this platform and ABI itself and throws, with the loader's reason,
 * when it is missing or does not load (too new a Node; a build needing a newer glibc). The path
 * (`binaries/uws_<platform>_<arch>_<abi>.node`) is this package's layout: a move to another uWS
 * package means revisiting `loadNativeUws`, and transport-select.test.ts fails until then.
 */
import { existsSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type * as UwsModule from 'uWebSockets.js'
import { listenError, type Transport, type TransportApp } from './types.ts'

export type Uws = typeof UwsModule

/** Which build to load; this process's by default (tests ask for others). */
export interface UwsTarget {
  readonly platform?: string
  readonly arch?: string
  /** The Node ABI (`process.versions.modules`). */
  readonly abi?: string
  /** Loads the binary (default: Node's require, which dlopens it). */
  readonly load?: (file: string) => unknown
}

/** The native uWS for this process, never the package's JS fallback; throws why when there is none. */
export function loadNativeUws(target: UwsTarget = {}): Uws {
  const require = createRequire(import.meta.url)
  const binaries = join(dirname(require.resolve('uWebSockets.js/package.json')), 'binaries')
  const abi = target.abi ?? process.versions.modules
  const system = `${target.platform ?? process.platform}_${target.arch ?? process.arch}`
  const file = join(binaries, `uws_${system}_${abi}.node`)
  if (!existsSync(file)) {
    const abis = readdirSync(binaries)
      .filter((name) => name.startsWith(`uws_${system}_`))
      .map((name) => name.slice(`uws_${system}_`.length, -'.node'.length))
    throw new Error(
      `uWebSockets.js has no native build for Node ${process.version} (ABI ${abi}) on ${system}; ` +
        (abis.length > 0
          ? `its builds here are for ABIs ${abis.sort((a, b) => Number(a) - Number(b)).join(', ')}`
          : 'it has no build for this platform at all'),
    )
  }
  try {
    return (target.load ?? require)(file) as Uws
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err)
    throw new Error(`uWebSockets.js's native build for Node ${process.version} on ${system} does not load: ${reason}`, {
      cause: err,
    })
  }
}

/** The uWS transport over a loaded native uWS. */
export function uwsTransport(uws: Uws): Transport {
  const native = uws.App()
  // uWS's objects are the seam's types; the compiler checks that here, once.
  const app: TransportApp = native
  let listening: UwsModule.us_listen_socket | undefined
  return {
    name: 'uws',
    app,
    listen(host, port) {
      return new Promise<number>((resolve, reject) => {
        native.listen(host, port, (socket) => {
          // uWS says only that it failed: a port another process holds, or an address not this machine's.
          if (!socket) return reject(listenError(host, port, 'the port is in use or the address cannot be bound'))
          listening = socket
          resolve(uws.us_socket_local_port(socket as unknown as UwsModule.us_socket))
        })
      })
    },
    stopListening() {
      if (listening) uws.us_listen_socket_close(listening)
      listening = undefined
    },
    closeAll() {
      // Closes idle keep-alive connections and WebSockets too (present at runtime, missing from the typings).
      ;(native as unknown as { close?: () => void }).close?.()
    },
  }
}
