/** ObjectStore adapters that need no server: a local directory and memory (tests). S3 lives in ./s3/. */
export { LocalObjectStore } from './local/local-object-store.ts'
export { MemoryObjectStore } from './memory/memory-object-store.ts'
export { assertValidKey, keyOfUri } from '../../ports/object-store-keys.ts'
