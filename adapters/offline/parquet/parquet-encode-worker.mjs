// Worker threads do not get the tsx loader of the main thread: on a Node that cannot strip types
// itself, register it here; then load the TypeScript worker (parquet-encode-worker.ts).
if (!process.features.typescript) (await import('tsx/esm/api')).register()
await import('./parquet-encode-worker.ts')
