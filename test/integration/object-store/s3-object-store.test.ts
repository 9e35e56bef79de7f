import { runObjectStoreContract } from '../../contracts/object-store.ts'
import type { S3ObjectStore } from '../../../adapters/object-store/s3/s3-object-store.ts'
import { makeS3Store, requireS3Env } from './s3-env.ts'

const stores: S3ObjectStore[] = []

runObjectStoreContract(
  's3 (MinIO)',
  async () => {
    const store = makeS3Store(requireS3Env(), 'object-store-contract')
    stores.push(store)
    return store
  },
  async () => {
    for (const s of stores) {
      for (const key of await s.list('')) await s.delete(key)
      s.close()
    }
  },
)
