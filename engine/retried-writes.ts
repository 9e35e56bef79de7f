/**
 * Writes that ask again: the object store with its repeatable writes retried through core/retry.ts
 * (bounded, exponential back-off), for a command that writes with no retry of its own around its
 * writes — `kfs compact` writes a table's new data files and manifests deep inside one pass, where
 * a passing fault (a timeout, a 503, a reset connection) would otherwise fail the whole run.
 *
 * Guarantees:
 * - `put` and `delete` are retried: asking again writes the same bytes under the same key, or
 *   deletes what is already gone, so a first attempt that landed (its answer lost) is harmless.
 * - `putIfAbsent` is asked once, never again here: a create whose answer was lost would read as a
 *   lost race the second time. Its caller settles that — an Iceberg commit
 *   (adapters/offline/iceberg/iceberg-table.ts commitSnapshot) reloads the table and finds its own
 *   snapshot there — and retries it in its own loop.
 * - What the port calls permanent (access denied) fails at once, as for reads (engine/retried-reads.ts).
 * - Reads pass through as they are: wrap the store with objectStoreReadsRetried too for those.
 *
 * Failure: after the last attempt, or at once for a permanent error, the error names what was being
 * written (`could not write the Iceberg data file <key> in <root>: …`) and keeps the port's error as
 * its cause; a retriable error that ran out is a RetriesExhaustedError.
 */
import type { RetryOptions } from '../core/retry.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import { describeObject, namedCall } from './retried-reads.ts'

/** `store` with `put` and `delete` retried under `options`, `putIfAbsent` named; reads as they are. */
export function objectStoreWritesRetried(store: ObjectStore, options: RetryOptions): ObjectStore {
  const what = (key: string) => `${describeObject(key)} in ${store.rootUri}`
  const where = (key: string) => ({ key, store: store.rootUri })
  return {
    rootUri: store.rootUri,
    uriOf: (key) => store.uriOf(key),
    get: (key) => store.get(key),
    list: (prefix) => store.list(prefix),
    listWithTimes: (prefix) => store.listWithTimes(prefix),
    put: (key, body) => namedCall('write', what(key), where(key), () => store.put(key, body), options),
    putIfAbsent: (key, body) => namedCall('write', what(key), where(key), () => store.putIfAbsent(key, body), undefined),
    delete: (key) => namedCall('delete', what(key), where(key), () => store.delete(key), options),
  }
}
