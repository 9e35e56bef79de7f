/**
 * The real disk for the embedded online store, with each open made as a restarted process makes
 * it: tests that stand for a crashed process by leaving a store unclosed and opening the next
 * one in the same process use it, since a crashed process's lock is no longer held (the writer's
 * lock itself: test/unit/online-store/embedded-writer-lock.test.ts).
 */
import { nodeStoreFiles, type StoreFiles } from '../../adapters/online-store/embedded/store-files.ts'

export const unlockedStoreFiles: StoreFiles = { ...nodeStoreFiles, lock: () => () => {} }
