/**
 * Training–serving agreement at the edges: for the same entity and time, the training set's row
 * holds what `POST /v1/features` answers (test/unit/training/serving-agreement.ts builds both).
 * Classes: values at their edges, label times on and beside a row's as_of and TTL, entities
 * without rows, entity keys with unusual characters, 64-bit int keys, view versions.
 *
 * Found here: an `int` entity's key past 2^53 (a 64-bit id the engine keeps from its digits and a
 * training set joins exactly) was refused by serving ("must be a canonical integer"), so a model
 * trained on such entities could not be served them; and a label's int key spelled otherwise
 * (`007`, `7.0`, as pandas writes float ids) silently joined nothing — nulls in every feature of
 * that row — where serving answers 400. A training set now refuses it naming the row. A string
 * value with a lone surrogate was U+FFFD in the training set and itself (escaped) in serving's
 * answer from the embedded store, or inside a string list from Redis; the online store now holds
 * U+FFFD as the offline table does.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { encodeEntityKey } from '../../../core/entity-key.ts'
import * as examples from '../../../examples/features.ts'
import type { FeatureValue } from '../../../features/types.ts'
import {
  accountProbe,
  stamped,
  trainAndServe,
  userAccountProbe,
  userProbe,
  userProbeV2,
  type Outcome,
} from './serving-agreement.ts'

const T = 1_700_000_000_000
const TTL = 3_600_000

/** Both sides answered, and alike (Object.is per value, so 0 and -0 or NaN would show). */
function assertAgree(training: Outcome[] | Outcome, serving: readonly Outcome[], want?: readonly (readonly unknown[])[]): void {
  assert.ok(Array.isArray(training), `training set failed: ${JSON.stringify(training)}`)
  assert.equal(training.length, serving.length)
  serving.forEach((s, i) => {
    const t = training[i]!
    assert.ok(s.ok && t.ok, `label ${i}: ${JSON.stringify(t)} vs ${JSON.stringify(s)}`)
    assert.equal(t.values.length, s.values.length)
    t.values.forEach((v, j) =>
      assert.ok(
        Object.is(v, s.values[j]) || JSON.stringify(v) === JSON.stringify(s.values[j]),
        `label ${i} value ${j}: ${String(v)} vs ${String(s.values[j])}`,
      ),
    )
    if (want !== undefined) assert.deepEqual(s.values, want[i], `label ${i}`)
  })
}

const VALUES: readonly (readonly [string, readonly FeatureValue[]])[] = [
  ['the largest double and safe long', [Number.MAX_VALUE, Number.MAX_SAFE_INTEGER, 'a']],
  ['the most negative', [-Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 'b']],
  ['the smallest subnormal', [5e-324, 1, 'c']],
  ['a double with no short decimal', [0.1 + 0.2, 0, 'd']],
  ['exponent forms', [1e21, 2 ** 52, 'e']],
  ['an empty string', [1, 1, '']],
  ['nulls', [null, null, null]],
  ['unicode: accents, CJK, astral, combining', [1, 1, 'ü漢😀e\u0301']],
  ['characters CSV and JSON escape', [1, 1, 'a"b,c\nd\re\\f\tg']],
  ['a NUL and control characters', [1, 1, '\u0000\u0001\u007f']],
  ['a lone surrogate (a map can make one): U+FFFD in both', [1, 1, 'a\ud800b']],
]

const STRING_KEYS = ['ü-ß', 'a b', 'a"b', 'a,b', 'a\\b', '😀', "x'y", ' lead', 'trail ', '\u00a0', '-0', 'a'.repeat(512)]
/** Spellings of 7 (and non-integers) that name no int entity: the engine and serving refuse them. */
const NOT_INT_KEYS = ['007', '+7', '7.0', ' 7', '7 ', '1e3', '7.5', '0x7', '-0007', '-0', '-00']
const INT_KEYS = [
  '9223372036854775807',
  '-9223372036854775808',
  '9007199254740993',
  '12345678901234567890123',
  '9007199254740991',
  '0',
  '-5',
]

