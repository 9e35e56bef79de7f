/**
 * Every `code` an error body of the feature server can carry: kfs's own codes (core/error-codes.ts,
 * which `toHttpError` passes through) and the codes that exist only at the HTTP and WebSocket
 * boundary (serving/errors.ts and the server's refusals). test/unit/serving/openapi.test.ts reads
 * serving/ for every code literal and fails when one is missing here, so the OpenAPI enum cannot
 * fall behind the server.
 */
import { ERROR_CODES } from '../../core/error-codes.ts'

export const HTTP_ERROR_CODES = [
  'UNAUTHORIZED',
  'PAYLOAD_TOO_LARGE',
  'HEADERS_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'BATCH_TOO_LARGE',
  'METHOD_NOT_ALLOWED',
  'UPGRADE_REQUIRED',
  'TIMEOUT',
  'SHUTTING_DOWN',
  'REQUEST_FEATURE_FAILED',
  'STORED_ROW_UNREADABLE',
  'STORE_READ_REFUSED',
  'INTERNAL',
  // WebSocket messages only (`{"type":"error"}` on an open socket).
  'RATE_LIMITED',
  'SLOW_DOWN',
  'TOO_MANY_SUBSCRIPTIONS',
  'SUBSCRIPTIONS_EXHAUSTED',
] as const

/** kfs's codes first, then the HTTP ones, without duplicates. */
export const SERVING_ERROR_CODES: readonly string[] = [...new Set([...Object.keys(ERROR_CODES), ...HTTP_ERROR_CODES])]
