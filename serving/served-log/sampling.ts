/**
 * Deterministic sampling of the served-feature log: a request is logged iff the first 32 bits of
 * SHA-256(request id), read as a fraction of 2^32, are below the rate. The same id always gets
 * the same answer, in every process and on every rerun, so a replayed request stream logs the
 * same requests; ids are spread uniformly whatever their format (UUIDs, counters, client ids).
 */
import { createHash } from 'node:crypto'

/** The request id's position in [0, 1). */
export function sampleFraction(requestId: string): number {
  return createHash('sha256').update(requestId).digest().readUInt32BE(0) / 0x1_0000_0000
}

export function isSampled(requestId: string, rate: number): boolean {
  if (rate <= 0) return false
  if (rate >= 1) return true
  return sampleFraction(requestId) < rate
}

/** Ids a client may pass in `x-request-id`; anything else is replaced by a generated one. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export function isValidRequestId(id: string): boolean {
  return REQUEST_ID.test(id)
}
