/**
 * A view's (or request feature's) version must change whenever its results can. Its hash covers a
 * filter's, map's or fn's source text, and JavaScript cannot read what a function captures: a
 * filter `(e) => e.price > threshold` hashed the same with threshold 10 and 20, so a deploy kept
 * serving and training on rows computed with 10. Every kind of value a function can read from
 * outside its text — a const, a let, an object, a helper, a class, `this`, `arguments`,
 * globalThis, process.env, a member a module adds to a built-in, a closure nested in the function
 * — is refused when the definition is declared, naming what it reads and the fix (docs/semantics.md §27).
 * Impure globals (Math.random, Date, eval, Function) likewise. What the function's own text holds
 * (its parameters, its locals, closures over them, pure globals) is accepted, and the same text
 * gives the same version.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DefinitionError } from '../../../core/errors.ts'
import { featureView, requestFeature } from '../../../features/index.ts'
import type { EventRecord, FeatureValue } from '../../../features/types.ts'
import { requestFeatureHash, viewHash } from '../../../registry/index.ts'
import { viewBase } from './fixtures.ts'

type Filter = (e: EventRecord) => boolean
type MapFn = (e: EventRecord) => EventRecord
type Fn = (req: Readonly<Record<string, unknown>>, f: Readonly<Record<string, FeatureValue>>) => FeatureValue | boolean

interface Capture {
  /** What the refusal must name. */
  readonly reads: string
  /** The three functions, each reading `v` the same way, with identical text whatever `v` is. */
  readonly make: (v: number) => { readonly filter: Filter; readonly map: MapFn; readonly fn: Fn }
  /** Runs the functions as the engine does (false: they need a receiver the engine does not give). */
  readonly callable?: false
}

const g = globalThis as unknown as Record<string, number>
const env = process.env
const numberStatics = Number as unknown as Record<string, number>

