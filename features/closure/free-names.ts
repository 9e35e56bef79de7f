/**
 * What a function reads from outside its own text (docs/semantics.md §27). A definition's hash
 * covers a filter's, map's or request feature's source text (`Function.prototype.toString()`),
 * and JavaScript gives no access to a closure's captured values: a module constant, a helper, an
 * import or `this` that the function reads could change while the text, and so the version, stays
 * the same. So the text is parsed (acorn), its scopes resolved (eslint-scope, as ESLint does), and
 * every name no scope inside the function binds is judged: its own parameters and locals, nested
 * functions and their closures over those locals are fine; pure globals (pure-globals.ts) are fine;
 * anything else is reported, as is `this`, `super`, `new.target`, `import.meta` and `import()`
 * where they reach outside the function.
 *
 * This guards against capturing by accident, not against code bent on hiding what it reads
 * (reflection through a value's `constructor` reaches any global): kfs runs the user's own code.
 */
import { parse } from 'acorn'
import { analyze } from 'eslint-scope'
import type { Identifier, Node } from 'estree'
import { judgeGlobal } from './pure-globals.ts'

/** One thing the function reads from outside itself, with why it is refused. */
export interface OutsideRead {
  /** The identifier or construct, as written: `threshold`, `this`, `Math.random`. */
  readonly name: string
  /** 'free': a name bound outside the function; otherwise a sentence saying why it is refused. */
  readonly why: 'free' | string
}

export type FunctionReading =
  { readonly ok: true; readonly reads: readonly OutsideRead[] } | { readonly ok: false; readonly problem: string }

type AnyNode = Node & { readonly [key: string]: unknown }

/** The text as an expression: an arrow or function expression as is, a method (`m(e) { … }`) inside an object literal. */
function parseFunction(text: string): { program: AnyNode; fn: AnyNode } | undefined {
  for (const [before, after] of [
    ['(', ')'],
    ['({', '})'],
  ] as const) {
    let program: AnyNode
    try {
      program = parse(`${before}${text}\n${after}`, {
        ecmaVersion: 'latest',
        sourceType: 'script',
        ranges: true,
      }) as unknown as AnyNode
    } catch {
      continue
    }
    const body = program.body as AnyNode[]
    const expression = body.length === 1 && body[0]!.type === 'ExpressionStatement' ? (body[0]!.expression as AnyNode) : undefined
    if (expression === undefined) continue
    const fn =
      expression.type === 'ObjectExpression'
        ? ((expression.properties as AnyNode[])[0]?.value as AnyNode | undefined)
        : expression
    if (fn !== undefined && (fn.type === 'ArrowFunctionExpression' || fn.type === 'FunctionExpression')) return { program, fn }
  }
  return undefined
}

function isNode(value: unknown): value is AnyNode {
  return value !== null && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string'
}

function children(node: AnyNode): AnyNode[] {
  const out: AnyNode[] = []
  for (const [key, value] of Object.entries(node)) {
    if (key === 'type' || key === 'start' || key === 'end' || key === 'loc' || key === 'range') continue
    if (Array.isArray(value)) out.push(...value.filter(isNode))
    else if (isNode(value)) out.push(value)
  }
  return out
}

/**
 * `this`, `super`, `new.target`, `import.meta` and `import()` that belong to no function or class
 * inside the analyzed one (a non-arrow function or a class body gives them their own meaning);
 * and each node's parent, for judging how a global is used.
 */
function outsideConstructs(program: AnyNode, root: AnyNode, parents: Map<AnyNode, AnyNode>): OutsideRead[] {
  const reads: OutsideRead[] = []
  const visit = (node: AnyNode, own: boolean): void => {
    // Not the analyzed function itself: what its own `this` is, its caller decides.
    const boundary =
      node !== root && (node.type === 'FunctionExpression' || node.type === 'FunctionDeclaration' || node.type === 'ClassBody')
    if (!own) {
      if (node.type === 'ThisExpression')
        reads.push({ name: 'this', why: 'reads the object the function was taken from, which the hash does not cover' })
      if (node.type === 'Super')
        reads.push({ name: 'super', why: 'reads the object the method was defined on, which the hash does not cover' })
      if (node.type === 'MetaProperty')
        reads.push({
          name: `${(node.meta as Identifier).name}.${(node.property as Identifier).name}`,
          why: 'depends on how or where the function is called, which the hash does not cover',
        })
    }
    if (node.type === 'ImportExpression')
      reads.push({ name: 'import()', why: 'loads a module at run time, whose code the hash does not cover' })
    for (const child of children(node)) {
      parents.set(child, node)
      visit(child, own || boundary)
    }
  }
  visit(program, false)
  return reads
}

/** The member a global is read through (`Math.max` → max), when it is the object of a member access. */
function memberOf(id: AnyNode, parents: ReadonlyMap<AnyNode, AnyNode>): { member: string | undefined; computed: boolean } {
  const parent = parents.get(id)
  if (parent?.type !== 'MemberExpression' || parent.object !== id) return { member: undefined, computed: false }
  const property = parent.property as AnyNode
  if (!parent.computed) return { member: (property as unknown as Identifier).name, computed: false }
  return typeof property.value === 'string' ? { member: property.value, computed: false } : { member: '[…]', computed: true }
}

/**
 * Everything `fn` reads from outside its text, or why its text cannot be read: a built-in or
 * bound function's text is `[native code]`, and a class method's `#private` or the like may not
 * parse on its own.
 */
export function readsOutside(fn: (...args: never[]) => unknown): FunctionReading {
  return readsOutsideText(Function.prototype.toString.call(fn))
}

/** readsOutside over a function's source text (`Function.prototype.toString()` of it). */
export function readsOutsideText(text: string): FunctionReading {
  if (/\{\s*\[native code\]\s*\}\s*$/.test(text)) {
    return {
      ok: false,
      problem:
        'is a built-in or bound function, whose code cannot be read (so it cannot be hashed); write it as an arrow function',
    }
  }
  const parsed = parseFunction(text)
  if (parsed === undefined)
    return { ok: false, problem: 'has source text that does not parse as a function on its own; write it as an arrow function' }
  const parents = new Map<AnyNode, AnyNode>()
  const { program, fn: root } = parsed
  const reads = outsideConstructs(program, root, parents)
  const seen = new Set<string>()
  for (const reference of analyze(program, { ecmaVersion: 2022, sourceType: 'script' }).globalScope.through) {
    const id = reference.identifier as AnyNode & Identifier
    const { member, computed } = memberOf(id, parents)
    const judged = judgeGlobal(id.name, member, computed)
    if (judged.ok) continue
    const name = judged.why === 'free' || member === undefined ? id.name : computed ? `${id.name}[…]` : `${id.name}.${member}`
    if (seen.has(name)) continue
    seen.add(name)
    reads.push({ name, why: judged.why })
  }
  return { ok: true, reads }
}
