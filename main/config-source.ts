/**
 * Reads one configuration variable at a time, environment first, then the config file, and
 * phrases every complaint the same way: the variable, the value (secrets hidden), where it came
 * from, what was expected and how to fix it. Used by config.ts only.
 */
import { isIP } from 'node:net'
import { MAX_TIMER_MS, parseDurationMs } from '../core/duration.ts'
import { ConfigError } from '../core/errors.ts'
import type { ConfigVariable as FileVariable } from './config-variables.ts'

export type Env = Readonly<Record<string, string | undefined>>
export type FileValues = ReadonlyMap<string, string>

/**
 * KFS_DEBUG is read from the environment alone, by the router, even when the rest of the
 * configuration is broken (to show that error's stack); it is checked as the others are.
 */
type ConfigVariable = FileVariable | 'KFS_DEBUG'

/** A host name of letters, digits and "-" in dot-separated labels (RFC 1123), as listen() and DNS take. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/

const SECRET_VARIABLES: ReadonlySet<ConfigVariable> = new Set(['KFS_S3_SECRET_ACCESS_KEY'])

export class ConfigSource {
  readonly #env: Env
  readonly #file: FileValues

  constructor(env: Env, file: FileValues) {
    this.#env = env
    this.#file = file
  }

  has(name: ConfigVariable): boolean {
    return this.#raw(name) !== undefined
  }

  #raw(name: ConfigVariable): { value: string; from: string } | undefined {
    const fromEnv = this.#env[name]
    // An empty variable counts as unset, as shells make `FOO=` easy to leave behind.
    if (fromEnv !== undefined && fromEnv.trim() !== '') return { value: fromEnv.trim(), from: 'environment' }
    const fromFile = this.#file.get(name)
    if (fromFile !== undefined && fromFile.trim() !== '') return { value: fromFile.trim(), from: 'config file' }
    return undefined
  }

  invalid(name: ConfigVariable, value: string, expected: string): ConfigError {
    const shown = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(value)
    const from = this.#raw(name)?.from ?? 'environment'
    return new ConfigError(
      `${name}=${shown} (from ${from}) is invalid: expected ${expected}; fix it or unset ${name} to use the default`,
      { context: { variable: name } },
    )
  }

  string(name: ConfigVariable): string | undefined {
    return this.#raw(name)?.value
  }

  list(name: ConfigVariable, check: (item: string) => boolean, expected: string): readonly string[] | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const items = raw.split(',').map((s) => s.trim())
    if (items.some((item) => !check(item))) throw this.invalid(name, raw, expected)
    return items
  }

  url(name: ConfigVariable, protocols: readonly string[]): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    // Each refusal says what is wrong: "expected a URL starting with redis://" for
    // redis://host:0, which starts with redis://, sent people looking for the wrong mistake.
    const expected = `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`
    let parsed: URL
    try {
      parsed = new URL(raw)
    } catch {
      throw this.invalid(name, raw, `${expected}; this one does not parse as a URL: check its host, and its port (1 to 65535)`)
    }
    if (!protocols.includes(parsed.protocol))
      throw this.invalid(name, raw, `${expected}; this one starts with ${parsed.protocol}`)
    if (parsed.hostname === '') throw this.invalid(name, raw, `${expected} that names a host, e.g. ${protocols[0]}//127.0.0.1`)
    // Port 0 is "any free port" to listen on, never a server to reach.
    if (parsed.port === '0')
      throw this.invalid(
        name,
        raw,
        `${expected} with a port from 1 to 65535: port 0 is "any free port" to listen on, never a server to reach`,
      )
    return raw.replace(/\/+$/, '')
  }

  /** A value the pattern matches whole, or a ConfigError saying what was expected. */
  matching(name: ConfigVariable, pattern: RegExp, expected: string): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    if (!pattern.test(raw)) throw this.invalid(name, raw, expected)
    return raw
  }

  /** An address to listen on: an IP address (127.0.0.1, ::1, 0.0.0.0) or a host name (localhost). */
  host(name: ConfigVariable): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    if (isIP(raw) === 0 && !HOST_NAME.test(raw))
      throw this.invalid(name, raw, 'an IP address or host name to listen on, e.g. 127.0.0.1, 0.0.0.0, ::1 or localhost')
    return raw
  }

  port(name: ConfigVariable): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
    if (!(n >= 1 && n <= 65_535)) throw this.invalid(name, raw, 'a TCP port number from 1 to 65535')
    return n
  }

  positiveInt(name: ConfigVariable): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
    if (!Number.isSafeInteger(n) || n < 1) throw this.invalid(name, raw, 'a whole number of at least 1')
    return n
  }

  durationMs(name: ConfigVariable): number | undefined {
    const ms = this.#positiveMs(name)
    // Every duration variable but the ages below is a timeout or an interval: armed as a Node timer
    // (ioredis's command timeout, the Kafka clients' heartbeat), which turns a delay past
    // MAX_TIMER_MS into 1 ms, or sent to Kafka as a 32-bit count of ms (session and rebalance
    // timeouts). None has a use that long (a checkpoint interval of weeks would hold every row back).
    if (ms !== undefined && ms > MAX_TIMER_MS) {
      const why = "Node's timers cannot wait longer, and fire at once instead"
      throw this.invalid(name, this.string(name)!, `at most ${MAX_TIMER_MS} ms (about 24.8 days): ${why}`)
    }
    return ms
  }

  /**
   * An age compared with timestamps, never armed as a timer (how long superseded snapshots are
   * kept, how old an unnamed file must be): a month or a year is a use, so only whole ms bound it.
   */
  ageMs(name: ConfigVariable): number | undefined {
    return this.#positiveMs(name)
  }

  #positiveMs(name: ConfigVariable): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    let ms: number
    try {
      ms = /^\d+$/.test(raw) ? Number(raw) : parseDurationMs(raw, name)
    } catch {
      ms = Number.NaN
    }
    if (!Number.isSafeInteger(ms) || ms < 1) {
      throw this.invalid(name, raw, "a positive number of milliseconds (e.g. 10000) or a duration such as '10s'")
    }
    return ms
  }

  fraction(name: ConfigVariable): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const n = /^(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : Number.NaN
    if (!(n >= 0 && n <= 1)) throw this.invalid(name, raw, 'a fraction from 0 to 1, e.g. 0.01 for 1 %')
    return n
  }

  boolean(name: ConfigVariable): boolean | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const lower = raw.toLowerCase()
    if (lower === 'true' || lower === '1' || lower === 'yes') return true
    if (lower === 'false' || lower === '0' || lower === 'no') return false
    throw this.invalid(name, raw, 'true or false')
  }

  oneOf<T extends string>(name: ConfigVariable, allowed: readonly T[]): T | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const match = allowed.find((a) => a === raw.toLowerCase())
    if (match === undefined) throw this.invalid(name, raw, `one of ${allowed.join(', ')}`)
    return match
  }
}

/**
 * KFS_DEBUG: print the stack trace of every error. true/1/yes or false/0/no like every switch;
 * any other value is a ConfigError, not a silent "off".
 */
export function debugStacks(env: Env): boolean {
  return new ConfigSource(env, new Map()).boolean('KFS_DEBUG') ?? false
}
