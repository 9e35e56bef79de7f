/**
 * The benchmarks: every bench/<name>.ts but run.ts and the `_`-prefixed support files. One list
 * for `npm run bench -- <name>` (bench/run.ts) and for the test that runs them all
 * (test/integration/bench/every-bench.test.ts), so a new bench is covered by both at once.
 */
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url))

export function benchNames(dir = BENCH_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort()
}
