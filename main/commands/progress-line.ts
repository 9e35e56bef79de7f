/** The one-line terminal progress bar of long commands (`kfs replay`): done/total, rate, ETA. */

const WIDTH = 24

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`
  return String(Math.round(n))
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

export interface ProgressCounts {
  readonly done: number
  /** An upper bound: the line reads 100 % only when told the work is finished. */
  readonly total: number
  readonly rows: number
}

export function progressLine(label: string, counts: ProgressCounts, elapsedMs: number, finished = false): string {
  const share = finished ? 1 : counts.total > 0 ? Math.min(0.999, counts.done / counts.total) : 0
  const filled = Math.floor(share * WIDTH)
  const rate = elapsedMs > 0 ? (counts.done * 1000) / elapsedMs : 0
  const eta = finished ? 0 : rate > 0 ? Math.max(0, counts.total - counts.done) / rate : Number.POSITIVE_INFINITY
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${Math.floor(share * 100)}% ${compact(counts.done)}/${compact(counts.total)} events, ${compact(counts.rows)} rows, ${compact(rate)} events/s, ETA ${duration(eta)}`
}
