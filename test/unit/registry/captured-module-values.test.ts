/**
 * A definitions module changed only in a value its filter, map or fn reads from outside the
 * function — a module constant, a value imported from another module — must not deploy as the
 * version already published: before, `filter: (e) => e.amount > threshold` hashed the same with
 * threshold 10 and 20, `kfs apply` saw nothing to do, and the engine kept serving (and training
 * sets kept reading) rows computed with 10. Such a module is now refused when loaded, naming the
 * value and the fix. The fix, `constants`, is part of the hash: a module changed only in a
 * constant is a changed view version that apply refuses to overwrite (publish version 2), and the
 * same constants are the same version (docs/semantics.md §27).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Clock } from '../../../core/clock.ts'
import { DefinitionError } from '../../../core/errors.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { renderShow } from '../../../main/commands/registry-format.ts'
import {
  createRegistry,
  DefinitionChangedError,
  loadDefinitions,
  requestFeatureHash,
  viewHash,
  type DefinitionSet,
} from '../../../registry/index.ts'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'kfs-captured-'))
writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
after(() => rmSync(dir, { recursive: true, force: true }))

let n = 0
function file(text: string): string {
  const path = join(dir, `m${n++}.ts`)
  writeFileSync(path, text)
  return path
}

/** A definitions module over a purchases source; `head` declares what the functions read, `options` goes into the view and the request feature. */
function module(head: string, view: string, fn: string): string {
  return file(`import { entity, source, featureView, requestFeature } from '${repo}features/index.ts'
${head}
const schema = { type: 'record', name: 'P', fields: [{ name: 'user_id', type: 'string' }, { name: 'amount', type: 'double' }, { name: 'ts', type: 'long' }] } as const
export const user = entity({ name: 'user', joinKeys: ['user_id'] })
export const purchases = source({ name: 'purchases', topic: 'purchases', schema, eventTimeField: 'ts', keyedBy: user })
export const big = featureView({ name: 'big_purchases', version: 1, entity: user, source: purchases, ${view}, aggregations: [{ op: 'count', windows: ['1h'] }], ttl: '1d', freshnessSla: '1m', owner: 'o', description: 'd' })
export const scaled = requestFeature({ name: 'scaled', request: { amount: 'double' }, features: [], outputType: 'double', description: 'd', ${fn} })
`)
}

const CAPTURED: Readonly<
  Record<string, { readonly reads: string; readonly head: (v: number) => string; readonly view: string; readonly fn: string }>
> = {
  'filter reading a module constant': {
    reads: 'threshold',
    head: (v) => `const threshold = ${v}`,
    view: 'filter: (e) => Number(e.amount) > threshold',
    fn: 'fn: (req) => Number(req.amount)',
  },
  'map reading a module constant': {
    reads: 'rate',
    head: (v) => `const rate = ${v}`,
    view: 'map: (e) => ({ ...e, amount: Number(e.amount) * rate })',
    fn: 'fn: (req) => Number(req.amount)',
  },
  'fn reading a module constant': {
    reads: 'rate',
    head: (v) => `const rate = ${v}`,
    view: 'filter: (e) => Number(e.amount) > 0',
    fn: 'fn: (req) => Number(req.amount) * rate',
  },
  'filter reading a value imported from another module': {
    reads: 'LIMIT',
    head: (v) => `import { LIMIT } from '${file(`export const LIMIT = ${v}`)}'`,
    view: 'filter: (e) => Number(e.amount) > LIMIT',
    fn: 'fn: (req) => Number(req.amount)',
  },
  'filter calling an imported helper': {
    reads: 'isBig',
    head: (v) => `import { isBig } from '${file(`export const isBig = (x: number): boolean => x > ${v}`)}'`,
    view: 'filter: (e) => isBig(Number(e.amount))',
    fn: 'fn: (req) => Number(req.amount)',
  },
  'fn reading a module namespace import': {
    reads: 'config',
    head: (v) => `import * as config from '${file(`export const rate = ${v}`)}'`,
    view: 'filter: (e) => Number(e.amount) > 0',
    fn: 'fn: (req) => Number(req.amount) * config.rate',
  },
}