const CAPTURES: Readonly<Record<string, Capture>> = {
  'a const of the module': {
    reads: 'threshold',
    make: (v) => {
      const threshold = v
      return {
        filter: (e) => Number(e.price) > threshold,
        map: (e) => ({ ...e, price: Number(e.price) * threshold }),
        fn: (req) => Number(req.amount) * threshold,
      }
    },
  },
  'a let reassigned after the definition': {
    reads: 'rate',
    make: (v) => {
      let rate = 0
      const made = {
        filter: (e: EventRecord) => Number(e.price) > rate,
        map: (e: EventRecord) => ({ ...e, price: Number(e.price) * rate }),
        fn: (req: Readonly<Record<string, unknown>>) => Number(req.amount) * rate,
      }
      rate = v
      return made
    },
  },
  "an object's member": {
    reads: 'rules',
    make: (v) => {
      const rules = { threshold: v }
      return {
        filter: (e) => Number(e.price) > rules.threshold,
        map: (e) => ({ ...e, price: Number(e.price) * rules.threshold }),
        fn: (req) => Number(req.amount) * rules.threshold,
      }
    },
  },
  'a helper function (that captures in turn)': {
    reads: 'scale',
    make: (v) => {
      const scale = (x: number): number => x * v
      return {
        filter: (e) => scale(Number(e.price)) > 200,
        map: (e) => ({ ...e, price: scale(Number(e.price)) }),
        fn: (req) => scale(Number(req.amount)),
      }
    },
  },
  "a class's static member": {
    reads: 'Rules',
    make: (v) => {
      class Rules {
        static threshold = v
      }
      return {
        filter: (e) => Number(e.price) > Rules.threshold,
        map: (e) => ({ ...e, price: Number(e.price) * Rules.threshold }),
        fn: (req) => Number(req.amount) * Rules.threshold,
      }
    },
  },
  'this, through a bound method': {
    reads: 'built-in or bound function',
    make: (v) => {
      const rules = {
        t: v,
        keep(e: EventRecord): boolean {
          return Number(e.price) > this.t
        },
        scale(e: EventRecord): EventRecord {
          return { ...e, price: Number(e.price) * this.t }
        },
        ratio(req: Readonly<Record<string, unknown>>): number {
          return Number(req.amount) * this.t
        },
      }
      return { filter: rules.keep.bind(rules), map: rules.scale.bind(rules), fn: rules.ratio.bind(rules) }
    },
  },
  'this, in a method passed as it is': {
    reads: 'this',
    callable: false,
    make: (v) => {
      const rules = {
        t: v,
        keep(e: EventRecord): boolean {
          return Number(e.price) > this.t
        },
        scale(e: EventRecord): EventRecord {
          return { ...e, price: Number(e.price) * this.t }
        },
        ratio(req: Readonly<Record<string, unknown>>): number {
          return Number(req.amount) * this.t
        },
      }
      return { filter: rules.keep, map: rules.scale, fn: rules.ratio }
    },
  },
  'arguments of the enclosing function': {
    reads: 'arguments',
    make: (v) => {
      const made = function (_v: number) {
        /* eslint-disable prefer-rest-params -- an enclosing function's arguments are the case under test */
        return {
          filter: (e: EventRecord) => Number(e.price) > (arguments[0] as number),
          map: (e: EventRecord) => ({ ...e, price: Number(e.price) * (arguments[0] as number) }),
          fn: (req: Readonly<Record<string, unknown>>) => Number(req.amount) * (arguments[0] as number),
        }
        /* eslint-enable prefer-rest-params */
      }
      return made(v)
    },
  },
  globalThis: {
    reads: 'globalThis',
    make: (v) => {
      g.kfsCapturedThreshold = v
      return {
        filter: (e) => Number(e.price) > (globalThis as unknown as Record<string, number>).kfsCapturedThreshold!,
        map: (e) => ({ ...e, price: Number(e.price) * (globalThis as unknown as Record<string, number>).kfsCapturedThreshold! }),
        fn: (req) => Number(req.amount) * (globalThis as unknown as Record<string, number>).kfsCapturedThreshold!,
      }
    },
  },
  'process.env': {
    reads: 'process',
    make: (v) => {
      env.KFS_CAPTURED_THRESHOLD = String(v)
      return {
        filter: (e) => Number(e.price) > Number(process.env.KFS_CAPTURED_THRESHOLD),
        map: (e) => ({ ...e, price: Number(e.price) * Number(process.env.KFS_CAPTURED_THRESHOLD) }),
        fn: (req) => Number(req.amount) * Number(process.env.KFS_CAPTURED_THRESHOLD),
      }
    },
  },
  'a member a module adds to a built-in (Number.X)': {
    reads: 'Number.KFS_CAPTURED',
    make: (v) => {
      numberStatics.KFS_CAPTURED = v
      return {
        filter: (e) => Number(e.price) > (Number as unknown as Record<string, number>).KFS_CAPTURED!,
        map: (e) => ({ ...e, price: Number(e.price) * (Number as unknown as Record<string, number>).KFS_CAPTURED! }),
        fn: (req) => Number(req.amount) * (Number as unknown as Record<string, number>).KFS_CAPTURED!,
      }
    },
  },
  'a closure nested in the function': {
    reads: 'limit',
    make: (v) => {
      const limit = v
      return {
        filter: (e) => [Number(e.price)].some((p) => p > limit),
        map: (e) => ({ ...e, price: [Number(e.price)].map((p) => p * limit)[0] }),
        fn: (req) => [Number(req.amount)].map((a) => a * limit)[0]!,
      }
    },
  },
  'a closure of a closure (two scopes up)': {
    reads: 'depth',
    make: (v) => {
      const depth = v
      const outer = () => ({
        filter: (e: EventRecord) => Number(e.price) > depth,
        map: (e: EventRecord) => ({ ...e, price: Number(e.price) * depth }),
        fn: (req: Readonly<Record<string, unknown>>) => Number(req.amount) * depth,
      })
      return outer()
    },
  },
}

const PRICE_EVENT: EventRecord = { user_id: 'u', item_id: 'i', price: 15, quantity: 1, bot: false, category: null, ts: 0 }
const ROLES = ['filter', 'map', 'fn'] as const
type Role = (typeof ROLES)[number]

/** Declares the definition with `fn` in `role`; returns its hash, or the DefinitionError it was refused with. */
function declare(role: Role, fns: ReturnType<Capture['make']>): string | DefinitionError {
  try {
    if (role === 'fn') {
      return requestFeatureHash(
        requestFeature({
          name: 'ratio',
          request: { amount: 'double' },
          features: [],
          outputType: 'double',
          description: 'd',
          fn: fns.fn,
        }),
      )
    }
    const aggregations = [{ op: 'sum', field: 'price', windows: ['1h'] }] as const
    return viewHash(
      featureView({ ...viewBase, aggregations, ...(role === 'filter' ? { filter: fns.filter } : { map: fns.map }) }),
    )
  } catch (err: unknown) {
    if (err instanceof DefinitionError) return err
    throw err
  }
}

function run(role: Role, fns: ReturnType<Capture['make']>): unknown {
  if (role === 'filter') return fns.filter(PRICE_EVENT)
  if (role === 'map') return fns.map(PRICE_EVENT).price
  return fns.fn({ amount: 15 }, {})
}

