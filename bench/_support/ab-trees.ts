/**
 * What the same-process A/B harnesses share (docs/performance.md, "How the changes were
 * measured"): loading a version's module from its extracted source tree, the median of a side's
 * rounds (the middle value; an even count takes the upper one) and the summary line every harness
 * ends with.
 */
import { pathToFileURL } from 'node:url'

/** Imports `path` (relative to the tree's root) from the extracted tree `tree`. */
export function moduleLoader(tree: string | undefined): (path: string) => Promise<any> {
  if (tree === undefined) throw new Error('set KFS_AB_BASE and KFS_AB_NEW to two extracted source trees')
  return async (path) => await import(pathToFileURL(`${tree}/${path}`).href)
}

export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1]!
}

/** `median base=… new=… ratio=… new_faster_in=k/n` over paired rounds (lower is faster). */
export function abSummary(base: readonly number[], neu: readonly number[]): string {
  const faster = base.filter((x, i) => neu[i]! < x).length
  return `median base=${median(base).toFixed(1)} new=${median(neu).toFixed(1)} ratio=${(median(neu) / median(base)).toFixed(3)} new_faster_in=${faster}/${base.length}`
}
