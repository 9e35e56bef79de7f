/**
 * The code blocks of the repository's markdown, with the `<!-- snippet: … -->` marker each
 * TypeScript block carries (test/unit/docs/definition-snippets.test.ts says what the markers mean).
 * Reads every .md file outside node_modules and dot-folders, so a new README is covered unasked.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

export interface CodeBlock {
  /** `README.md:185`: the file, from the repository's root, and the line of the opening fence. */
  readonly where: string
  /** The fence's info string's first word, lower-cased (`ts`, `bash`, `` for none). */
  readonly lang: string
  readonly text: string
  /** The `<!-- snippet: … -->` comment that ends just above the fence, if one does. */
  readonly marker?: SnippetMarker
}

export type SnippetKind = 'module' | 'fragment' | 'no-definitions'

export interface SnippetMarker {
  readonly kind: SnippetKind
  /** For a block that shows a refusal: text the refusal's message must contain. */
  readonly refused?: string
  /** A fragment's missing context: the comment's lines after the first, loaded before the block. */
  readonly prelude: string
  /** A marker whose first line did not parse, as written, so the test can name it. */
  readonly malformed?: string
}

export const TYPESCRIPT_LANGS: ReadonlySet<string> = new Set(['ts', 'typescript', 'tsx', 'js', 'javascript', 'mjs', 'mts'])

export function markdownFiles(root: string): string[] {
  const found: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile() && entry.name.endsWith('.md')) found.push(path)
    }
  }
  walk(root)
  return found.sort()
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/
const MARKER_HEAD = /^<!--\s*snippet:\s*(.*?)\s*(-->)?\s*$/

/** Every fenced block of one markdown file. */
export function codeBlocks(root: string, file: string): CodeBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const name = relative(root, file)
  const blocks: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!)
    if (open === null) continue
    const fence = open[1]!
    let end = i + 1
    while (end < lines.length && !closes(lines[end]!, fence)) end++
    const marker = markerAbove(lines, i)
    blocks.push({
      where: `${name}:${i + 1}`,
      lang: open[2]!.toLowerCase(),
      text: lines.slice(i + 1, end).join('\n'),
      ...(marker === undefined ? {} : { marker }),
    })
    i = end
  }
  return blocks
}

function closes(line: string, fence: string): boolean {
  const trimmed = line.trim()
  return trimmed.startsWith(fence[0]!.repeat(fence.length)) && /^(`+|~+)$/.test(trimmed)
}

/** The marker comment whose `-->` is on the line above the fence (blank lines between allowed). */
function markerAbove(lines: readonly string[], fenceLine: number): SnippetMarker | undefined {
  let last = fenceLine - 1
  while (last >= 0 && lines[last]!.trim() === '') last--
  if (last < 0 || !lines[last]!.trimEnd().endsWith('-->')) return undefined
  let first = last
  while (first >= 0 && !lines[first]!.trimStart().startsWith('<!--')) first--
  if (first < 0) return undefined
  const head = MARKER_HEAD.exec(lines[first]!.trim())
  if (head === null) return undefined
  const body = first === last ? [] : lines.slice(first + 1, last + 1)
  if (body.length > 0) body[body.length - 1] = body[body.length - 1]!.replace(/-->\s*$/, '')
  return parseMarker(head[1]!, body.join('\n'))
}

/** `module`, `fragment` or `no-definitions`, optionally `; refused: <message text>`. */
function parseMarker(head: string, prelude: string): SnippetMarker {
  const [kindText, ...rest] = head.split(';')
  const kind = kindText!.trim()
  const option = rest.join(';').trim()
  const refused = /^refused:\s*(.+)$/.exec(option)?.[1]
  const known = kind === 'module' || kind === 'fragment' || kind === 'no-definitions'
  if (!known || (option !== '' && refused === undefined)) {
    return { kind: 'no-definitions', prelude, malformed: head }
  }
  return { kind, prelude, ...(refused === undefined ? {} : { refused }) }
}
