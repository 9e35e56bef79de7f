/** The real stack's S3 store under a private prefix, from the env the stack script writes (./stack-env.ts). */
import { S3ObjectStore } from '../../adapters/object-store/s3/index.ts'

export function stackObjectStore(env: Record<string, string>, prefix: string): S3ObjectStore {
  return new S3ObjectStore({
    bucket: env.KFS_S3_BUCKET!,
    prefix,
    region: env.KFS_S3_REGION ?? 'us-east-1',
    endpoint: env.KFS_S3_ENDPOINT!,
    credentials: {
      accessKeyId: env.KFS_S3_ACCESS_KEY_ID ?? 'minioadmin',
      secretAccessKey: env.KFS_S3_SECRET_ACCESS_KEY ?? 'minioadmin',
    },
  })
}
