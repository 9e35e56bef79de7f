/**
 * Object store port: where Iceberg tables, checkpoints and registry state live. Adapters:
 * adapters/object-store/{local,memory,s3}; contract suite: test/contracts/object-store.ts.
 *
 * Failure modes: every method may reject with a transient error (the caller retries, see
 * core/retry.ts; engine/retried-reads.ts retries the reads of a caller with no retry of its own),
 * or with one the store will repeat (access denied: SINK_REJECTED, not retriable); `putIfAbsent`
 * answers false — never throws — when it lost a create race, and a lost answer to a successful put
 * looks like a failure (callers compare bytes when it matters).
 */

/** One object of a listing with times (`listWithTimes`). */
export interface ListedObject {
  readonly key: string
  /** When the object was last written (ms since the epoch): S3's LastModified, a file's mtime. */
  readonly lastModifiedMs: number
  readonly size: number
}

export interface ObjectStore {
  /** Human-readable root, e.g. `s3://bucket/prefix` or `file:///abs/dir`; Iceberg paths are built from it. */
  readonly rootUri: string
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, body: Uint8Array): Promise<void>
  /**
   * Creates the object only if no object exists under `key` (local: link(2); S3: If-None-Match: *).
   * Returns false when it already existed — the caller lost an optimistic-concurrency race.
   */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>
  delete(key: string): Promise<void>
  /** Keys under a prefix, in lexicographic order. */
  list(prefix: string): Promise<string[]>
  /**
   * The objects under a prefix with when each was last written and its size, in `list`'s order.
   * The orphan-file clean-up needs the times: a file a commit in flight has just written is named
   * by no metadata yet, and only its age tells it from one nobody will ever name.
   */
  listWithTimes(prefix: string): Promise<ListedObject[]>
  /** Absolute URI of a key, as written into Iceberg metadata. */
  uriOf(key: string): string
}
