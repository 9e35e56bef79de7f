/**
 * How kfs reads `@platformatic/kafka` errors. Every library error carries `canRetry` (protocol
 * errors take it from Kafka's error table, network errors are retriable); a request timeout says
 * `canRetry: false` but is a network error (code PLT_KFK_NETWORK), transient like the others. A
 * `MultipleErrors` (the library's retries ran out, or several brokers failed) is retriable when
 * any of its errors is. Anything else (a plain Error, a user error of the library) is not.
 */
import { findErrorBy, MultipleErrors, type GenericError } from '@platformatic/kafka'
import { SourceError } from '../../../core/errors.ts'

export function isRetriable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false
  if (MultipleErrors.isMultipleErrors(err as Error)) return (err as MultipleErrors).errors.some((e: unknown) => isRetriable(e))
  const { canRetry, code } = err as Partial<GenericError>
  return canRetry === true || code === 'PLT_KFK_NETWORK'
}

/** The library's message, with the Kafka error ids of an aggregate ("Producing messages failed.: NOT_LEADER_OR_FOLLOWER"). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const inner = (err as { errors?: unknown }).errors
  if (!Array.isArray(inner) || inner.length === 0) return err.message
  const reasons = inner.map((e: unknown) => (e instanceof Error ? ((e as { apiId?: string }).apiId ?? e.message) : String(e)))
  return `${err.message}: ${[...new Set(reasons)].join('; ')}`
}

/** Wraps a library failure at the port boundary: retriable unless the library says otherwise. */
export function sourceError(operation: string, err: unknown, context: Record<string, unknown> = {}): SourceError {
  if (err instanceof SourceError) return err
  return new SourceError(
    isRetriable(err) ? 'SOURCE_UNAVAILABLE' : 'BAD_REQUEST',
    `kafka ${operation} failed: ${describeError(err)}`,
    { cause: err, context: { operation, ...context } },
  )
}

/**
 * A metadata request for a topic Kafka does not know: the library retries UNKNOWN_TOPIC_OR_PARTITION
 * and then replaces it with a `UserError` whose message alone names the cause.
 */
export function isUnknownTopic(err: unknown): boolean {
  if (findErrorBy(err as Error, 'apiId', 'UNKNOWN_TOPIC_OR_PARTITION')) return true
  return (err as Partial<GenericError>).code === 'PLT_KFK_USER' && /^Unknown topic /.test((err as Error).message)
}
