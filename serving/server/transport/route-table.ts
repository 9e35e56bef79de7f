/**
 * Route patterns as uWS matches them, for the node:http transport: segments split on '/', a
 * `:name` segment matches any one non-empty segment (its raw text becomes a parameter; uWS never
 * matches an empty one, so `/v1/features/user_stats/` is no route's), a final `*` matches the
 * rest. Where several patterns match, the first in uWS's order wins: position by position, a
 * static segment before a parameter before the wildcard; equal patterns in the order added.
 *
 * Lookup: a path that is some all-static pattern is one Map hit; otherwise the parametric
 * patterns are tried in that order (a handful in kfs).
 */

/** 0 static, 1 parameter, 2 wildcard: the lower wins at the first position where patterns differ. */
type Rank = 0 | 1 | 2

interface Compiled<H> {
  readonly segments: readonly string[]
  readonly ranks: readonly Rank[]
  readonly value: H
}

export interface RouteMatch<H> {
  readonly value: H
  /** The `:parameter` segments, in pattern order, as sent. */
  readonly params: readonly string[]
}

const NO_PARAMS: readonly string[] = Object.freeze([])

export class RouteTable<H> {
  readonly #exact = new Map<string, H>()
  readonly #patterns: Compiled<H>[] = []

  add(pattern: string, value: H): void {
    const segments = pattern.split('/').slice(1)
    const ranks = segments.map((s, i): Rank => (s === '*' && i === segments.length - 1 ? 2 : s.startsWith(':') ? 1 : 0))
    if (ranks.every((r) => r === 0)) {
      if (!this.#exact.has(pattern)) this.#exact.set(pattern, value)
      return
    }
    this.#patterns.push({ segments, ranks, value })
    // Stable sort: equal patterns keep the order they were added in.
    this.#patterns.sort((a, b) => compareRanks(a.ranks, b.ranks))
  }

  /** The winning route for `path` (no query), or undefined. */
  match(path: string): RouteMatch<H> | undefined {
    const exact = this.#exact.get(path)
    if (exact !== undefined) return { value: exact, params: NO_PARAMS }
    if (this.#patterns.length === 0) return undefined
    const parts = path.split('/').slice(1)
    for (const route of this.#patterns) {
      const params = matchSegments(route, parts)
      if (params !== undefined) return { value: route.value, params }
    }
    return undefined
  }
}

function compareRanks(a: readonly Rank[], b: readonly Rank[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

function matchSegments<H>(route: Compiled<H>, parts: readonly string[]): string[] | undefined {
  const params: string[] = []
  const { segments, ranks } = route
  for (let i = 0; i < segments.length; i++) {
    if (ranks[i] === 2) return params
    const part = parts[i]
    if (part === undefined) return undefined
    if (ranks[i] === 1) {
      if (part === '') return undefined
      params.push(part)
    } else if (part !== segments[i]) return undefined
  }
  return parts.length === segments.length ? params : undefined
}
