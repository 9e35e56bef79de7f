/** The table of error codes and whether an operation failing with one may be retried. */
export const ERROR_CODES = {
  CONFIG_INVALID: { retriable: false },
  DEFINITION_INVALID: { retriable: false },
  DEFINITION_CHANGED: { retriable: false },
  SCHEMA_UNKNOWN: { retriable: false },
  SCHEMA_INCOMPATIBLE: { retriable: false },
  SOURCE_UNAVAILABLE: { retriable: true },
  /** The source refused the read (access denied, a request it will never answer): asking again will not help. */
  SOURCE_REJECTED: { retriable: false },
  SINK_UNAVAILABLE: { retriable: true },
  SINK_REJECTED: { retriable: false },
  /** The sink was closed by its owner: nothing can be written to it any more. */
  SINK_CLOSED: { retriable: false },
  COMMIT_CONFLICT: { retriable: true },
  COMMIT_FAILED: { retriable: true },
  CHECKPOINT_FAILED: { retriable: true },
  CHECKPOINT_CORRUPT: { retriable: false },
  /** A stored file kfs wrote (an offline table's data file) does not read as what it must be: reading it again will not help. */
  DATA_CORRUPT: { retriable: false },
  OBJECT_NOT_FOUND: { retriable: false },
  OBJECT_EXISTS: { retriable: false },
  BACKFILL_INCOMPLETE: { retriable: false },
  /** A command stopped by a signal (SIGINT, SIGTERM) before its work was done: running it again finishes it. */
  INTERRUPTED: { retriable: true },
  NOT_FOUND: { retriable: false },
  BAD_REQUEST: { retriable: false },
  INVARIANT_VIOLATED: { retriable: false },
  RETRIES_EXHAUSTED: { retriable: false },
} as const satisfies Record<string, { retriable: boolean }>

export type ErrorCode = keyof typeof ERROR_CODES

/**
 * The codes a failed CLI command reports besides ERROR_CODES, in the error object it prints on
 * stdout under `--json` (main/commands/router.ts): USAGE for a usage error (exit 2), INTERNAL for a
 * bug in kfs. An operating-system error keeps the system's own code (ENOENT, EACCES, ENOSPC…).
 */
export const CLI_ERROR_CODES = ['USAGE', 'INTERNAL'] as const

export type CliErrorCode = (typeof CLI_ERROR_CODES)[number]
