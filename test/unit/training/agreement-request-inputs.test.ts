/**
 * A request feature's inputs reach its `fn` in serving as the client sent them (JSON) and in a
 * training set from label columns. Two ways they differed, for the same `fn` and the same inputs:
 * - a `string` input read from a CSV column that looked numeric was typed as a number first, so
 *   `fn` got `2139` for the code `02139`, `1.5` for `1.50`, `1000` for `1e3` — serving got the text;
 * - a numeric input read from text took anything `Number()` takes: `0x10` was 16, ` 12` was 12,
 *   `0b11` was 3, where no client could send those as numbers.
 * Now string inputs keep their text (as join keys do) and numeric text must be a decimal number.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { requestFeature } from '../../../features/index.ts'
import { stamped, trainAndServe, userProbe } from './serving-agreement.ts'

const T = 1_700_000_000_000
const rows = new Map([[userProbe, [stamped('u0', T - 1, [1, 1, 'a'])]]])

/** Echoes its string input, so the test sees exactly what `fn` was given. */
const echo = requestFeature({
  name: 'echo_code',
  request: { code: 'string' },
  features: ['user_probe@1:x_last'],
  outputType: 'string',
  description: 'the code as fn sees it',
  fn: (req) => `<${String(req.code)}>`,
})
const half = requestFeature({
  name: 'half_x',
  request: { x: 'double' },
  features: ['user_probe@1:x_last'],
  outputType: 'double',
  description: 'x / 2',
  fn: (req) => (req.x as number) / 2,
})

/** Columns of string inputs, each a whole column (the CSV infers its type from all of it). */
const STRING_COLUMNS: readonly (readonly [string, readonly string[]])[] = [
  ['zip codes with leading zeros', ['02139', '00501']],
  ['decimals with trailing zeros and exponents', ['1.50', '1e3', '-0']],
  ['digits past 2^53 and past 64 bits', ['9007199254740993', '123456789012345678901234567890']],
  ['booleans', ['true', 'false']],
]

const NOT_NUMBERS = ['0x10', ' 12', '12 ', '0b11', '0o7', '+5', 'Infinity', '1_000', 'NaN']

void describe('training–serving agreement > request inputs read from labels', () => {
  for (const [what, codes] of STRING_COLUMNS) {
    void test(`a string input from a column of ${what}: fn sees the text, as in serving`, async () => {
      const { training, serving } = await trainAndServe({
        rows,
        labels: codes.map((code) => ({ keys: { user_id: 'u0' }, tMs: T, request: { code } })),
        features: ['echo_code'],
        requestFeatures: [echo],
      })
      const want = codes.map((c) => ({ ok: true, values: [`<${c}>`] }))
      assert.deepEqual(serving, want)
      assert.deepEqual(training, want)
    })
  }

  for (const text of NOT_NUMBERS) {
    void test(`a double input written ${JSON.stringify(text)} is refused naming the row, not read as a number`, async () => {
      const { training } = await trainAndServe({
        rows,
        labels: [{ keys: { user_id: 'u0' }, tMs: T, request: { x: text } }],
        features: ['half_x'],
        requestFeatures: [half],
      })
      assert.deepEqual(training, { ok: false, message: 'label row 1: x must be a double for request feature half_x' })
    })
  }

  void test('fn sees only its declared inputs, in an object no other fn wrote to', async () => {
    // `clobber` writes into its request and reads a field it did not declare; `reader` comes after.
    const clobber = requestFeature({
      name: 'clobber',
      request: { x: 'double' },
      features: ['user_probe@1:x_last'],
      outputType: 'string',
      description: 'writes into its request',
      fn: (req) => {
        const seen = `x=${String(req.x)} code=${String(req.code)}`
        ;(req as Record<string, unknown>).x = -1
        return seen
      },
    })
    const reader = requestFeature({
      name: 'reader',
      request: { x: 'double' },
      features: ['user_probe@1:x_last'],
      outputType: 'double',
      description: 'reads x after clobber ran',
      fn: (req) => req.x as number,
    })
    const { training, serving } = await trainAndServe({
      rows,
      labels: [{ keys: { user_id: 'u0' }, tMs: T, request: { x: 4, code: 'c1' } }],
      features: ['clobber', 'reader', 'echo_code'],
      requestFeatures: [clobber, reader, echo],
    })
    const want = [{ ok: true, values: ['x=4 code=undefined', 4, '<c1>'] }]
    assert.deepEqual(serving, want)
    assert.deepEqual(training, want)
  })

  void test('decimal text in a column typed string by one odd cell still reads as its number', async () => {
    // `abc` makes the column text; the build stops at its row, after the rows before it were read.
    const labels = ['12', '-0.5', '1e3', 'abc'].map((x) => ({ keys: { user_id: 'u0' }, tMs: T, request: { x } }))
    const { training } = await trainAndServe({ rows, labels, features: ['half_x'], requestFeatures: [half] })
    assert.deepEqual(training, { ok: false, message: 'label row 4: x must be a double for request feature half_x' })
    const numeric = await trainAndServe({
      rows,
      labels: labels.slice(0, 3).map((l) => ({ ...l, request: { x: Number(l.request.x) } })),
      features: ['half_x'],
      requestFeatures: [half],
    })
    assert.deepEqual(
      numeric.training,
      [6, -0.25, 500].map((v) => ({ ok: true, values: [v] })),
    )
    assert.deepEqual(numeric.serving, numeric.training)
  })
})
