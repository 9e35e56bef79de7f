/** Progress on stderr, the one `BENCH` line on stdout, and the small statistics the benches share. */
import type { Logger, LogFn } from '../../core/logger.ts'

const started = performance.now()

export function progress(message: string): void {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}\n`)
}

export function benchLine(name: string, fields: Record<string, string | number>): void {
  const text = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? format(v) : v}`)
    .join(' ')
  process.stdout.write(`BENCH ${name} ${text}\n`)
}

function format(v: number): string {
  if (Number.isInteger(v)) return String(v)
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3)
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = Float64Array.from(samples).sort()
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw} is not a positive number`)
  return n
}

/** The engine's warnings and errors on stderr (retries, failed checkpoints); the rest is dropped. */
export function stderrLogger(bindings: Record<string, unknown> = {}): Logger {
  const emit =
    (level: string): LogFn =>
    (objOrMsg: object | string, msg?: string) => {
      const obj = typeof objOrMsg === 'string' ? {} : (objOrMsg as Record<string, unknown>)
      const text = typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '')
      const err = obj.err instanceof Error ? ` (${obj.err.message}${obj.err.cause instanceof Error ? `: ${obj.err.cause.message}` : ''})` : ''
      progress(`${level} ${String(bindings.component ?? '')} ${text}${err}`)
    }
  const noop: LogFn = () => {}
  return {
    fatal: emit('FATAL'),
    error: emit('ERROR'),
    warn: emit('WARN'),
    info: noop,
    debug: noop,
    trace: noop,
    child: (more) => stderrLogger({ ...bindings, ...more }),
  }
}
