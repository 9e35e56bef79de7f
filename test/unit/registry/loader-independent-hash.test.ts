import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { after, describe, test } from 'node:test'
import ts from 'typescript'
import { canonicalFunctionText } from '../../../features/closure/canonical-text.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const CORPUS = join(ROOT, 'test/fixtures/features/loader-corpus.ts')

interface Seen {
  readonly hashes: string[]
  readonly printed: Record<string, string>
  readonly texts: Record<string, string>
}

/** The corpus's view hashes and function texts as a child process loads `corpus` with `loader` flags. */
function seenBy(loader: readonly string[], corpus: string): Seen {
  const script = `
    const m = await import(${JSON.stringify(pathToFileURL(corpus).href)})
    const { viewHash } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'registry/index.ts')).href)})
    const { canonicalFunctionText } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'features/closure/canonical-text.ts')).href)})
    const texts = Object.fromEntries(Object.entries(m.printed).map(([k, t]) => [k, canonicalFunctionText(t)]))
    console.log(JSON.stringify({ hashes: m.views.map(viewHash), printed: m.printed, texts }))`
  return JSON.parse(execFileSync(process.execPath, [...loader, '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as Seen
}

const collapse = (text: string): string => text.replace(/\s+/g, ' ').trim()
const temp = mkdtempSync(join(tmpdir(), 'kfs-loader-hash-'))
after(() => rmSync(temp, { recursive: true, force: true }))

void describe('registry > view hash under every loader', () => {
  const tsx = seenBy(['--import', 'tsx'], CORPUS)

  void test('Node type stripping and tsx give one hash to every view', () => {
    const native = seenBy([], CORPUS)
    assert.equal(tsx.hashes.length, 9)
    assert.notEqual(native.printed['quotes'], tsx.printed['quotes'], 'the loaders print the text differently')
    assert.deepEqual(native.texts, tsx.texts)
    assert.deepEqual(native.hashes, tsx.hashes)
  })

  void test('JavaScript compiled by tsc gives the same hashes', () => {
    const js = ts.transpileModule(readFileSync(CORPUS, 'utf8'), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, removeComments: false },
    }).outputText
    const compiled = join(temp, 'loader-corpus.mjs')
    // The compiled module lives elsewhere: its relative imports and URLs point back into the repo.
    writeFileSync(compiled, js.replaceAll("'../../../", `'${pathToFileURL(ROOT).href}`).replaceAll('.ts\'', ".ts'"))
    assert.deepEqual(seenBy([], compiled).hashes, tsx.hashes)
  })

  void test('a hash computed under tsx before the reprint is unchanged, but for keepNames helper calls', () => {
    const withHelper = Object.keys(tsx.printed).filter((k) => tsx.printed[k]!.includes('__name('))
    // keepNames names what a function declares inside itself: a named function, a class, an arrow in a const.
    assert.deepEqual(withHelper.sort(), ['generic', 'nestedClass', 'nestedNamed'])
    for (const [name, text] of Object.entries(tsx.printed)) {
      if (withHelper.includes(name)) assert.doesNotMatch(tsx.texts[name]!, /__name/, name)
      else assert.equal(tsx.texts[name], collapse(text), name)
    }
  })
})

void describe('features > canonical function text', () => {
  void test('reprints arrows, functions and methods the same from any spacing or quoting', () => {
    assert.equal(canonicalFunctionText("(e)   =>  e.kind === 'buy'"), 'e=>e.kind==="buy"')
    assert.equal(canonicalFunctionText('function  keep ( e ) {\n  return e.x > 1 // why\n}'), 'function keep(e){return e.x>1}')
    assert.equal(canonicalFunctionText('keep(e) { return e.x > 1 }'), 'keep(e){return e.x>1}')
    assert.equal(canonicalFunctionText('async *gen(e) { yield e }'), 'async*gen(e){yield e}')
  })

  void test('takes out keepNames helper calls, however deeply a loader nested them', () => {
    const plain = canonicalFunctionText('e => { const f = function g(x) { return x }; class K {} return f(new K()) }')
    const once = 'e=>{const f=__name(function g(x){return x},"g");class K{static{__name(this,"K")}}return f(new K())}'
    const twice = 'e=>{const f=__name(__name(function g(x){return x},"g"),"g");class K{static{__name(this,"K")}static{__name(this,"K")}}return f(new K())}'
    assert.equal(canonicalFunctionText(once), plain)
    assert.equal(canonicalFunctionText(twice), plain)
    assert.equal(canonicalFunctionText('e=>{function d(y){return y}__name(d,"d");return d(e)}'), 'e=>{function d(y){return y}return d(e)}')
  })

  void test('keeps a text esbuild cannot read as written, whitespace collapsed', () => {
    assert.equal(canonicalFunctionText('function push() { [native code] }'), 'function push() { [native code] }')
    assert.equal(canonicalFunctionText('not  a\n function ('), 'not a function (')
  })
})
