/**
 * Typed command-line options, checked in one place. Each command declares what every option's
 * value IS (a list of names, a duration, a file to read, a file to write…); the router parses the
 * argv with node's `util.parseArgs`, then turns every given value into its typed form here before
 * the command runs. A bad value is a UsageError (exit 2) naming the option and what it expected,
 * so no command can start work, half-finish it, or fail later with a stack trace because of one.
 *
 * Only what can be checked without the stores lives here. Names that must exist in the features
 * module or registry (views, services, groups, snapshots) are checked by the command against them,
 * also as UsageErrors.
 */
import { statSync, type Stats } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parseDurationMs } from '../../core/duration.ts'
import { isoTimeMs, isoTimeProblem } from '../../core/iso-time.ts'
import { definitionModuleProblem } from '../../registry/load-definitions.ts'
import { UsageError } from './usage-error.ts'

export type ValueKind =
  /** Any text, not empty. */
  | 'text'
  /** One name (view, service, group, topic, view@2): letters, digits and . _ - @ : */
  | 'name'
  /** Comma-separated names, at least one, none empty. */
  | 'names'
  /** As 'names', in the order given and with any repeat kept: an ordered list whose command refuses a repeat (feature references). */
  | 'ordered-names'
  /** A whole number ≥ 1. */
  | 'count'
  /** A whole number ≥ 0. */
  | 'whole'
  /** A TCP port, 0..65535 (0: any free port). */
  | 'port'
  /** '500ms', '30s', '5m', '1h', '7d', '2w'. */
  | 'duration'
  /** An ISO-8601 date or time (without a zone: UTC), of a day the calendar has. */
  | 'iso-time'
  /** An ISO-8601 date or time as 'iso-time', epoch ms, or a duration before now ('1h'). */
  | 'time'
  /** A fraction 0..1. */
  | 'fraction'
  /** A percentage 0..100, '%' optional. */
  | 'percent'
  /** An Iceberg snapshot id (digits). */
  | 'snapshot-id'
  /** A training-set id: 16 hex digits. */
  | 'hex-id'
  /** A file that must exist (read by the command). */
  | 'input-file'
  /** A definitions module that exists: a .ts/.js file, or a folder with index.ts. */
  | 'module-path'
  /** A file the command writes: its folder must exist, and it is a regular file or nothing yet. */
  | 'output-file'

export type OptionSpec =
  | { readonly type: 'boolean'; readonly short?: string }
  | { readonly type: 'string'; readonly kind: ValueKind; readonly short?: string }

export type OptionSpecs = Readonly<Record<string, OptionSpec>>

/** A value after checking: paths are absolute, durations and times in ms, lists split. */
export type OptionValue = string | number | boolean | readonly string[]

export interface ValueContext {
  readonly cwd: string
  readonly nowMs: number
}

const NAME = /^[A-Za-z0-9_.@:-]{1,249}$/
/**
 * `.` and `..` are path steps, not names: a group, view or topic name is a segment of the store's
 * keys (`checkpoints/<group>/…`), so `kfs run --group ..` claimed every topic and then failed at its
 * first checkpoint ("invalid object key"), leaving the store's topics claimed by a group that can
 * never checkpoint. Kafka refuses them as topic names for the same reason.
 */
const PATH_STEPS: ReadonlySet<string> = new Set(['.', '..'])
const PATH_STEP_WHY = '. and .. are path steps, not names'

function isName(raw: string): boolean {
  return NAME.test(raw) && !PATH_STEPS.has(raw)
}

const EXPECTED: Record<ValueKind, string> = {
  text: 'a value',
  name: 'a name (letters, digits, . _ - @ :)',
  names: 'a comma-separated list of names, e.g. a,b',
  'ordered-names': 'a comma-separated list of names, e.g. a,b',
  count: 'a whole number of at least 1',
  whole: 'a whole number of at least 0',
  port: 'a port number from 0 to 65535',
  duration: "a duration such as '500ms', '30s', '5m', '1h', '7d'",
  'iso-time': 'an ISO-8601 time such as 2026-11-01T00:00:00Z',
  time: 'an ISO-8601 time, epoch milliseconds or a duration ago such as 1h',
  fraction: 'a fraction from 0 to 1',
  percent: 'a percentage from 0 to 100',
  'snapshot-id': 'a snapshot id (digits)',
  'hex-id': 'an id of 16 hex digits',
  'input-file': 'a file that exists',
  'module-path': 'a definitions module (.ts file or folder with index.ts)',
  'output-file': 'a file path in a folder that exists',
}

