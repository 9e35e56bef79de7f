/** The offline contract (test/contracts/offline.ts) against Iceberg on MinIO (the S3 object store). */
import type { S3ObjectStore } from '../../../adapters/object-store/s3/s3-object-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { runOfflineContract } from '../../contracts/offline.ts'
import { makeS3Store, requireS3Env } from '../object-store/s3-env.ts'

const stores: S3ObjectStore[] = []

runOfflineContract(
  'iceberg (s3, MinIO)',
  async () => {
    const store = makeS3Store(requireS3Env(), 'offline-contract')
    stores.push(store)
    return { offline: new IcebergOfflineSink(store), reopen: () => new IcebergOfflineSink(store) }
  },
  async () => {
    for (const s of stores) {
      for (const key of await s.list('')) await s.delete(key)
      s.close()
    }
  },
)