void describe('definitions > a function that reads a value from outside its text', () => {
  for (const [kind, capture] of Object.entries(CAPTURES)) {
    for (const role of ROLES) {
      void test(`${role} reading ${kind}: refused, naming it (its version could not change with it)`, () => {
        const low = capture.make(10)
        const lowResult = capture.callable === false ? undefined : run(role, low)
        const high = capture.make(20)
        // The case is real: same text, other results.
        assert.equal(low[role].toString(), high[role].toString())
        if (capture.callable !== false) assert.notDeepEqual(run(role, high), lowResult, 'the captured value changes the results')
        for (const fns of [low, high]) {
          const declared = declare(role, fns)
          assert.ok(
            declared instanceof DefinitionError,
            `declared with hash ${String(declared)}: the version would not change with ${capture.reads}`,
          )
          assert.ok(declared.message.includes(capture.reads), declared.message)
          assert.match(declared.message, new RegExp(`^(view user_stats|request feature ratio): ${role} `))
        }
      })
    }
  }
})

void describe('definitions > a function that reads an impure global', () => {
  const IMPURE: Readonly<Record<string, { readonly reads: string; readonly filter: Filter }>> = {
    'Math.random': { reads: 'Math.random', filter: () => Math.random() < 0.5 },
    'Math, aliased': {
      reads: 'Math',
      filter: (e) => {
        const m = Math
        return m.max(Number(e.price), 1) > 2
      },
    },
    'Math[computed]': {
      reads: 'Math[…]',
      filter: (e) => (Math as unknown as Record<string, (x: number) => number>)[String(e.item_id)]!(1) > 0,
    },
    'Date.now': { reads: 'Date', filter: (e) => Number(e.ts) > Date.now() - 1000 },
    'new Date (the host time zone)': { reads: 'Date', filter: (e) => new Date(Number(e.ts)).getHours() > 12 },
    eval: { reads: 'eval', filter: () => eval('1 > 0') as boolean },
    'the Function constructor': {
      reads: 'Function',
      filter: (e) => (new Function('p', 'return p > 10') as (p: number) => boolean)(Number(e.price)),
    },
    'dynamic import()': { reads: 'import()', filter: () => import('node:os') !== undefined },
  }
  for (const [kind, { reads, filter }] of Object.entries(IMPURE)) {
    void test(`${kind}: refused, naming it`, () => {
      const declared = declare('filter', { filter, map: (e) => e, fn: () => null })
      assert.ok(declared instanceof DefinitionError, `declared with hash ${String(declared)}`)
      assert.ok(declared.message.includes(reads), declared.message)
    })
  }
})

void describe('definitions > a self-contained function', () => {
  const SELF_CONTAINED: Readonly<Record<string, Filter>> = {
    'its parameter and literals': (e) => Number(e.price) >= 500,
    'pure globals': (e) =>
      Number.isFinite(Number(e.price)) &&
      Math.max(Number(e.price), 0) > 1 &&
      JSON.stringify(e) !== '' &&
      String(e.item_id) !== '' &&
      e.category !== undefined,
    'its own locals, a nested helper and a closure over them': (e) => {
      const limit = 10
      function above(x: number): boolean {
        return x > limit
      }
      const scaled = [Number(e.price)].map((p) => p * 2)
      return scaled.some(above)
    },
    'its own class, whose methods use this': (e) => {
      class Box {
        v = Number(e.price)
        big(): boolean {
          return this.v > 10
        }
      }
      return new Box().big()
    },
    'a function expression and its own arguments': function (e: EventRecord): boolean {
      return arguments.length === 1 && Number(e.price) > 10
    },
    'a local shadowing a module name': (e) => {
      const process = { threshold: 10 }
      return Number(e.price) > process.threshold
    },
  }
  for (const [kind, filter] of Object.entries(SELF_CONTAINED)) {
    void test(`reading ${kind}: accepted, and the same text is the same version`, () => {
      const first = declare('filter', { filter, map: (e) => e, fn: () => null })
      assert.equal(typeof first, 'string', String(first))
      assert.equal(declare('filter', { filter, map: (e) => e, fn: () => null }), first)
    })
  }

  void test('the same text in two closures (fresh functions) is the same version; other text another', () => {
    const make = (): Filter => (e) => Number(e.price) > 10
    assert.equal(
      declare('filter', { filter: make(), map: (e) => e, fn: () => null }),
      declare('filter', { filter: make(), map: (e) => e, fn: () => null }),
    )
    assert.notEqual(
      declare('filter', { filter: make(), map: (e) => e, fn: () => null }),
      declare('filter', { filter: (e) => Number(e.price) > 11, map: (e) => e, fn: () => null }),
    )
  })
})