/** Turns one given value into its typed form, or throws a UsageError naming the option. */
export function parseOptionValue(name: string, kind: ValueKind, raw: string, ctx: ValueContext): OptionValue {
  const bad = (why?: string): never => {
    throw new UsageError(
      `--${name}: ${raw === '' ? 'empty value' : `'${raw}'`} is not ${EXPECTED[kind]}${why === undefined ? '' : ` (${why})`}`,
    )
  }
  if (raw.trim() === '') bad()
  switch (kind) {
    case 'text':
      return raw
    case 'name':
      return isName(raw) ? raw : bad(PATH_STEPS.has(raw) ? PATH_STEP_WHY : undefined)
    case 'names':
    case 'ordered-names': {
      const names = raw.split(',').map((s) => s.trim())
      if (names.some((n) => n === '')) bad('an empty name')
      const wrong = names.find((n) => !isName(n))
      if (wrong !== undefined) bad(`'${wrong}'${PATH_STEPS.has(wrong) ? `: ${PATH_STEP_WHY}` : ''}`)
      return kind === 'names' ? [...new Set(names)] : names
    }
    case 'count':
    case 'whole':
    case 'port': {
      const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
      const ok = Number.isSafeInteger(n) && (kind === 'count' ? n >= 1 : kind === 'port' ? n <= 65_535 : true)
      return ok ? n : bad()
    }
    case 'duration':
      try {
        return parseDurationMs(raw)
      } catch {
        return bad()
      }
    case 'iso-time':
      return isoTimeMs(raw) ?? bad(isoTimeProblem(raw))
    case 'time': {
      if (/^\d+$/.test(raw)) return Number(raw) <= MAX_TIME_MS ? Number(raw) : bad('after the last time a date can hold')
      if (/^\d+(ms|s|m|h|d|w)$/.test(raw)) {
        try {
          return ctx.nowMs - parseDurationMs(raw)
        } catch {
          return bad('longer than kfs can count in milliseconds')
        }
      }
      return isoTimeMs(raw) ?? bad(isoTimeProblem(raw))
    }
    case 'fraction':
    case 'percent': {
      const text = kind === 'percent' ? raw.replace(/%$/, '') : raw
      const n = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN
      return n >= 0 && n <= (kind === 'percent' ? 100 : 1) ? n : bad()
    }
    case 'snapshot-id':
      return /^\d{1,19}$/.test(raw) ? raw : bad()
    case 'hex-id':
      return /^[0-9a-f]{16}$/.test(raw) ? raw : bad()
    case 'input-file':
    case 'module-path': {
      const path = isAbsolute(raw) ? raw : resolve(ctx.cwd, raw)
      const stats = statOrUndefined(path)
      if (stats === undefined) throw new UsageError(`--${name}: ${path} does not exist`)
      if (kind === 'input-file' && !stats.isFile()) throw new UsageError(`--${name}: ${path} is not a file`)
      const problem = kind === 'module-path' ? definitionModuleProblem(path) : undefined
      if (problem !== undefined) throw new UsageError(`--${name}: ${problem}`)
      return path
    }
    case 'output-file': {
      const path = isAbsolute(raw) ? raw : resolve(ctx.cwd, raw)
      const existing = statOrUndefined(path)
      if (existing?.isDirectory() === true) throw new UsageError(`--${name}: ${path} is a folder; name the file to write`)
      // The output is written beside and renamed over its path: over /dev/null, a pipe or a socket
      // that would replace the device or the pipe itself (as root, /dev/null for everyone).
      if (existing !== undefined && !existing.isFile())
        throw new UsageError(`--${name}: ${path} is not a regular file (a device, pipe or socket); name a file to write`)
      const folder = statOrUndefined(dirname(path))
      if (folder === undefined) throw new UsageError(`--${name}: the folder ${dirname(path)} does not exist`)
      if (!folder.isDirectory()) throw new UsageError(`--${name}: ${dirname(path)} is not a folder`)
      return path
    }
  }
}

/** The last time a Date holds (+275760-09-13): epoch milliseconds past it name no time. */
const MAX_TIME_MS = 8.64e15

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    // Missing, or unreadable (EACCES): either way the path cannot be used, and the caller says so.
    return undefined
  }
}
