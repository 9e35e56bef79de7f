/**
 * The globals a filter, map or request feature's fn may read (docs/semantics.md §27): values
 * and functions whose answer depends on their arguments only, so the function's text still says
 * everything it computes. Anything else a function reads from outside itself — a module constant,
 * a helper, an import, `process.env`, a clock — is not part of the definition's hash.
 *
 * Left out on purpose: `Date` (`Date.now()`, `new Date()` read the clock, and its local-time
 * methods the host's time zone, which may differ between the engine and a training-set build),
 * `Intl` (the host's locale data), `globalThis`/`process`/`performance`/`crypto` (the host), and
 * `eval`/`Function` (code the analysis cannot see).
 */

/** Globals used whole: called, constructed or read (`Number(x)`, `new Map()`, `x ?? undefined`). */
const VALUES = [
  'undefined',
  'NaN',
  'Infinity',
  'Number',
  'String',
  'Boolean',
  'BigInt',
  'Symbol',
  'Object',
  'Array',
  'Map',
  'Set',
  'RegExp',
  'parseInt',
  'parseFloat',
  'isNaN',
  'isFinite',
  'encodeURIComponent',
  'decodeURIComponent',
  'encodeURI',
  'decodeURI',
  'Error',
  'TypeError',
  'RangeError',
] as const

/** Namespaces, read only as `Math.<member>`: a bare `Math` could be aliased past the members refused below. */
const NAMESPACES = ['Math', 'JSON'] as const

/** Members of allowed globals that are not pure: what they return differs from call to call. */
const IMPURE_MEMBERS: Readonly<Record<string, string>> = {
  'Math.random':
    'returns a different number on every call, so a replay or a training set computes other values than the live run',
}

/**
 * esbuild's keepNames helper (tsx runs definitions with it): it sets a nested function's `name`
 * and nothing else, so tsx-compiled functions that declare one can be read like any other.
 */
const TRANSPILER_HELPERS = ['__name'] as const

const globals = globalThis as unknown as Record<string, object>
/**
 * Each allowed global's own members when kfs loaded: a member added later (`Number.LIMIT = 10`) is
 * a module's value like any other, not part of the text that reads it.
 */
const MEMBERS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  [...VALUES, ...NAMESPACES]
    .filter((name) => globals[name] !== undefined && globals[name] !== null)
    .map((name) => [name, new Set(Object.getOwnPropertyNames(globals[name]))]),
)

export type GlobalUse = { readonly ok: true } | { readonly ok: false; readonly why: string }

/** Whether reading global `name` (bare, or its `member` when the code names one) keeps a function pure. */
export function judgeGlobal(name: string, member: string | undefined, computed: boolean): GlobalUse {
  if ((TRANSPILER_HELPERS as readonly string[]).includes(name)) return { ok: true }
  const namespace = (NAMESPACES as readonly string[]).includes(name)
  if (!namespace && !(VALUES as readonly string[]).includes(name)) return { ok: false, why: 'free' }
  if (member === undefined) {
    return namespace
      ? {
          ok: false,
          why: `${name} may be used only as ${name}.<member> (e.g. ${name === 'Math' ? 'Math.max(a, b)' : 'JSON.stringify(v)'})`,
        }
      : { ok: true }
  }
  if (computed) return { ok: false, why: `${name}[…] with a computed member cannot be judged; write ${name}.<member>` }
  const impure = IMPURE_MEMBERS[`${name}.${member}`]
  if (impure !== undefined) return { ok: false, why: `${name}.${member} ${impure}` }
  if (MEMBERS.get(name)?.has(member) !== true)
    return {
      ok: false,
      why: `${name}.${member} is not a standard member of ${name} (one a module added is a value from outside the function)`,
    }
  return { ok: true }
}

/** For messages: what a function may read besides its parameters. */
export const ALLOWED_GLOBALS_TEXT = `${[...VALUES.filter((v) => v !== 'undefined' && v !== 'NaN' && v !== 'Infinity'), ...NAMESPACES.map((n) => `${n}.*`)].join(', ')} (not Math.random, Date, process or globalThis)`
