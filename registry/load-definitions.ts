/**
 * Loads a user's definition module (a .ts file, or a folder with index.ts) by dynamic import, with
 * tsx's loader for any TypeScript Node's own type stripping does not take (import-user-module.ts).
 */
import { existsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { inspect } from 'node:util'
import { pathToFileURL } from 'node:url'
import { DefinitionError, FeatureStoreError } from '../core/errors.ts'
import { importUserModule } from './import-user-module.ts'
import { collectDefinitions, definitionCount, type DefinitionSet } from './collect-definitions.ts'
import { validateDefinitions, type KnownDefinitions } from './validate-definitions.ts'

const INDEX_FILES = ['index.ts', 'index.mts', 'index.js', 'index.mjs']
/** What tsx imports as a module; any other file (a README, a CSV) fails deep in the loader with a message about vm or syntax. */
const MODULE_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/

/**
 * Why an existing path cannot be a definitions module, or undefined when it can: a file must be
 * TypeScript or JavaScript, a folder must hold an index module.
 */
export function definitionModuleProblem(path: string): string | undefined {
  const stats = statSync(path)
  if (!stats.isDirectory() && !stats.isFile()) return `${path} is not a regular file (a pipe, device or socket)`
  if (!stats.isDirectory())
    return MODULE_FILE.test(path) ? undefined : `${path} is not a TypeScript or JavaScript module (.ts, .mts, .js, .mjs)`
  return INDEX_FILES.some((f) => existsSync(join(path, f)))
    ? undefined
    : `definitions folder ${path} has no index.ts; add one that exports your definitions`
}

export function resolveDefinitionModule(modulePath: string, cwd: string): string {
  const path = resolve(cwd, modulePath)
  if (!existsSync(path)) throw new DefinitionError(`definitions not found: ${path} does not exist; pass --features <file.ts or folder>`)
  const problem = definitionModuleProblem(path)
  if (problem !== undefined) throw new DefinitionError(problem)
  if (!statSync(path).isDirectory()) return path
  return INDEX_FILES.map((f) => join(path, f)).find((f) => existsSync(f))!
}

export async function loadDefinitions(modulePath: string, options: { cwd?: string; known?: KnownDefinitions } = {}): Promise<DefinitionSet> {
  const file = resolveDefinitionModule(modulePath, options.cwd ?? process.cwd())
  let namespace: unknown
  try {
    namespace = await importUserModule(pathToFileURL(file).href)
  } catch (err: unknown) {
    // A builder's own error already names the view, field and fix; pass it through unchanged.
    if (err instanceof FeatureStoreError) throw err
    throw new DefinitionError(`cannot load definitions from ${file}: ${thrown(err)}`, { cause: err })
  }
  let set: DefinitionSet
  try {
    set = collectDefinitions(namespace)
  } catch (err: unknown) {
    // Reading the exports runs the module's code too: a getter or a proxy trap that throws.
    if (err instanceof FeatureStoreError) throw err
    throw new DefinitionError(`cannot read the exports of ${file}: ${thrown(err)}`, { cause: err })
  }
  if (definitionCount(set) === 0) {
    throw new DefinitionError(`${file} exports no definitions; export what entity(), source(), featureView(), featureService() and requestFeature() return`)
  }
  validateDefinitions(set, options.known)
  return set
}

/** What a module threw, for a message: an Error's message, anything else as written (`throw 42`, `throw { … }`). */
function thrown(err: unknown): string {
  if (err instanceof Error) return err.message
  return `it threw ${inspect(err, { depth: 2, breakLength: Infinity })}, not an Error`
}
