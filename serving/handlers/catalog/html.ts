/** HTML text helpers of the catalog page: every value from definitions is escaped on the server. */
import { isoTextOrMs } from '../../../core/iso-time.ts'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

/** A window, TTL or age in its largest whole unit (`1h`, `90s`); `null` is a lifetime window. */
export function duration(ms: number | null): string {
  if (ms === null) return 'lifetime'
  if (!Number.isFinite(ms)) return '∞'
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

/** An age for people: rounded to the largest unit that keeps it above 1 (`3.2s`, `5m 4s`, `2h 10m`). */
export function age(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`
}

export function isoTime(ms: number): string {
  // A view's as_of may lie beyond the dates a Date holds (any safe integer): shown in ms there.
  return isoTextOrMs(ms).replace('.000Z', 'Z')
}