void describe('training–serving agreement at the edges', () => {
  void test('values at their edges: the training set holds what serving answers', async () => {
    const rows = VALUES.map(([, values], i) => stamped(`u${i}`, T - 10, values))
    const { training, serving } = await trainAndServe({
      rows: new Map([[userProbe, rows]]),
      labels: VALUES.map((_, i) => ({ keys: { user_id: `u${i}` }, tMs: T })),
      features: ['user_probe@1:x_last', 'user_probe@1:n_last', 'user_probe@1:s_last'],
    })
    assertAgree(
      training,
      serving,
      VALUES.map(([, v]) => v.map((x) => (typeof x === 'string' ? x.toWellFormed() : x))),
    )
  })

  void test('string lists: empty, null, unicode, a lone surrogate', async () => {
    const lists: readonly (readonly string[] | null)[] = [[], null, ['ü😀', '', 'x"y'], ['a\udfffb', 'ok']]
    const { training, serving } = await trainAndServe({
      rows: new Map([[examples.userClicks, lists.map((l, i) => stamped(`u${i}`, T, [1, 1, 1, 1, l]))]]),
      labels: lists.map((_, i) => ({ keys: { user_id: `u${i}` }, tMs: T })),
      features: ['user_clicks:item_id_last_n_1d'],
    })
    assertAgree(
      training,
      serving,
      lists.map((l) => [l === null ? null : l.map((x) => x.toWellFormed())]),
    )
  })

  void test('label times on, before and after a row and its TTL; an entity without rows', async () => {
    const rows = [stamped('u0', T - 5000, [1, 1, 'older']), stamped('u0', T, [2, 2, 'at T']), stamped('u1', T, [3, 3, 'other'])]
    const cases: readonly (readonly [string, number, readonly unknown[]])[] = [
      ['u0', T - 1, [1, 'older']],
      ['u0', T, [2, 'at T']],
      ['u0', T + 1, [2, 'at T']],
      ['u0', T + TTL - 1, [2, 'at T']],
      ['u0', T + TTL, [null, null]],
      ['u0', T + TTL + 1, [null, null]],
      ['u0', T - 5001, [null, null]],
      ['nobody', T, [null, null]],
    ]
    const { training, serving } = await trainAndServe({
      rows: new Map([[userProbe, rows]]),
      labels: cases.map(([user, t]) => ({ keys: { user_id: user }, tMs: t })),
      features: ['user_probe@1:x_last', 'user_probe@1:s_last'],
    })
    assertAgree(
      training,
      serving,
      cases.map(([, , want]) => want),
    )
  })

  void test('string keys with unusual characters', async () => {
    const { training, serving } = await trainAndServe({
      rows: new Map([[userProbe, STRING_KEYS.map((k, i) => stamped(k, T, [i, i, k]))]]),
      labels: STRING_KEYS.map((k) => ({ keys: { user_id: k }, tMs: T })),
      features: ['user_probe@1:n_last', 'user_probe@1:s_last'],
    })
    assertAgree(
      training,
      serving,
      STRING_KEYS.map((k, i) => [i, k]),
    )
  })

  for (const format of ['csv', 'parquet'] as const) {
    void test(`int keys, past 2^53 and past 64 bits, sent as their digits (${format} labels)`, async () => {
      const { training, serving } = await trainAndServe({
        rows: new Map([[accountProbe, INT_KEYS.map((k, i) => stamped(k, T, [i, i, k]))]]),
        labels: INT_KEYS.map((k) => ({ keys: { account_id: k }, tMs: T })),
        features: ['account_probe:n_last'],
        labelFormat: format,
      })
      assertAgree(
        training,
        serving,
        INT_KEYS.map((_, i) => [i]),
      )
    })
  }

  for (const format of ['csv', 'parquet'] as const) {
    for (const key of NOT_INT_KEYS) {
      void test(`int key ${JSON.stringify(key)} in ${format} labels: refused naming the row, as serving refuses it`, async () => {
        const { training, serving } = await trainAndServe({
          rows: new Map([[accountProbe, [stamped('7', T, [1, 1, 'seven'])]]]),
          labels: [
            { keys: { account_id: '7' }, tMs: T },
            { keys: { account_id: key }, tMs: T },
          ],
          features: ['account_probe:n_last'],
          labelFormat: format,
        })
        assert.deepEqual(training, {
          ok: false,
          message: `label row 2: account_id ${JSON.stringify(key)} is not an integer key (the entity's keys are integers written as 7, not 007, +7 or 7.0), as serving refuses it`,
        })
        assert.deepEqual(serving[0], { ok: true, values: [1] })
        assert.ok(
          !serving[1]!.ok && /account_id must be a canonical integer|account_id is invalid/.test(serving[1]!.message),
          JSON.stringify(serving[1]),
        )
      })
    }
  }

  void test('composite keys whose parts hold the escape character and 64-bit ids', async () => {
    const pairs = [
      ['a\\', 'b'],
      ['x\\\\y', '9007199254740993'],
      ['ü', '-1'],
    ] as const
    const { training, serving } = await trainAndServe({
      rows: new Map([[userAccountProbe, pairs.map((p, i) => stamped(encodeEntityKey(p), T, [i, i, 's']))]]),
      labels: pairs.map(([user, acct]) => ({ keys: { user_id: user, account_id: acct }, tMs: T })),
      features: ['user_account_probe:n_last'],
    })
    assertAgree(
      training,
      serving,
      pairs.map((_, i) => [i]),
    )
  })

  void test('a view with a newer version: the plain name reads the latest in both, a pin reads its version', async () => {
    const { training, serving } = await trainAndServe({
      rows: new Map([
        [userProbe, [stamped('u0', T, [1, 1, 'v1'])]],
        [userProbeV2, [stamped('u0', T, [2, 2, 'v2'])]],
      ]),
      labels: [{ keys: { user_id: 'u0' }, tMs: T }],
      features: ['user_probe:s_last', 'user_probe@1:n_last'],
    })
    assertAgree(training, serving, [['v2', 1]])
  })
})
