/**
 * Object keys are relative, `/`-separated paths (`db/t/metadata/v1.metadata.json`). One validator
 * keeps every store from resolving a key outside its root.
 */
import { SinkWriteError } from '../core/errors.ts'

export function assertValidKey(key: string): void {
  if (
    key.length === 0 ||
    key.startsWith('/') ||
    key.endsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
  ) {
    throw new SinkWriteError('SINK_REJECTED', 'invalid object key', { context: { keyLength: key.length } })
  }
}

/** The key an absolute URI names in `store`, or undefined when the URI lies outside its root. */
export function keyOfUri(store: { uriOf(key: string): string; readonly rootUri: string }, uri: string): string | undefined {
  const root = store.rootUri.endsWith('/') ? store.rootUri : `${store.rootUri}/`
  return uri.startsWith(root) ? uri.slice(root.length) : undefined
}

/** The key an absolute URI names in `store`; a URI outside its root is refused, naming both. */
export function keyOfStoreUri(store: { uriOf(key: string): string; readonly rootUri: string }, uri: string): string {
  const key = keyOfUri(store, uri)
  if (key === undefined)
    throw new SinkWriteError('SINK_REJECTED', `${uri} lies outside the object store root ${store.rootUri}`, {
      context: { root: store.rootUri, file: uri },
    })
  return key
}
