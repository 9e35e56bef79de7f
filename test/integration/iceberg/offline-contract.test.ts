/** The offline contract (test/contracts/offline.ts, offline-join-keys.ts, offline-latest-rows.ts) against Iceberg on MinIO (the S3 object store). */
import type { S3ObjectStore } from '../../../adapters/object-store/s3/s3-object-store.ts'
import { IcebergOfflineSink } from '../../../adapters/offline/iceberg/offline-sink.ts'
import { runOfflineContract } from '../../contracts/offline.ts'
import { runOfflineJoinKeyContract } from '../../contracts/offline-join-keys.ts'
import { runOfflineLatestRowsContract } from '../../contracts/offline-latest-rows.ts'
import { makeS3Store, requireS3Env } from '../object-store/s3-env.ts'

const stores: S3ObjectStore[] = []

const minio = async () => {
  const store = makeS3Store(requireS3Env(), 'offline-contract')
  stores.push(store)
  return { offline: new IcebergOfflineSink(store), reopen: () => new IcebergOfflineSink(store) }
}
const emptyBuckets = async () => {
  for (const s of stores.splice(0)) {
    for (const key of await s.list('')) await s.delete(key)
    s.close()
  }
}
runOfflineContract('iceberg (s3, MinIO)', minio, emptyBuckets)
runOfflineJoinKeyContract('iceberg (s3, MinIO)', minio, emptyBuckets)
runOfflineLatestRowsContract('iceberg (s3, MinIO)', minio, emptyBuckets)
