/**
 * The one gate every route passes before its handler: authentication, then body limits. The
 * router (serving/server/router.ts) applies it to each route by the route's `RoutePolicy`; no
 * handler checks a key or a size itself.
 *
 * Authentication: with `apiKeys` configured a route of access `api-key` needs
 * `Authorization: Bearer <key>` (`?access_token=<key>` too where the policy allows it — the
 * WebSocket upgrade, for clients that cannot set headers); with no keys configured every route is
 * open — meant for a trusted network only. Keys are compared by SHA-256 digest, so lookup time
 * does not depend on how much of a guess matches. A refusal is 401 UNAUTHORIZED.
 *
 * Body limits: a route that reads a body refuses one whose declared `Content-Length` is over
 * `maxBodyBytes` before reading it, and one that grows past it while streaming (chunked, or a
 * lying length) as soon as it does: 413 PAYLOAD_TOO_LARGE. Auth is judged first, so an
 * unauthenticated client learns nothing about sizes.
 *
 * Hot path: the gate reads at most two headers and allocates nothing but the presented key's
 * digest (none when no keys are configured); a body route's reader is one small object.
 */
import { createHash } from 'node:crypto'
import { HttpError } from '../errors.ts'

/** What the gate reads of a request (uWS's `HttpRequest` fits it). Read before any await. */
export interface RequestHead {
  /** The header's value, '' when absent; the name in lower case. */
  getHeader(lowerCaseName: string): string
  getQuery(): string | undefined
}

export interface RoutePolicy {
  /** `api-key`: needs a configured key (when any is configured); `public`: never asks. */
  readonly access: 'public' | 'api-key'
  /** Accept the key as `?access_token=` when no Bearer header is sent (WebSocket upgrade only). */
  readonly queryToken?: boolean
  /** The route reads a body, bounded by `maxBodyBytes`. */
  readonly body?: boolean
}

export interface RequestGuard {
  /** The refusal for this request on a route of `policy` (401, then 413 for a declared length), or undefined to let it through. */
  check(policy: RoutePolicy, head: RequestHead): HttpError | undefined
  /** A body reader for one request of a `body` route; it refuses past `maxBodyBytes`. */
  body(): BoundedBody
  readonly maxBodyBytes: number
}

export function createRequestGuard(options: { readonly apiKeys?: readonly string[]; readonly maxBodyBytes: number }): RequestGuard {
  const { maxBodyBytes } = options
  const keyDigests = new Set((options.apiKeys ?? []).map(digest))
  const open = keyDigests.size === 0

  const knownKey = (policy: RoutePolicy, head: RequestHead): boolean => {
    const authorization = head.getHeader('authorization')
    const presented = authorization.startsWith('Bearer ')
      ? authorization.slice(7)
      : policy.queryToken === true
        ? (new URLSearchParams(head.getQuery() ?? '').get('access_token') ?? '')
        : ''
    return presented.length > 0 && keyDigests.has(digest(presented))
  }

  return {
    maxBodyBytes,
    check(policy, head) {
      if (policy.access === 'api-key' && !open && !knownKey(policy, head)) return UNAUTHORIZED
      if (policy.body === true && Number(head.getHeader('content-length') || '0') > maxBodyBytes) return tooLarge(maxBodyBytes)
      return undefined
    },
    body: () => new BoundedBody(maxBodyBytes),
  }
}

/**
 * A request body as it streams in, refused once it passes the limit. Chunks are copied (the
 * server may reuse their memory after its callback); a body that arrives in one chunk — the usual
 * case — is not copied a second time to join it.
 */
export class BoundedBody {
  readonly #limit: number
  #size = 0
  #first: Buffer | undefined
  #rest: Buffer[] | undefined

  constructor(limit: number) {
    this.#limit = limit
  }

  /** Adds a chunk; the 413 to answer instead when the body is now over the limit. */
  append(chunk: ArrayBuffer): HttpError | undefined {
    this.#size += chunk.byteLength
    if (this.#size > this.#limit) return tooLarge(this.#limit)
    const copy = Buffer.from(new Uint8Array(chunk))
    if (this.#first === undefined) this.#first = copy
    else (this.#rest ??= [this.#first]).push(copy)
    return undefined
  }

  /** Everything appended so far, as one buffer. */
  bytes(): Buffer {
    if (this.#rest !== undefined) return Buffer.concat(this.#rest)
    return this.#first ?? Buffer.alloc(0)
  }
}

const UNAUTHORIZED = new HttpError(401, 'UNAUTHORIZED', 'missing or unknown API key (Authorization: Bearer <key>)')

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `body larger than ${limit} bytes`)
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}
