/**
 * CPU profile of the measured phase only (set KFS_BENCH_PROFILE=<dir>): `--cpu-prof` would also
 * record producing the input and the baseline, which drowns what the bench is about. Writes
 * `<dir>/<name>-<time>.cpuprofile` (open it in Chrome DevTools or speedscope).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { progress } from './report.ts'

export async function startProfile(name: string): Promise<() => Promise<void>> {
  const dir = process.env.KFS_BENCH_PROFILE
  if (!dir) return async () => {}
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${name}-${Date.now()}.cpuprofile`)
    writeFileSync(file, JSON.stringify(profile))
    progress(`CPU profile of the measured phase: ${file}`)
  }
}
