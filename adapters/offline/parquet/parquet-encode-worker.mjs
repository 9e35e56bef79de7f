// Worker threads do not get the tsx loader of the main thread: register it here, then load the
// TypeScript worker (parquet-encode-worker.ts).
import { register } from 'tsx/esm/api'

register()
await import('./parquet-encode-worker.ts')
