/** The offline contract (test/contracts/offline.ts, offline-join-keys.ts, offline-latest-rows.ts) against Iceberg on a local directory and in memory. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalObjectStore } from '../../../adapters/object-store/local/local-object-store.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/memory/memory-object-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { runOfflineContract } from '../../contracts/offline.ts'
import { runOfflineJoinKeyContract } from '../../contracts/offline-join-keys.ts'
import { runOfflineLatestRowsContract } from '../../contracts/offline-latest-rows.ts'

const subject = (store: ObjectStore) => ({ offline: new IcebergOfflineSink(store), reopen: () => new IcebergOfflineSink(store) })

const dirs: string[] = []
const local = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kfs-offline-'))
  dirs.push(dir)
  return subject(new LocalObjectStore(dir))
}
const removeDirs = async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
}
runOfflineContract('iceberg (local store)', local, removeDirs)
runOfflineJoinKeyContract('iceberg (local store)', local, removeDirs)
runOfflineLatestRowsContract('iceberg (local store)', local, removeDirs)

// A store whose files are not local paths: pinned feature files are copied out.
runOfflineContract('iceberg (memory store)', async () => subject(new MemoryObjectStore()))
runOfflineJoinKeyContract('iceberg (memory store)', async () => subject(new MemoryObjectStore()))
runOfflineLatestRowsContract('iceberg (memory store)', async () => subject(new MemoryObjectStore()))
