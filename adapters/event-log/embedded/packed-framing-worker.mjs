// Worker threads do not get the tsx loader of the main thread: register it here, then load the
// TypeScript worker (packed-framing-worker.ts), as the Parquet encode worker does.
import { register } from 'tsx/esm/api'

register()
await import('./packed-framing-worker.ts')
