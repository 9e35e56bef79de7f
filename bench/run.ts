/**
 * `npm run bench -- <name>` runs bench/<name>.ts. Every benchmark starts what it needs and ends
 * with one line `BENCH <name> key=value …` carrying its figures, the same-run baseline and the ratio.
 */
import { join } from 'node:path'
import { BENCH_DIR, benchNames } from './_support/bench-names.ts'

const available = benchNames()
const name = process.argv[2]
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name>\navailable: ${available.join(', ') || '(none yet)'}`)
  process.exit(2)
}
await import(join(BENCH_DIR, `${name}.ts`))
