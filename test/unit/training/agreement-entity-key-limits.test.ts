/**
 * A label's string entity key that serving refuses with a 400 — longer than MAX_ENTITY_KEY_BYTES
 * (512) UTF-8 bytes, or holding a control character — joined nothing in a training set: the row
 * got null features, silently (the engine dead-letters events with such keys, so no feature row
 * has one). A training set now refuses the label file naming the label row (and a CSV's line),
 * the join key and the limit, with the same rule and constant serving uses (core/entity-key.ts).
 * Keys at the limit, multi-byte characters up to it, and null or empty keys ("no entity") are
 * answered by both as before. Checked through both paths, CSV and Parquet labels; Parquet string
 * keys the engine reads in place (`derived`) are checked in SQL, composite keys in JS.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MAX_ENTITY_KEY_BYTES } from '../../../core/entity-key.ts'
import { stamped, trainAndServe, userAccountProbe, userProbe } from './serving-agreement.ts'
import { encodeEntityKey } from '../../../core/entity-key.ts'

const T = 1_700_000_000_000

/** A key serving refuses, and why (the end of serving's 400 message). */
const REFUSED: readonly { what: string; key: string; reason: string }[] = [
  {
    what: 'one byte over the limit, ASCII',
    key: 'a'.repeat(MAX_ENTITY_KEY_BYTES + 1),
    reason: `longer than ${MAX_ENTITY_KEY_BYTES} bytes`,
  },
  {
    what: 'within the limit in characters, over it in UTF-8 bytes',
    key: 'ü'.repeat(MAX_ENTITY_KEY_BYTES / 2 + 1),
    reason: `longer than ${MAX_ENTITY_KEY_BYTES} bytes`,
  },
  {
    what: 'astral characters over the limit',
    key: '😀'.repeat(MAX_ENTITY_KEY_BYTES / 4 + 1),
    reason: `longer than ${MAX_ENTITY_KEY_BYTES} bytes`,
  },
  { what: 'far over the limit', key: 'k'.repeat(100_000), reason: `longer than ${MAX_ENTITY_KEY_BYTES} bytes` },
  { what: 'a tab', key: 'a\tb', reason: 'not printable (it holds control characters)' },
  { what: 'a line break', key: 'a\nb', reason: 'not printable (it holds control characters)' },
  { what: 'DEL', key: 'a\u007f', reason: 'not printable (it holds control characters)' },
]
/** Keys both answer: at the limit exactly, in bytes. */
const AT_LIMIT = [
  'a'.repeat(MAX_ENTITY_KEY_BYTES),
  'ü'.repeat(MAX_ENTITY_KEY_BYTES / 2),
  '😀'.repeat(MAX_ENTITY_KEY_BYTES / 4),
  `${'a'.repeat(MAX_ENTITY_KEY_BYTES - 2)}ü`,
]

const message = (row: number, line: number | undefined, joinKey: string, reason: string): string =>
  `label row ${row}${line === undefined ? '' : ` (CSV line ${line})`}: ${joinKey} is ${reason}, and serving refuses such a key (an entity key part is well-formed Unicode without control characters, at most ${MAX_ENTITY_KEY_BYTES} bytes of UTF-8)`

void describe('training–serving agreement > entity keys serving refuses', () => {
  for (const labelFormat of ['csv', 'parquet'] as const) {
    for (const c of REFUSED) {
      void test(`${labelFormat} labels, a key ${c.what}: refused by both, the training set naming the row, line and limit`, async () => {
        const { training, serving } = await trainAndServe({
          rows: new Map([[userProbe, [stamped('u0', T - 10, [1, 1, 'a']), stamped('u1', T - 10, [2, 2, 'b'])]]]),
          labels: [
            { keys: { user_id: 'u0' }, tMs: T },
            { keys: { user_id: 'u1' }, tMs: T },
            { keys: { user_id: c.key }, tMs: T },
          ],
          features: ['user_probe@1:x_last'],
          labelFormat,
        })
        // A CSV line break in a quoted key does not move the line the row starts on: header, u0, u1, then line 4.
        assert.deepEqual(training, { ok: false, message: message(3, labelFormat === 'csv' ? 4 : undefined, 'user_id', c.reason) })
        assert.deepEqual(serving.slice(0, 2), [
          { ok: true, values: [1] },
          { ok: true, values: [2] },
        ])
        assert.deepEqual(serving[2], { ok: false, message: `user_id is invalid: ${c.reason}` })
      })
    }

    void test(`${labelFormat} labels, a composite key with one part over the limit: refused by both, naming that join key`, async () => {
      const long = 'x'.repeat(MAX_ENTITY_KEY_BYTES + 1)
      const { training, serving } = await trainAndServe({
        rows: new Map([[userAccountProbe, [stamped(encodeEntityKey(['u0', '7']), T - 10, [1, 1, 'a'])]]]),
        labels: [
          { keys: { user_id: 'u0', account_id: '7' }, tMs: T },
          { keys: { user_id: 'u0', account_id: long }, tMs: T },
        ],
        features: ['user_account_probe:n_last'],
        labelFormat,
      })
      assert.deepEqual(training, {
        ok: false,
        message: message(2, labelFormat === 'csv' ? 3 : undefined, 'account_id', `longer than ${MAX_ENTITY_KEY_BYTES} bytes`),
      })
      assert.deepEqual(serving[0], { ok: true, values: [1] })
      assert.deepEqual(serving[1], { ok: false, message: `account_id is invalid: longer than ${MAX_ENTITY_KEY_BYTES} bytes` })
    })

    void test(`${labelFormat} labels, keys at the limit in bytes: answered alike`, async () => {
      const { training, serving } = await trainAndServe({
        rows: new Map([[userProbe, AT_LIMIT.map((k, i) => stamped(k, T - 10, [i, i, 's']))]]),
        labels: AT_LIMIT.map((k) => ({ keys: { user_id: k }, tMs: T })),
        features: ['user_probe@1:n_last'],
        labelFormat,
      })
      assert.deepEqual(
        serving,
        AT_LIMIT.map((_, i) => ({ ok: true, values: [i] })),
      )
      assert.deepEqual(training, serving)
    })
  }
})
