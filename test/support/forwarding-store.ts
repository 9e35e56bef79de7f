/**
 * An object store that forwards every call to `inner`: tests spread it and override the one
 * method they fault or hook (`{ ...forwardingStore(inner), get: … }`).
 */
import type { ObjectStore } from '../../ports/object-store.ts'

export function forwardingStore(inner: ObjectStore): ObjectStore {
  return {
    rootUri: inner.rootUri,
    uriOf: (k) => inner.uriOf(k),
    get: (k) => inner.get(k),
    put: (k, b) => inner.put(k, b),
    putIfAbsent: (k, b) => inner.putIfAbsent(k, b),
    delete: (k) => inner.delete(k),
    list: (p) => inner.list(p),
    listWithTimes: (p) => inner.listWithTimes(p),
  }
}
