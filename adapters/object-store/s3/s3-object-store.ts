/**
 * ObjectStore on the S3 API (AWS S3, MinIO). The only module allowed to import @aws-sdk/*.
 *
 * Guarantees:
 * - `putIfAbsent` is a PutObject with `If-None-Match: *`: the store itself decides the race, so of
 *   N concurrent creators exactly one wins. 412 Precondition Failed = the key exists → false.
 *   409 ConditionalRequestConflict = another conditional write to the key is in flight → wait and
 *   ask again (it resolves to 412 once that write lands, or succeeds if it failed).
 * - Transient failures (network, 5xx, throttling) are retried by the SDK's standard retry strategy
 *   (`maxAttempts`); what still fails surfaces as a retriable SinkWriteError (SINK_UNAVAILABLE).
 * - Path-style addressing, so any endpoint (MinIO on 127.0.0.1) works without DNS tricks.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import type { ListedObject, ObjectStore } from '../../../ports/object-store.ts'
import { SinkWriteError } from '../../../core/errors.ts'
import { assertValidKey } from '../../../ports/object-store-keys.ts'
import { compareKeys } from '../memory/memory-object-store.ts'

export interface S3ObjectStoreOptions {
  readonly bucket: string
  /** Key prefix inside the bucket (no leading or trailing slash), e.g. `warehouse`. */
  readonly prefix?: string
  readonly region: string
  /** e.g. `http://127.0.0.1:19000` for MinIO; omit for AWS. */
  readonly endpoint?: string
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string }
  /** Attempts per request, including the first (SDK standard retry mode). */
  readonly maxAttempts?: number
  /** How many times a 409 ConditionalRequestConflict is asked again before reporting a lost race. */
  readonly conflictRetries?: number
  readonly sleep?: (ms: number) => Promise<void>
}

function statusOf(err: unknown): number | undefined {
  if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode
  if (typeof err === 'object' && err !== null && '$metadata' in err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  }
  return undefined
}

function nameOf(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined
}

export class S3ObjectStore implements ObjectStore {
  readonly rootUri: string
  readonly #client: S3Client
  readonly #bucket: string
  readonly #prefix: string
  readonly #conflictRetries: number
  readonly #sleep: (ms: number) => Promise<void>

  constructor(options: S3ObjectStoreOptions) {
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '')
    this.#bucket = options.bucket
    this.#prefix = prefix === '' ? '' : `${prefix}/`
    this.rootUri = prefix === '' ? `s3://${options.bucket}` : `s3://${options.bucket}/${prefix}`
    this.#conflictRetries = options.conflictRetries ?? 20
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)))
    this.#client = new S3Client({
      region: options.region,
      forcePathStyle: true,
      retryMode: 'standard',
      maxAttempts: options.maxAttempts ?? 5,
      // Checksums only where S3 requires them: S3-compatible servers differ in the optional ones.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
    })
  }

  #keyOf(key: string): string {
    assertValidKey(key)
    return this.#prefix + key
  }

  #wrap(err: unknown, what: string): SinkWriteError {
    const status = statusOf(err)
    const code = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429 ? 'SINK_REJECTED' : 'SINK_UNAVAILABLE'
    return new SinkWriteError(code, `s3 ${what} failed`, { cause: err, context: { bucket: this.#bucket, status } })
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#keyOf(key) }))
      if (out.Body === undefined) return new Uint8Array(0)
      return await out.Body.transformToByteArray()
    } catch (err: unknown) {
      if (nameOf(err) === 'NoSuchKey' || statusOf(err) === 404) return undefined
      throw this.#wrap(err, 'get')
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    try {
      await this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: this.#keyOf(key), Body: body }))
    } catch (err: unknown) {
      throw this.#wrap(err, 'put')
    }
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const fullKey = this.#keyOf(key)
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: fullKey, Body: body, IfNoneMatch: '*' }))
        return true
      } catch (err: unknown) {
        const status = statusOf(err)
        if (status === 412) return false
        if (status === 409 && attempt < this.#conflictRetries) {
          await this.#sleep(Math.min(1_000, 20 * 2 ** attempt))
          continue
        }
        // Still conflicting after many waits: report a lost race; callers reload and retry.
        if (status === 409) return false
        throw this.#wrap(err, 'conditional put')
      }
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#keyOf(key) }))
    } catch (err: unknown) {
      if (statusOf(err) === 404) return
      throw this.#wrap(err, 'delete')
    }
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.#listObjects(prefix)).map((o) => o.key)
  }

  /** ListObjectsV2 answers each key with its LastModified and Size: the same requests as `list`. */
  listWithTimes(prefix: string): Promise<ListedObject[]> {
    return this.#listObjects(prefix)
  }

  async #listObjects(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = []
    let token: string | undefined
    try {
      do {
        const page = await this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix + prefix, ContinuationToken: token }),
        )
        for (const obj of page.Contents ?? []) {
          if (obj.Key === undefined) continue
          // A server that leaves LastModified out: the object is never old enough for an age rule to take it.
          const lastModifiedMs = obj.LastModified?.getTime() ?? Number.POSITIVE_INFINITY
          out.push({ key: obj.Key.slice(this.#prefix.length), lastModifiedMs, size: obj.Size ?? 0 })
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined
      } while (token !== undefined)
    } catch (err: unknown) {
      throw this.#wrap(err, 'list')
    }
    return out.sort((a, b) => compareKeys(a.key, b.key))
  }

  uriOf(key: string): string {
    return key === '' ? this.rootUri : `${this.rootUri}/${key}`
  }

  /** Releases the HTTP agent's sockets. */
  close(): void {
    this.#client.destroy()
  }
}
