/**
 * Every definitions snippet a user can copy from the markdown (README.md, docs/, training/,
 * python/, any other .md) and every definitions module in examples/ loads through `kfs apply`
 * (in-process, a fresh embedded data dir each): the builders' definition-time rules — a filter,
 * map or request fn that reads a value from outside its own text is refused (docs/semantics.md
 * §27), a source schema must be valid Avro — hold for the docs as they do for users' modules, so
 * a snippet that the rules refuse fails here rather than in a user's first `kfs apply`.
 *
 * Each ```ts (or js) block is marked by an HTML comment just above it, so nothing is guessed:
 *
 *   <!-- snippet: module -->          a whole definitions module, loaded as a new file of
 *                                     examples/ would be (`../features/index.ts`, `./features.ts`
 *                                     and `new URL('../schemas/…', import.meta.url)` resolve so);
 *   <!-- snippet: fragment            part of a module: the comment's further lines (imports, the
 *   import { … } from '…'             entities and schemas it uses) are put before the block and
 *   -->                               the two are loaded as one module;
 *   <!-- snippet: no-definitions -->  code that defines nothing (a library call), not loaded;
 *   `; refused: <text>` after module or fragment: the block shows a mistake — apply must fail
 *                                     with a message containing <text>.
 *
 * A block of any language that calls a definition builder must be a marked TypeScript block, so
 * an unmarked or untagged definitions snippet fails here instead of being skipped.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { codeBlocks, markdownFiles, TYPESCRIPT_LANGS, type CodeBlock } from '../../support/markdown-snippets.ts'
import { runKfsInProcess, type CliResult } from '../../support/in-process-cli.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const BUILDER_CALL = /\b(entity|source|tableSource|changelogSource|featureView|featureService|requestFeature|servedLog)\s*\(/

/** A stand-in for the repository whose examples/ folder the snippets are written into. */
const root = mkdtempSync(join(tmpdir(), 'kfs-snippets-'))
after(() => rmSync(root, { recursive: true, force: true }))
for (const entry of readdirSync(repo)) {
  if (entry !== 'examples' && !entry.startsWith('.')) symlinkSync(join(repo, entry), join(root, entry))
}
mkdirSync(join(root, 'examples'))
for (const entry of readdirSync(join(repo, 'examples'))) symlinkSync(join(repo, 'examples', entry), join(root, 'examples', entry))

const blocks: readonly CodeBlock[] = markdownFiles(repo).flatMap((file) => codeBlocks(repo, file))
const typescript = blocks.filter((b) => TYPESCRIPT_LANGS.has(b.lang))
const definitions = typescript.filter((b) => b.marker !== undefined && b.marker.kind !== 'no-definitions')

let n = 0
/** `kfs apply --features <file>` on a data dir of its own (snippets reuse names with other logic). */
async function apply(file: string): Promise<CliResult> {
  const dataDir = mkdtempSync(join(root, 'data-'))
  return runKfsInProcess(['apply', '--features', file], dataDir)
}

function snippetModule(block: CodeBlock): string {
  const file = join(root, 'examples', `snippet-${n++}-${block.where.replace(/[^\w]+/g, '-')}.ts`)
  writeFileSync(file, `${block.marker!.prelude}\n${block.text}\n`)
  return file
}

void describe('docs > definitions snippets', () => {
  void test('the markdown has definitions snippets to load (the extraction found them)', () => {
    assert.ok(definitions.length > 0, `no marked definitions blocks among ${typescript.length} TypeScript blocks`)
  })

  void test('every TypeScript block carries a well-formed snippet marker', () => {
    const unmarked = typescript.filter((b) => b.marker === undefined).map((b) => b.where)
    assert.deepEqual(unmarked, [], 'mark each block <!-- snippet: module | fragment | no-definitions -->')
    const malformed = typescript.filter((b) => b.marker?.malformed !== undefined).map((b) => `${b.where}: ${b.marker!.malformed}`)
    assert.deepEqual(malformed, [], 'a marker is `module`, `fragment` or `no-definitions`, optionally `; refused: <text>`')
    const withPrelude = typescript
      .filter((b) => b.marker?.kind !== 'fragment' && b.marker?.prelude.trim() !== '')
      .map((b) => b.where)
    assert.deepEqual(withPrelude, [], 'only a fragment has lines after its marker, which are loaded before it')
  })

  void test('no definitions hide in an untagged block or one marked no-definitions', () => {
    const hidden = blocks
      .filter((b) => BUILDER_CALL.test(b.text) && (!TYPESCRIPT_LANGS.has(b.lang) || b.marker?.kind === 'no-definitions'))
      .map((b) => `${b.where} (${b.lang || 'no language'})`)
    assert.deepEqual(hidden, [], 'these blocks call a definition builder: make them ```ts blocks marked module or fragment')
  })

  for (const block of definitions) {
    const { refused } = block.marker!
    const title = refused === undefined ? 'loads through kfs apply' : `is refused by kfs apply: ${refused}`
    void test(`${block.where} (${block.marker!.kind}) ${title}`, async () => {
      const r = await apply(snippetModule(block))
      if (refused === undefined) {
        assert.equal(r.code, 0, `${block.where} does not load:\n${r.stderr}`)
      } else {
        assert.equal(r.code, 1, `${block.where} should be refused (${refused}); exit ${r.code}\n${r.stdout}${r.stderr}`)
        assert.ok(r.stderr.includes(refused), `${block.where}: the refusal does not say "${refused}":\n${r.stderr}`)
      }
    })
  }
})

void describe('docs > examples/ definitions modules', () => {
  const modules = readdirSync(join(repo, 'examples'))
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => /from '\.\.\/features\/index\.ts'/.test(readFileSync(join(repo, 'examples', f), 'utf8')))

  void test('examples/ has definitions modules (features.ts at least)', () => {
    assert.ok(modules.includes('features.ts'), modules.join(', '))
  })

  for (const file of modules) {
    void test(`examples/${file} loads through kfs apply`, async () => {
      const r = await apply(join(repo, 'examples', file))
      assert.equal(r.code, 0, `examples/${file} does not load:\n${r.stderr}`)
    })
  }
})
