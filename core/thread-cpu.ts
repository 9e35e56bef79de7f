/** Timing a synchronous stretch of the event loop's thread by the wall clock and by its CPU time. */

/** This thread's CPU time (ms), or NaN on a Node without process.threadCpuUsage (before 23.9). */
export function threadCpuMs(): number {
  const usage = (process as { threadCpuUsage?: () => { user: number; system: number } }).threadCpuUsage?.()
  return usage === undefined ? Number.NaN : (usage.user + usage.system) / 1000
}

/**
 * `fn()`, its wall time (monotonic) and this thread's CPU time during it handed to `took`: on a
 * shared machine the wall time also counts the time other processes held the core.
 */
export function timedSync<T>(fn: () => T, took: (wallMs: number, cpuMs: number) => void): T {
  const cpuAt = threadCpuMs()
  const startedAt = performance.now()
  const result = fn()
  took(performance.now() - startedAt, threadCpuMs() - cpuAt)
  return result
}
