/**
 * Refuses, when a definition is declared, a filter, map or request feature's fn that reads
 * anything from outside its own text (free-names.ts, docs/semantics.md §27): the definition's
 * version covers the text only, so a captured value could change while the version stays — and
 * the engine would keep serving, and training sets keep reading, rows computed with the old value.
 */
import { DefinitionError } from '../../core/errors.ts'
import { readsOutside } from './free-names.ts'
import { ALLOWED_GLOBALS_TEXT } from './pure-globals.ts'

export interface FunctionRole {
  /** `view user_spend` or `request feature ratio`. */
  readonly where: string
  /** `filter`, `map` or `fn`. */
  readonly what: string
  /** How the function gets the definition's constants: `(event, constants) => …`. */
  readonly signature: string
}

function names(list: readonly string[]): string {
  return list.length === 1 ? list[0]! : `${list.slice(0, -1).join(', ')} and ${list.at(-1)!}`
}

export function checkSelfContained(fn: (...args: never[]) => unknown, role: FunctionRole): void {
  const { where, what, signature } = role
  const reading = readsOutside(fn)
  if (!reading.ok) throw new DefinitionError(`${where}: ${what} ${reading.problem}`)
  if (reading.reads.length === 0) return
  const free = reading.reads.filter((r) => r.why === 'free').map((r) => r.name)
  const other = reading.reads.filter((r) => r.why !== 'free').map((r) => `${r.name}: ${r.why}`)
  const lines = [
    `${where}: ${what} reads ${names(reading.reads.map((r) => r.name))} from outside itself. Its version covers its source text only, so a change there would keep the version and go on serving and training on values computed before it.`,
    ...other.map((o) => `  - ${o}`),
  ]
  if (free.length > 0) {
    const example = free.map((n) => `${n}: …`).join(', ')
    lines.push(
      `  Put ${free.length === 1 ? 'the value' : 'the values'} in the definition's constants (constants: { ${example} }, JSON data, hashed with it) and read ${free.length === 1 ? 'it' : 'them'} from the function's argument: ${signature}; or write ${free.length === 1 ? 'it' : 'them'} in the function (a helper function too).`,
    )
  }
  lines.push(`  Besides its parameters and its own locals, a ${what} may read ${ALLOWED_GLOBALS_TEXT}.`)
  throw new DefinitionError(lines.join('\n'))
}
