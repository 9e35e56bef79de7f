/** "Did you mean …?" for a mistyped command, subcommand, option or value: the closest known name. */

/** Edit distance (insert, delete, substitute, swap of two neighbours). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/**
 * The known name closest to `typed`, when it is close enough to be what was meant: within a third
 * of its length in edits (at least 1, at most 3), or a unique name that starts with it.
 */
export function suggestion(typed: string, known: readonly string[]): string | undefined {
  const lower = typed.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const name of known) {
    const distance = editDistance(lower, name.toLowerCase())
    if (distance < bestDistance) {
      best = name
      bestDistance = distance
    }
  }
  const allowed = Math.min(3, Math.max(1, Math.floor(typed.length / 3)))
  if (best !== undefined && bestDistance <= allowed) return best
  const prefixed = lower.length >= 2 ? known.filter((n) => n.toLowerCase().startsWith(lower)) : []
  return prefixed.length === 1 ? prefixed[0] : undefined
}

/** ` Did you mean 'x'?` to end a message with, or nothing. `prefix` is put before each name (e.g. `--`). */
export function didYouMean(typed: string, known: readonly string[], prefix = ''): string {
  const best = suggestion(typed, known)
  return best === undefined ? '' : ` Did you mean '${prefix}${best}'?`
}
