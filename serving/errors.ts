/**
 * The one place where failures become HTTP statuses and WebSocket close codes (Hono's
 * HTTPException + errorHandler pattern). Handlers throw; the server calls `toHttpError` once.
 * Bodies are JSON `{ "error": { "code", "message", …context } }` and never carry feature values.
 */
import type { ErrorCode } from '../core/error-codes.ts'
import { FeatureStoreError } from '../core/errors.ts'
import { StoredRowUnreadable } from '../ports/online-store.ts'

/** A failure that only exists at the HTTP boundary (auth, limits, timeouts). */
export class HttpError extends Error {
  readonly status: number
  readonly code: string
  readonly context: Readonly<Record<string, string | number>> | undefined
  constructor(status: number, code: string, message: string, context?: Readonly<Record<string, string | number>>) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.code = code
    this.context = context
  }
}

/**
 * A request-time feature's `fn` threw, rejected, or returned a value its `outputType` does not
 * allow. It is the definition's fault, not the client's (the inputs were checked first), so it is
 * a 500: the reason and the original exception go to the log, never into the response body,
 * because an exception's text may carry anything the function could see.
 */
export class RequestFeatureFailure extends Error {
  readonly feature: string
  constructor(feature: string, reason: string, options?: { cause?: unknown }) {
    super(`request feature ${feature} ${reason}`, options)
    this.name = 'RequestFeatureFailure'
    this.feature = feature
  }
}

export function badRequest(message: string, context?: Readonly<Record<string, string | number>>): HttpError {
  return new HttpError(400, 'BAD_REQUEST', message, context)
}

export function notFound(message: string, context?: Readonly<Record<string, string | number>>): HttpError {
  return new HttpError(404, 'NOT_FOUND', message, context)
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  DEFINITION_INVALID: 400,
  NOT_FOUND: 404,
  SOURCE_UNAVAILABLE: 503,
  SINK_UNAVAILABLE: 503,
  RETRIES_EXHAUSTED: 503,
  BACKFILL_INCOMPLETE: 409,
}

export interface HttpErrorResponse {
  readonly status: number
  readonly body: { readonly error: { readonly code: string; readonly message: string; readonly [k: string]: unknown } }
}

export function toHttpError(err: unknown): HttpErrorResponse {
  if (err instanceof HttpError) {
    return { status: err.status, body: { error: { ...err.context, code: err.code, message: err.message } } }
  }
  if (err instanceof RequestFeatureFailure) {
    return {
      status: 500,
      body: { error: { code: 'REQUEST_FEATURE_FAILED', message: `request feature ${err.feature} failed`, feature: err.feature } },
    }
  }
  if (err instanceof StoredRowUnreadable) return storedRowUnreadable(err)
  if (err instanceof FeatureStoreError && STORE_READ_FOR_GOOD[err.code] !== undefined) return storeReadForGood(err)
  if (err instanceof FeatureStoreError) {
    const status = STATUS_BY_CODE[err.code] ?? 500
    // 5xx other than "unavailable" are bugs: do not leak internals beyond the code.
    const message = status === 500 ? 'internal error' : err.message
    return { status, body: { error: { ...(status === 500 ? {} : err.context), code: err.code, message } } }
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } }
}

/**
 * A read of the stores behind a request (the object store under the Iceberg REST catalog, the
 * registry) that failed for good: refused (access denied, a request the store will never answer)
 * or data that is not what kfs wrote. A 500 — asking again will not help, so not a 503 — whose
 * code says which, and whose message names the object read (its key, as a 503 does), never the
 * store's own text: that is in the log line the errorId names.
 */
const STORE_READ_FOR_GOOD: Partial<Record<ErrorCode, { readonly code: string; readonly why: string }>> = {
  SOURCE_REJECTED: { code: 'STORE_READ_REFUSED', why: 'the store refused the read' },
  SINK_REJECTED: { code: 'STORE_READ_REFUSED', why: 'the store refused the read' },
  DATA_CORRUPT: { code: 'DATA_CORRUPT', why: 'it is not what kfs wrote' },
}

function storeReadForGood(err: FeatureStoreError): HttpErrorResponse {
  const { code, why } = STORE_READ_FOR_GOOD[err.code]!
  const key = err.context?.key
  const what = typeof key === 'string' ? `the stored object ${key}` : 'stored data this request needs'
  return {
    status: 500,
    body: {
      error: {
        code,
        message: `${what} could not be read: ${why}; asking again will not help`,
        ...(typeof key === 'string' ? { key } : {}),
      },
    },
  }
}

/**
 * A stored row the online store cannot read for good (ports/online-store.ts): a 500 — not the
 * client's fault, and not a 503 (asking again will not help) — with its own code, so a caller
 * can tell it from a bug (INTERNAL) and an outage. The body names the view and feature where
 * they are known and says which of the two it is; the store's own text (a Redis reply, a script
 * hash) stays in the log line the errorId points to.
 */
function storedRowUnreadable(err: StoredRowUnreadable): HttpErrorResponse {
  const where =
    err.view === undefined
      ? 'a stored row'
      : `the stored row of view ${err.view}${err.feature === undefined ? '' : ` (feature ${err.feature})`}`
  const why = err.reason === 'corrupt' ? 'it is not a row kfs wrote' : 'the online store refused the read'
  return {
    status: 500,
    body: {
      error: {
        code: 'STORED_ROW_UNREADABLE',
        message: `${where} could not be read: ${why}; asking again will not help`,
        reason: err.reason,
        ...(err.view === undefined ? {} : { view: err.view }),
        ...(err.feature === undefined ? {} : { feature: err.feature }),
      },
    },
  }
}

/** WebSocket close code for a failure (4000 + HTTP status, the common private-range convention). */
export function toWsCloseCode(err: unknown): number {
  return 4000 + toHttpError(err).status
}

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? 'Unknown'}`
}
