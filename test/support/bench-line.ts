/**
 * What a finished benchmark run must show (bench/run.ts): exit 0 and, as its last stdout line,
 * `BENCH <name> key=value …` whose values are finite numbers (or one of the bench's text fields),
 * carrying the bench's figures and at least one same-run bound or ratio.
 */

export interface BenchRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface BenchExpectation {
  /** Keys the BENCH line must carry, each a finite number: its figures, its bound and the ratio. */
  readonly keys: readonly string[]
  /** Keys whose values are text (a store's name, a list of rounds). */
  readonly text?: readonly string[]
}

/** A key that names a same-run bound or a ratio against one. */
export const BOUND_KEY = /(^|_)(ratio|bound|baseline|floor|ceiling|vs|over)(_|$)/

const TOKEN = /^([a-z][a-z0-9_]*)=(\S+)$/
const NUMBER = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/

/** The line's fields, or the reasons it is not a BENCH line of `name`. */
export function parseBenchLine(name: string, line: string): { fields: Map<string, string> } | { problems: string[] } {
  const prefix = `BENCH ${name} `
  if (!line.startsWith(prefix))
    return { problems: [`the last stdout line is not "${prefix}…": ${JSON.stringify(line.slice(0, 200))}`] }
  const fields = new Map<string, string>()
  const problems: string[] = []
  for (const token of line
    .slice(prefix.length)
    .split(' ')
    .filter((t) => t !== '')) {
    const m = TOKEN.exec(token)
    if (!m) problems.push(`"${token}" is not key=value`)
    else if (fields.has(m[1]!)) problems.push(`${m[1]} appears twice`)
    else fields.set(m[1]!, m[2]!)
  }
  if (fields.size === 0 && problems.length === 0) problems.push('the BENCH line carries no key=value')
  return problems.length > 0 ? { problems } : { fields }
}

/** Every way the run falls short of a finished bench; empty when it is one. */
export function benchRunProblems(name: string, run: BenchRun, expect: BenchExpectation = { keys: [] }): string[] {
  const problems: string[] = []
  if (run.code !== 0) problems.push(`exited ${run.code ?? run.signal}`)
  const last = run.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .at(-1)
  if (last === undefined) return [...problems, 'printed nothing on stdout']
  const parsed = parseBenchLine(name, last.trim())
  if ('problems' in parsed) return [...problems, ...parsed.problems]
  const text = new Set(expect.text ?? [])
  for (const [key, value] of parsed.fields) {
    if (text.has(key)) continue
    if (!NUMBER.test(value) || !Number.isFinite(Number(value))) problems.push(`${key}=${value} is not a finite number`)
  }
  for (const key of expect.keys) if (!parsed.fields.has(key)) problems.push(`no ${key}`)
  if (![...parsed.fields.keys()].some((k) => BOUND_KEY.test(k)))
    problems.push(`no bound or ratio among ${[...parsed.fields.keys()].join(', ')}`)
  return problems
}

/** The end of a run's stderr, for a failure message. */
export function stderrTail(stderr: string, lines = 40): string {
  return stderr.trimEnd().split('\n').slice(-lines).join('\n')
}