/** Both modules' view and request feature hashes, or the DefinitionError a module was refused with. */
async function hashes(path: string): Promise<string | DefinitionError> {
  try {
    const set = await loadDefinitions(path)
    return [...set.views.map(viewHash), ...set.requestFeatures.map(requestFeatureHash)].join(',')
  } catch (err: unknown) {
    if (err instanceof DefinitionError) return err
    throw err
  }
}

void describe('registry > a definitions module changed only in a value its functions capture', () => {
  for (const [kind, c] of Object.entries(CAPTURED)) {
    void test(`${kind}: refused when loaded, naming it and the fix (its version could not change with it)`, async () => {
      const ten = await hashes(module(c.head(10), c.view, c.fn))
      const twenty = await hashes(module(c.head(20), c.view, c.fn))
      for (const loaded of [ten, twenty]) {
        assert.ok(
          loaded instanceof DefinitionError,
          `loaded, hashes ${String(ten)} and ${String(twenty)}: the version would not change with ${c.reads}`,
        )
        assert.ok(loaded.message.includes(`reads ${c.reads} from outside itself`), loaded.message)
        assert.match(loaded.message, /constants: \{ \w+: … \}/)
      }
    })
  }
})

function manualClock(): Clock {
  const now = 1_700_000_000_000
  return { nowMs: () => now, sleep: async () => {} }
}

const withConstants = (v: number, extra = ''): string =>
  module(
    '',
    `constants: { threshold: ${v}${extra} }, filter: (e, c) => Number(e.amount) > c.threshold`,
    `constants: { rate: ${v} }, fn: (req, _f, c) => Number(req.amount) * c.rate`,
  )

void describe('registry > constants: what the functions read, part of the version', () => {
  void test('a module changed only in a constant: a changed version, refused by apply (publish version 2), the change named; registry show lists them', async () => {
    const registry = createRegistry({ store: new MemoryObjectStore(), clock: manualClock() })
    await registry.apply(await loadDefinitions(withConstants(10)))
    const shown = renderShow((await registry.getView('big_purchases', 1))!, [1], [])
    assert.match(shown, /\n {2}constants {5}\{"threshold":10\}\n/)
    const changed: DefinitionSet = await loadDefinitions(withConstants(20))
    const plan = await registry.diff(changed)
    assert.deepEqual(
      plan.views.map((v) => [v.name, v.change]),
      [['big_purchases', 'changed']],
    )
    assert.deepEqual(plan.views[0]?.logicChanges, ['constants.threshold: 10 → 20'])
    assert.deepEqual(
      plan.requestFeatures.map((r) => [r.name, r.change]),
      [['scaled', 'changed']],
    )
    await assert.rejects(registry.apply(changed), (err: unknown) => {
      assert.ok(err instanceof DefinitionChangedError)
      assert.match(err.message, /view big_purchases v1 changed .*publish it as version 2/)
      return true
    })
  })

  void test('the same constants, written in another order or in a fresh module: the same version', async () => {
    const registry = createRegistry({ store: new MemoryObjectStore(), clock: manualClock() })
    const first = await loadDefinitions(withConstants(10, ', other: [1, 2]'))
    await registry.apply(first)
    const again = await loadDefinitions(
      module(
        '',
        'constants: { other: [1, 2], threshold: 10 }, filter: (e, c) => Number(e.amount) > c.threshold',
        'constants: { rate: 10 }, fn: (req, _f, c) => Number(req.amount) * c.rate',
      ),
    )
    assert.equal(viewHash(again.views[0]!), viewHash(first.views[0]!))
    const plan = await registry.diff(again)
    assert.deepEqual(
      [...plan.views, ...plan.requestFeatures].map((i) => i.change),
      ['unchanged', 'unchanged'],
    )
  })
})
