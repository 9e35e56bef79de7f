/**
 * One error tree for kfs. Retry behaviour is decided by `code` through the table in
 * `error-codes.ts`, never by matching message text.
 */
import { ERROR_CODES, type ErrorCode } from './error-codes.ts'

export interface ErrorContext {
  readonly [key: string]: string | number | boolean | undefined
}

export class FeatureStoreError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly context: ErrorContext | undefined

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retriable = ERROR_CODES[code].retriable
    this.context = options.context
  }
}

export class SourceError extends FeatureStoreError {}
export class SinkWriteError extends FeatureStoreError {}
export class CommitError extends FeatureStoreError {}
export class CheckpointError extends FeatureStoreError {}
export class SchemaError extends FeatureStoreError {}
export class ConfigError extends FeatureStoreError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super('CONFIG_INVALID', message, options)
  }
}
export class DefinitionError extends FeatureStoreError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super('DEFINITION_INVALID', message, options)
  }
}
export class InvariantViolation extends FeatureStoreError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super('INVARIANT_VIOLATED', message, options)
  }
}
export class RetriesExhaustedError extends FeatureStoreError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super('RETRIES_EXHAUSTED', message, options)
  }
}

/**
 * Retries given up at a deadline (core/deadline.ts: the stop's, engine/stop-deadline.ts) with
 * attempts left. Never retried: an outer retry loop nested over the one that gave up is past the
 * same deadline, and ends with this error as it is.
 */
export class DeadlinePassedError extends FeatureStoreError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super('RETRIES_EXHAUSTED', message, options)
  }
}

/**
 * A CSV text that is not RFC 4180 (core/csv-parse.ts). Not a FeatureStoreError: the reader that
 * parsed it says which file, and turns it into its own error; `line` is the 1-based line at fault.
 */
export class CsvSyntaxError extends Error {
  readonly line: number

  constructor(line: number, problem: string) {
    super(`line ${line}: ${problem}`)
    this.name = 'CsvSyntaxError'
    this.line = line
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof FeatureStoreError && err.retriable
}

/**
 * An error's story on one line: its message and its causes' (a retry's "gave up after 10
 * attempts" says nothing without the error it gave up on).
 */
export function reasonOf(err: unknown): string {
  const parts: string[] = []
  let at: unknown = err
  for (let depth = 0; depth < 4 && at !== undefined; depth++) {
    const text = at instanceof Error ? at.message : String(at)
    // A wrapper that already quotes its cause (a retry's, a stop's) is not repeated.
    if (text !== '' && !parts.some((part) => part.includes(text))) parts.push(text)
    at = at instanceof Error ? at.cause : undefined
  }
  return parts.join(': ').replace(/\s*\n\s*/g, ' ')
}
