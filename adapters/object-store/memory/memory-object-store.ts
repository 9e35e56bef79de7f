/**
 * In-memory ObjectStore for unit tests: same contract as the local and S3 stores (create-if-absent
 * is atomic because JS runs one callback at a time), no I/O.
 */
import type { ObjectStore } from '../../../ports/object-store.ts'
import { assertValidKey } from '../../../ports/object-store-keys.ts'

export class MemoryObjectStore implements ObjectStore {
  readonly rootUri: string
  readonly #objects = new Map<string, Uint8Array>()

  constructor(rootUri = 'memory://kfs') {
    this.rootUri = rootUri.replace(/\/+$/, '')
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertValidKey(key)
    const body = this.#objects.get(key)
    return body === undefined ? undefined : body.slice()
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    assertValidKey(key)
    this.#objects.set(key, body.slice())
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    assertValidKey(key)
    if (this.#objects.has(key)) return false
    this.#objects.set(key, body.slice())
    return true
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key)
    this.#objects.delete(key)
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys)
  }

  uriOf(key: string): string {
    return key === '' ? this.rootUri : `${this.rootUri}/${key}`
  }
}

/** Lexicographic by UTF-8 bytes, the order S3 ListObjectsV2 returns. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
