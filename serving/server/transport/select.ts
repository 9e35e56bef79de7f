/**
 * Which transport serves, decided once at start and never silently: `auto` (the default) takes
 * native uWebSockets.js when a build for this Node and platform loads, else node:http + ws, and
 * says why; `uws` or `node` force one, and a forced `uws` that cannot load fails the start with
 * the loader's reason and what to do. The choice is logged at start and exported in /metrics
 * (`kfs_serving_transport_info`).
 */
import { ConfigError } from '../../../core/errors.ts'
import { nodeTransport } from './node-app.ts'
import type { Transport, TransportName } from './types.ts'
import { loadNativeUws, uwsTransport, type Uws } from './uws.ts'

/** What `KFS_SERVE_TRANSPORT` (or `ServerOptions.transport`) asks for. */
export type TransportChoice = 'auto' | TransportName

export interface SelectedTransport {
  readonly transport: Transport
  /** Why this one, in a sentence for the start-up log. */
  readonly reason: string
}

export function selectTransport(
  choice: TransportChoice,
  deps: {
    /** Loads native uWS or throws why not (injectable: tests simulate a Node it has no build for). */
    readonly loadUws?: () => Uws
    readonly onError: (err: unknown, where: string) => void
  },
): SelectedTransport {
  const loadUws = deps.loadUws ?? loadNativeUws
  const node = (): Transport => nodeTransport({ onError: deps.onError })
  if (choice === 'node') return { transport: node(), reason: 'node:http + ws, as asked (KFS_SERVE_TRANSPORT=node)' }
  let uws: Uws
  try {
    uws = loadUws()
  } catch (err: unknown) {
    const why = err instanceof Error ? err.message : String(err)
    if (choice === 'uws') {
      throw new ConfigError(
        `KFS_SERVE_TRANSPORT=uws but uWebSockets.js cannot run here: ${why}. ` +
          'Unset KFS_SERVE_TRANSPORT (or set it to node) to serve on node:http + ws, or run kfs serve on a Node version uWebSockets.js has a build for (16, 18 or 20).',
        { cause: err, context: { variable: 'KFS_SERVE_TRANSPORT' } },
      )
    }
    return {
      transport: node(),
      reason: `node:http + ws, because ${why} (KFS_SERVE_TRANSPORT=node makes this the explicit choice)`,
    }
  }
  const how = choice === 'uws' ? 'as asked (KFS_SERVE_TRANSPORT=uws)' : `its native build loads on Node ${process.version}`
  return { transport: uwsTransport(uws), reason: `uWebSockets.js, ${how}` }
}
