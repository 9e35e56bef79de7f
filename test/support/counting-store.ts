/** A memory object store that counts its calls per method, and can run a writer right before a conditional create (a racing commit). */
import { MemoryObjectStore } from '../../adapters/object-store/index.ts'

export class CountingStore extends MemoryObjectStore {
  readonly calls = { get: 0, put: 0, putIfAbsent: 0 }
  /** Runs once, just before the next putIfAbsent (a table metadata commit) lands. */
  beforePutIfAbsent: (() => Promise<void>) | undefined

  override async get(key: string): Promise<Uint8Array | undefined> {
    this.calls.get++
    return super.get(key)
  }

  override async put(key: string, body: Uint8Array): Promise<void> {
    this.calls.put++
    return super.put(key, body)
  }

  override async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    this.calls.putIfAbsent++
    const hook = this.beforePutIfAbsent
    this.beforePutIfAbsent = undefined
    await hook?.()
    return super.putIfAbsent(key, body)
  }

  /** Every write: plain puts and conditional creates. */
  get writes(): number {
    return this.calls.put + this.calls.putIfAbsent
  }
}
