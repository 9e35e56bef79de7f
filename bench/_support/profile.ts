/**
 * Profiles of the measured phase only: `--cpu-prof` would also record producing the input and
 * the baseline, which drowns what the bench is about.
 * - KFS_BENCH_PROFILE=<dir>: CPU profile, `<dir>/<name>-<time>.cpuprofile`;
 * - KFS_BENCH_ALLOC_PROFILE=<dir>: allocation profile, `<dir>/<name>-<time>.heapprofile`, counting
 *   objects the GC has since collected too (garbage is what the sampling heap profile would
 *   otherwise leave out, and garbage is what costs GC time).
 * Open either in Chrome DevTools or speedscope. One kind per run: profiling perturbs the other.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { progress } from './report.ts'

export async function startProfile(name: string): Promise<() => Promise<void>> {
  const cpuDir = process.env.KFS_BENCH_PROFILE
  const allocDir = process.env.KFS_BENCH_ALLOC_PROFILE
  if (!cpuDir && !allocDir) return async () => {}
  const session = new Session()
  session.connect()
  const save = (dir: string, ext: string, profile: unknown, what: string): void => {
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${name}-${Date.now()}.${ext}`)
    writeFileSync(file, JSON.stringify(profile))
    progress(`${what} of the measured phase: ${file}`)
  }
  if (cpuDir) {
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
    return async () => {
      const { profile } = await session.post('Profiler.stop')
      session.disconnect()
      save(cpuDir, 'cpuprofile', profile, 'CPU profile')
    }
  }
  await session.post('HeapProfiler.enable')
  // The include flags are newer than Node's inspector typings.
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as { samplingInterval: number })
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling')
    session.disconnect()
    save(allocDir as string, 'heapprofile', profile, 'allocation profile')
  }
}
