/**
 * A request feature's `fn` runs in serving and in training sets; what it returns must be held to
 * one rule in both (features/request-output.ts). Training used to write NaN and ±Infinity into
 * the set, and -0 as -0, while serving answered the same row with a 500 (JSON carries neither) or
 * with 0: a model trained on rows serving refuses. Now both refuse a non-finite double naming the
 * feature and what came back, both answer -0 as 0, and both refuse a string serving cannot send.
 * A string with a lone surrogate went to the training set as U+FFFD (UTF-8) but to serving's
 * client escaped as itself; both now answer U+FFFD.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { requestFeature } from '../../../features/index.ts'
import { MAX_REQUEST_STRING_CHARS } from '../../../features/request-output.ts'
import type { RequestValueType } from '../../../features/types.ts'
import { stamped, trainAndServe, userProbe } from './serving-agreement.ts'

const T = 1_700_000_000_000

/** Builds a one-label training set of a request feature returning `value`, and serves it at the label's time. */
async function both(type: RequestValueType, value: unknown) {
  // The fn under test returns a value of this test's scope, which requestFeature refuses (a fn reads
  // nothing from outside itself, docs/semantics.md §27): it is set on the declared definition.
  const declared = requestFeature({
    name: 'probe_out',
    request: { amount: 'double' },
    features: ['user_probe@1:x_last'],
    outputType: type,
    description: 'returns the value under test',
    fn: () => null,
  })
  const rf = { ...declared, fn: (() => value) as never }
  return trainAndServe({
    rows: new Map([[userProbe, [stamped('u0', T - 1000, [2.5, 3, 'a'])]]]),
    labels: [{ keys: { user_id: 'u0' }, tMs: T, request: { amount: 1 } }],
    features: ['probe_out'],
    requestFeatures: [rf],
  })
}

const REFUSED: readonly { what: string; type: RequestValueType; value: unknown; problem: string }[] = [
  { what: 'NaN', type: 'double', value: NaN, problem: 'returned NaN, not a finite double' },
  { what: 'Infinity', type: 'double', value: Infinity, problem: 'returned Infinity, not a finite double' },
  { what: '-Infinity', type: 'double', value: -Infinity, problem: 'returned -Infinity, not a finite double' },
  { what: 'NaN for a long', type: 'long', value: NaN, problem: 'returned NaN, not a long (a safe integer)' },
  { what: 'Infinity for a long', type: 'long', value: Infinity, problem: 'returned Infinity, not a long (a safe integer)' },
  { what: '-Infinity for a long', type: 'long', value: -Infinity, problem: 'returned -Infinity, not a long (a safe integer)' },
  {
    what: 'a string longer than serving sends',
    type: 'string',
    value: 'x'.repeat(MAX_REQUEST_STRING_CHARS + 1),
    problem: `returned a string of ${MAX_REQUEST_STRING_CHARS + 1} characters (at most ${MAX_REQUEST_STRING_CHARS})`,
  },
]

const ANSWERED: readonly { what: string; type: RequestValueType; value: unknown; want: unknown }[] = [
  { what: '-0 as a double', type: 'double', value: -0, want: 0 },
  { what: '-0 as a long', type: 'long', value: -0, want: 0 },
  { what: 'the smallest subnormal', type: 'double', value: 5e-324, want: 5e-324 },
  { what: 'the largest double', type: 'double', value: -Number.MAX_VALUE, want: -Number.MAX_VALUE },
  { what: 'the largest safe long', type: 'long', value: Number.MAX_SAFE_INTEGER, want: Number.MAX_SAFE_INTEGER },
  {
    what: 'a string of the longest length',
    type: 'string',
    value: 'é'.repeat(MAX_REQUEST_STRING_CHARS),
    want: 'é'.repeat(MAX_REQUEST_STRING_CHARS),
  },
  { what: 'an empty string', type: 'string', value: '', want: '' },
  { what: 'a lone high surrogate (an emoji cut in half)', type: 'string', value: '😀x'.slice(0, 1), want: '\ufffd' },
  { what: 'a lone low surrogate amid text', type: 'string', value: 'a\udc00b', want: 'a\ufffdb' },
  { what: 'a whole surrogate pair', type: 'string', value: 'a😀', want: 'a😀' },
  { what: 'undefined', type: 'double', value: undefined, want: null },
]

void describe('training–serving agreement > what a request feature returns', () => {
  for (const c of REFUSED) {
    void test(`${c.what}: both refuse, naming the feature and what came back`, async () => {
      const { training, serving } = await both(c.type, c.value)
      assert.deepEqual(training, { ok: false, message: `label row 1: request feature probe_out ${c.problem}` })
      assert.deepEqual(serving, [{ ok: false, message: `request feature probe_out ${c.problem}` }])
    })
  }

  for (const c of ANSWERED) {
    void test(`${c.what}: the training set holds what serving answers`, async () => {
      const { training, serving } = await both(c.type, c.value)
      assert.ok(Array.isArray(training), JSON.stringify(training))
      assert.deepEqual(serving, [{ ok: true, values: [c.want] }])
      // Object.is: -0 and 0 are deepEqual-distinct only this way.
      assert.ok(
        Object.is(training[0]!.ok && training[0]!.values[0], c.want),
        `training holds ${String(training[0]!.ok && training[0]!.values[0])}`,
      )
      assert.ok(serving[0]!.ok && Object.is(serving[0]!.values[0], c.want))
    })
  }
})
