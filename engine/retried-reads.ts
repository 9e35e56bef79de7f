/**
 * Reads that ask again: the object-store and schema-registry ports with their reads retried
 * through core/retry.ts (bounded, exponential back-off), for a caller that has no retry of its own
 * around them — a backfill reads the archive's Iceberg metadata, manifests and data files, its
 * checkpoints and the writer schemas deep inside one pass, where a passing fault (a timeout, a
 * 503, a reset connection) would otherwise fail the whole run.
 *
 * Guarantees:
 * - Only reads are retried (`get`, `list`, `getById`, `latest`): they change nothing, so asking
 *   again is always safe. Writes pass through untouched — whether a write may be repeated (a
 *   `putIfAbsent` whose answer was lost reads as a lost race the second time) is its caller's call
 *   (engine/retried-writes.ts retries the writes that may be repeated, for `kfs compact`).
 * - What the port calls permanent is not retried: an answer of "not there" (`undefined`) is an
 *   answer, and an error marked non-retriable (access denied, damaged data, a refused request:
 *   core/error-codes.ts) fails at once, as do programming errors (core/retry.ts).
 *
 * Failure: after the last attempt, or at once for a permanent error, the error names what was
 * being read (`the Iceberg manifest <key> in <root>`, `writer schema id 7`) and keeps the port's
 * error as its cause; a retriable error that ran out is a RetriesExhaustedError.
 */
import { FeatureStoreError, reasonOf, RetriesExhaustedError } from '../core/errors.ts'
import { retry, type RetryOptions } from '../core/retry.ts'
import type { ObjectStore } from '../ports/object-store.ts'
import type { SchemaRegistry } from '../ports/schema-registry.ts'

/** What an object key holds, in words an operator recognises (the layouts of kfs's tables, checkpoints, registry). */
export function describeObject(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1)
  if (key.startsWith('registry/')) return `the registry object ${key}`
  if (key.startsWith('checkpoints/')) return `the checkpoint object ${key}`
  if (key.includes('/metadata/')) {
    if (name === 'version-hint.text') return `the Iceberg version hint ${key}`
    if (name.endsWith('.metadata.json')) return `the Iceberg table metadata ${key}`
    if (name.startsWith('snap-') && name.endsWith('.avro')) return `the Iceberg manifest list ${key}`
    if (name.endsWith('.avro')) return `the Iceberg manifest ${key}`
    return `the Iceberg metadata objects under ${key}`
  }
  if (key.includes('/data/')) return `the Iceberg data file ${key}`
  return `the object ${key}`
}

/**
 * The port's failure, now naming what was `done` to what (`could not read the Iceberg manifest …`);
 * retriability unchanged (same code, same cause chain).
 */
export function namedFailure(
  done: string,
  what: string,
  err: unknown,
  context: Readonly<Record<string, string | number>>,
): unknown {
  // The retry's message already carries its last failure's ("gave up after N attempts, the last: …").
  if (err instanceof RetriesExhaustedError)
    return new RetriesExhaustedError(`could not ${done} ${what}: ${reasonOf(err)}`, { cause: err.cause, context })
  if (err instanceof FeatureStoreError)
    return new FeatureStoreError(err.code, `could not ${done} ${what}: ${reasonOf(err)}`, { cause: err, context })
  // A programming error (TypeError…) stays itself: it is a bug to report, not a call to name.
  return err
}

/** `call` retried under `options` (or asked once, `options` undefined), its failure named. */
export async function namedCall<T>(
  done: string,
  what: string,
  context: Readonly<Record<string, string | number>>,
  call: () => Promise<T>,
  options: RetryOptions | undefined,
): Promise<T> {
  try {
    return await (options === undefined ? call() : retry(call, options))
  } catch (err: unknown) {
    throw namedFailure(done, what, err, context)
  }
}

function retriedRead<T>(
  what: string,
  context: Readonly<Record<string, string | number>>,
  read: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  return namedCall('read', what, context, read, options)
}

/** `store` with `get`, `list` and `listWithTimes` retried under `options`; writes as they are. */
export function objectStoreReadsRetried(store: ObjectStore, options: RetryOptions): ObjectStore {
  const where = (key: string) => ({ key, store: store.rootUri })
  const keysUnder = (prefix: string) => `the keys under ${prefix === '' ? 'the root' : prefix} in ${store.rootUri}`
  return {
    rootUri: store.rootUri,
    uriOf: (key) => store.uriOf(key),
    get: (key) => retriedRead(`${describeObject(key)} in ${store.rootUri}`, where(key), () => store.get(key), options),
    list: (prefix) => retriedRead(keysUnder(prefix), where(prefix), () => store.list(prefix), options),
    listWithTimes: (prefix) => retriedRead(keysUnder(prefix), where(prefix), () => store.listWithTimes(prefix), options),
    put: (key, body) => store.put(key, body),
    putIfAbsent: (key, body) => store.putIfAbsent(key, body),
    delete: (key) => store.delete(key),
  }
}

/** `registry` with `getById` and `latest` retried under `options`; `register` as it is. */
export function schemaReadsRetried(registry: SchemaRegistry, options: RetryOptions): SchemaRegistry {
  return {
    getById: (id) =>
      retriedRead(`writer schema id ${id} from the schema registry`, { schemaId: id }, () => registry.getById(id), options),
    latest: (subject) =>
      retriedRead(
        `the latest schema of subject ${subject} from the schema registry`,
        { subject },
        () => registry.latest(subject),
        options,
      ),
    register: (subject, schema) => registry.register(subject, schema),
  }
}
