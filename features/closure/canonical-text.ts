/**
 * A function's source text as the definition hash covers it (registry/describe.ts), the same
 * whichever way the TypeScript was loaded.
 *
 * `Function.prototype.toString()` returns what the loader handed V8, and loaders differ: tsx
 * (esbuild) reprints a module minified, in double quotes, and wraps nested named functions and
 * classes in its keepNames helper `__name`; Node's own type stripping keeps the text as written
 * with blanks where the types were; `tsc` output is another print again. The same definition
 * would hash to another version under each — a `kfs apply` under one and a `kfs run` under the
 * other would disagree. So the text is reprinted by esbuild (minified whitespace, no keepNames)
 * and the helper's calls are taken out. esbuild's print of its own output is that output, so a
 * hash computed under tsx — every registry version published before this — is unchanged, except
 * for a function that declares a function, class or arrow-valued const inside itself (its `__name`
 * calls are gone now).
 * A text esbuild cannot read is kept as written, whitespace collapsed, as before.
 */
import { parse } from 'acorn'
import type { Node } from 'estree'
import { transformSync } from 'esbuild'

type AnyNode = Node & { readonly start: number; readonly end: number; readonly [key: string]: unknown }

/** How a function's text becomes one statement esbuild reads: as an expression, or as an object's method (`m(e) { … }`). */
const WRAPPERS = [
  { before: '(', after: ');', pick: (expression: AnyNode) => expression },
  { before: '({', after: '});', pick: (expression: AnyNode) => (expression['properties'] as AnyNode[])[0]! },
] as const

const canonical = new Map<string, string>()

/** The text the hash covers: reprinted by esbuild, without keepNames helper calls, whitespace runs collapsed. */
export function canonicalFunctionText(text: string): string {
  let known = canonical.get(text)
  if (known === undefined) {
    known = collapse(reprinted(text) ?? text)
    canonical.set(text, known)
  }
  return known
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}

function reprinted(text: string): string | undefined {
  for (const wrapper of WRAPPERS) {
    let current = text
    // Each pass removes the outermost helper calls; nested ones (a loader run twice) take another.
    for (let pass = 0; pass < 8; pass++) {
      const printed = print(`${wrapper.before}${current}${wrapper.after}`)
      if (printed === undefined) break
      const fn = wrapper.pick(printed.expression)
      const edits = keepNamesEdits(fn)
      if (edits.length === 0) return printed.code.slice(fn.start, fn.end)
      current = withEdits(printed.code, fn, edits)
    }
  }
  return undefined
}

function print(source: string): { code: string; expression: AnyNode } | undefined {
  try {
    const code = transformSync(source, { loader: 'js', minifyWhitespace: true, target: 'esnext' }).code
    const program = parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true }) as unknown as AnyNode
    const statement = (program['body'] as AnyNode[])[0]
    const expression = statement?.['expression'] as AnyNode | undefined
    return expression === undefined ? undefined : { code, expression }
  } catch {
    return undefined
  }
}

interface Edit {
  readonly start: number
  readonly end: number
  /** Replace the range with this node's text; undefined removes it. */
  readonly keep?: AnyNode
}

/** A `__name(value, "name")` call: esbuild's keepNames helper, which only sets `value.name`. */
function isKeepNamesCall(node: unknown): node is AnyNode {
  const n = node as AnyNode | undefined
  if (n?.type !== 'CallExpression') return false
  const callee = n['callee'] as AnyNode
  const args = n['arguments'] as AnyNode[]
  return callee.type === 'Identifier' && callee['name'] === '__name' && args.length === 2 && args[1]!.type === 'Literal' && typeof args[1]!['value'] === 'string'
}

/** The outermost helper calls under `node`: a statement of one is removed, a call as a value becomes its value. */
function keepNamesEdits(node: AnyNode): Edit[] {
  const edits: Edit[] = []
  const visit = (n: AnyNode): void => {
    if (n.type === 'ExpressionStatement' && isKeepNamesCall(n['expression'])) {
      edits.push({ start: n.start, end: n.end })
      return
    }
    if ((n.type as string) === 'StaticBlock') {
      const body = n['body'] as AnyNode[]
      if (body.length === 1 && body[0]!.type === 'ExpressionStatement' && isKeepNamesCall(body[0]!['expression'])) {
        edits.push({ start: n.start, end: n.end })
        return
      }
    }
    if (isKeepNamesCall(n)) {
      edits.push({ start: n.start, end: n.end, keep: (n['arguments'] as AnyNode[])[0]! })
      return
    }
    for (const value of Object.values(n)) {
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child !== null && typeof child === 'object' && typeof (child as AnyNode).type === 'string') visit(child as AnyNode)
      }
    }
  }
  visit(node)
  return edits
}

/** The text of `node` in `code`, with the edits (ranges in `code`) made. */
function withEdits(code: string, node: AnyNode, edits: readonly Edit[]): string {
  let out = ''
  let at = node.start
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    out += code.slice(at, e.start)
    if (e.keep !== undefined) out += code.slice(e.keep.start, e.keep.end)
    at = e.end
  }
  return out + code.slice(at, node.end)
}
