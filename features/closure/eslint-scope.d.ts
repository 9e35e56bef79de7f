// The part of eslint-scope (no bundled types) that free-names.ts reads: the references no scope
// of the analyzed code resolves.
declare module 'eslint-scope' {
  import type { Identifier, Node } from 'estree'
  export interface Reference {
    readonly identifier: Identifier
  }
  export interface Scope {
    readonly through: readonly Reference[]
  }
  export interface ScopeManager {
    readonly globalScope: Scope
  }
  export function analyze(ast: Node, options: { ecmaVersion: number; sourceType: 'script' | 'module' }): ScopeManager
}
