/**
 * The object store's part of the configuration (main/config.ts): S3 when KFS_S3_BUCKET is set,
 * else the local directory under KFS_DATA_DIR. Every other KFS_S3_* variable belongs to S3, so one
 * set without a bucket is a mistake said, not a setting silently dropped.
 */
import { join } from 'node:path'
import { ConfigError } from '../core/errors.ts'
import type { ConfigSource as Source } from './config-source.ts'

export interface S3Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
}

export type ObjectStoreConfig =
  | {
      readonly kind: 's3'
      /** Absent means AWS's own endpoint for the region. */
      readonly endpoint: string | undefined
      readonly bucket: string
      readonly region: string
      readonly prefix: string
      readonly forcePathStyle: boolean
      /** Absent means the SDK's default credential chain. */
      readonly credentials: S3Credentials | undefined
    }
  | { readonly kind: 'local'; readonly dir: string }

const S3_ONLY_VARIABLES = [
  'KFS_S3_ENDPOINT',
  'KFS_S3_REGION',
  'KFS_S3_PREFIX',
  'KFS_S3_FORCE_PATH_STYLE',
  'KFS_S3_ACCESS_KEY_ID',
  'KFS_S3_SECRET_ACCESS_KEY',
] as const

/** AWS's regions (us-east-1) and the names S3-compatible servers such as MinIO take: no spaces, dots or slashes, which would land in a host name or a signature. */
const REGION = /^[A-Za-z0-9_-]{1,64}$/

export function objectStoreConfig(source: Source, dataDir: string): ObjectStoreConfig {
  const endpoint = source.url('KFS_S3_ENDPOINT', ['http:', 'https:'])
  const bucket = source.string('KFS_S3_BUCKET')
  const accessKeyId = source.string('KFS_S3_ACCESS_KEY_ID')
  const secretAccessKey = source.string('KFS_S3_SECRET_ACCESS_KEY')
  if (bucket === undefined) {
    for (const name of S3_ONLY_VARIABLES) {
      if (source.has(name)) {
        throw new ConfigError(
          `KFS_S3_BUCKET is not set but ${name} is: set KFS_S3_BUCKET to use S3, or unset ${name} to use the local object store under KFS_DATA_DIR`,
          { context: { variable: 'KFS_S3_BUCKET' } },
        )
      }
    }
    return { kind: 'local', dir: join(dataDir, 'objects') }
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw source.invalid('KFS_S3_BUCKET', bucket, 'an S3 bucket name: 3-63 characters of a-z, 0-9, "." and "-"')
  }
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    const missing = accessKeyId === undefined ? 'KFS_S3_ACCESS_KEY_ID' : 'KFS_S3_SECRET_ACCESS_KEY'
    throw new ConfigError(
      `${missing} is not set: set KFS_S3_ACCESS_KEY_ID and KFS_S3_SECRET_ACCESS_KEY together, or neither to use the AWS default credential chain`,
      { context: { variable: missing } },
    )
  }
  const prefix = source.string('KFS_S3_PREFIX') ?? ''
  if (prefix.startsWith('/')) {
    throw source.invalid('KFS_S3_PREFIX', prefix, 'a key prefix without a leading "/", e.g. kfs/prod')
  }
  return {
    kind: 's3',
    endpoint,
    bucket,
    region:
      source.matching('KFS_S3_REGION', REGION, 'an S3 region name such as us-east-1 (letters, digits, "-" and "_")') ??
      'us-east-1',
    prefix,
    // Self-hosted S3 servers (MinIO) rarely have wildcard DNS for virtual-hosted buckets.
    forcePathStyle: source.boolean('KFS_S3_FORCE_PATH_STYLE') ?? endpoint !== undefined,
    credentials: accessKeyId === undefined || secretAccessKey === undefined ? undefined : { accessKeyId, secretAccessKey },
  }
}
