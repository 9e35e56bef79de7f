// Worker threads do not get the tsx loader of the main thread: register it here, then load the
// TypeScript worker (packed-append-worker.ts).
import { register } from 'tsx/esm/api'

register()
await import('./packed-append-worker.ts')
