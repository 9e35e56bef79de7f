/** S3 settings from the stack script's env (`. .kfs/stack/env.sh`); a missing one fails loudly. */
import { randomUUID } from 'node:crypto'
import { S3ObjectStore } from '../../../adapters/object-store/s3/s3-object-store.ts'

export interface S3Env {
  readonly endpoint: string
  readonly bucket: string
  readonly region: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
}

export function s3EnvOrUndefined(): S3Env | undefined {
  const e = process.env
  if (e.KFS_S3_ENDPOINT === undefined || e.KFS_S3_ENDPOINT === '') return undefined
  return requireS3Env()
}

export function requireS3Env(): S3Env {
  const e = process.env
  const missing = ['KFS_S3_ENDPOINT', 'KFS_S3_BUCKET', 'KFS_S3_REGION', 'KFS_S3_ACCESS_KEY_ID', 'KFS_S3_SECRET_ACCESS_KEY'].filter(
    (k) => e[k] === undefined || e[k] === '',
  )
  if (missing.length > 0) {
    throw new Error(`S3 integration tests need ${missing.join(', ')}: run \`npm run stack:up\` then \`. .kfs/stack/env.sh\``)
  }
  return {
    endpoint: e.KFS_S3_ENDPOINT!,
    bucket: e.KFS_S3_BUCKET!,
    region: e.KFS_S3_REGION!,
    accessKeyId: e.KFS_S3_ACCESS_KEY_ID!,
    secretAccessKey: e.KFS_S3_SECRET_ACCESS_KEY!,
  }
}

/** A store under a fresh random prefix, so runs never see each other's objects. */
export function makeS3Store(env: S3Env, label: string): S3ObjectStore {
  return new S3ObjectStore({
    endpoint: env.endpoint,
    bucket: env.bucket,
    region: env.region,
    prefix: `test/${label}/${randomUUID()}`,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
  })
}
