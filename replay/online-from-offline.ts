/**
 * `kfs replay --online-from-offline`'s reload: the engine's own (engine/online-reload.ts), which
 * `kfs run` also runs by itself when it sees the online store lost rows (engine/online-loss-watch.ts).
 */
export { reloadOnlineFromOffline } from '../engine/online-reload.ts'
