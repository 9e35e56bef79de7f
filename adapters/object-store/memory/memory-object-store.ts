/**
 * In-memory ObjectStore for unit tests: same contract as the local and S3 stores (create-if-absent
 * is atomic because JS runs one callback at a time), no I/O. Each object's write time is read from
 * an injectable clock, so a test ages objects without waiting.
 */
import { systemClock, type Clock } from '../../../core/clock.ts'
import type { ListedObject, ObjectStore } from '../../../ports/object-store.ts'
import { assertValidKey } from '../../../ports/object-store-keys.ts'

interface StoredObject {
  readonly body: Uint8Array
  readonly writtenMs: number
}

export class MemoryObjectStore implements ObjectStore {
  readonly rootUri: string
  readonly #objects = new Map<string, StoredObject>()
  readonly #clock: Pick<Clock, 'nowMs'>

  constructor(rootUri = 'memory://kfs', clock: Pick<Clock, 'nowMs'> = systemClock) {
    this.rootUri = rootUri.replace(/\/+$/, '')
    this.#clock = clock
  }

  #store(key: string, body: Uint8Array): void {
    this.#objects.set(key, { body: body.slice(), writtenMs: this.#clock.nowMs() })
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertValidKey(key)
    const stored = this.#objects.get(key)
    return stored === undefined ? undefined : stored.body.slice()
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    assertValidKey(key)
    this.#store(key, body)
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    assertValidKey(key)
    if (this.#objects.has(key)) return false
    this.#store(key, body)
    return true
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key)
    this.#objects.delete(key)
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys)
  }

  async listWithTimes(prefix: string): Promise<ListedObject[]> {
    return (await this.list(prefix)).flatMap((key) => {
      const stored = this.#objects.get(key)
      return stored === undefined ? [] : [{ key, lastModifiedMs: stored.writtenMs, size: stored.body.length }]
    })
  }

  uriOf(key: string): string {
    return key === '' ? this.rootUri : `${this.rootUri}/${key}`
  }
}

/** Lexicographic by UTF-8 bytes, the order S3 ListObjectsV2 returns. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
