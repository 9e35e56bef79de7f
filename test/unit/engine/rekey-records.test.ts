/**
 * The re-key stage classifies a decode failure the way the views do (partition-processor.ts
 * `decodeFailureLetter`): invalid UTF-8 in one of the entity's join keys is `invalid_key` — two byte
 * keys must never collide into one entity — and anywhere else stays `invalid_utf8`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { planRekeys } from '../../../engine/plan-sources.ts'
import { rekeyRecord } from '../../../engine/rekey-records.ts'
import type { LogRecord } from '../../../ports/event-log.ts'
import { clicks, itemClicks, userCategoryClicks } from '../../fixtures/features/rekey-scoped.ts'

void test('re-key stage: invalid UTF-8 in a join key is invalid_key, elsewhere invalid_utf8', () => {
  const [byItem, byUserCategory] = planRekeys([itemClicks, userCategoryClicks])
  const record: LogRecord = { topic: clicks.topic, partition: 0, offset: '7', key: null, value: new Uint8Array([1]), timestampMs: 0, headers: {} }
  const failure = (field: string) => ({ ok: false as const, reason: 'invalid_utf8' as const, detail: `${field} is not valid UTF-8`, field })
  const reasonOf = (plan: typeof byItem, field: string) => rekeyRecord(plan!, record, failure(field)).deadLetter?.reason
  assert.equal(reasonOf(byItem, 'item_id'), 'invalid_key')
  assert.equal(reasonOf(byItem, 'category'), 'invalid_utf8')
  assert.equal(reasonOf(byUserCategory, 'category'), 'invalid_key')
  assert.equal(reasonOf(byUserCategory, 'user_id'), 'invalid_key')
  assert.equal(reasonOf(byUserCategory, 'item_id'), 'invalid_utf8')
})
