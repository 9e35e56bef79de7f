/** Shared by the Redis integration tests: the stack's Redis URL, or a clear failure. */
import { randomBytes } from 'node:crypto'

export function redisUrl(): string {
  const url = process.env.KFS_REDIS_URL
  if (!url) throw new Error('KFS_REDIS_URL is not set: run `npm run stack:up` and `. .kfs/stack/env.sh` first')
  return url
}

/** A key prefix no other test run uses, so tests never see each other's rows. */
export function uniquePrefix(): string {
  return `kfs-test-${randomBytes(6).toString('hex')}`
}
