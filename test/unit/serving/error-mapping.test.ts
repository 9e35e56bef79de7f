/**
 * serving/errors.ts maps every kfs error code to one status and one body: the table below names
 * each code's answer, so a code added to core/error-codes.ts without a decision fails here. A read
 * that failed for good (refused, or data that is not kfs's) is a 500 with a code that says so and
 * the object named — before, a refused read was `500 SINK_REJECTED "internal error"`, which told a
 * caller nothing and looked like a bug; every other 500 still hides the error's text.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ERROR_CODES, type ErrorCode } from '../../../core/error-codes.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { toHttpError } from '../../../serving/errors.ts'

const SECRET = 'secret-store-text'
const KEY = 'warehouse/features/t_v1/metadata/v3.metadata.json'

/** Status, body code, and whether the message is the error's own text (else a fixed one). */
const EXPECTED: Readonly<Record<ErrorCode, readonly [number, string, 'own' | 'fixed' | 'hidden']>> = {
  BAD_REQUEST: [400, 'BAD_REQUEST', 'own'],
  DEFINITION_INVALID: [400, 'DEFINITION_INVALID', 'own'],
  NOT_FOUND: [404, 'NOT_FOUND', 'own'],
  BACKFILL_INCOMPLETE: [409, 'BACKFILL_INCOMPLETE', 'own'],
  SOURCE_UNAVAILABLE: [503, 'SOURCE_UNAVAILABLE', 'own'],
  SINK_UNAVAILABLE: [503, 'SINK_UNAVAILABLE', 'own'],
  RETRIES_EXHAUSTED: [503, 'RETRIES_EXHAUSTED', 'own'],
  SOURCE_REJECTED: [500, 'STORE_READ_REFUSED', 'fixed'],
  SINK_REJECTED: [500, 'STORE_READ_REFUSED', 'fixed'],
  DATA_CORRUPT: [500, 'DATA_CORRUPT', 'fixed'],
  CONFIG_INVALID: [500, 'CONFIG_INVALID', 'hidden'],
  DEFINITION_CHANGED: [500, 'DEFINITION_CHANGED', 'hidden'],
  SCHEMA_UNKNOWN: [500, 'SCHEMA_UNKNOWN', 'hidden'],
  SCHEMA_INCOMPATIBLE: [500, 'SCHEMA_INCOMPATIBLE', 'hidden'],
  SINK_CLOSED: [500, 'SINK_CLOSED', 'hidden'],
  COMMIT_CONFLICT: [500, 'COMMIT_CONFLICT', 'hidden'],
  COMMIT_FAILED: [500, 'COMMIT_FAILED', 'hidden'],
  CHECKPOINT_FAILED: [500, 'CHECKPOINT_FAILED', 'hidden'],
  CHECKPOINT_CORRUPT: [500, 'CHECKPOINT_CORRUPT', 'hidden'],
  OBJECT_NOT_FOUND: [500, 'OBJECT_NOT_FOUND', 'hidden'],
  OBJECT_EXISTS: [500, 'OBJECT_EXISTS', 'hidden'],
  INTERRUPTED: [500, 'INTERRUPTED', 'hidden'],
  INVARIANT_VIOLATED: [500, 'INVARIANT_VIOLATED', 'hidden'],
}

void describe('serving > errors > every kfs error code has one answer', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const [status, bodyCode, message] = EXPECTED[code]
    void test(`${code}: ${status} ${bodyCode}, message ${message}`, () => {
      const got = toHttpError(new FeatureStoreError(code, `could not read ${KEY}: ${SECRET}`, { context: { key: KEY } }))
      assert.equal(got.status, status)
      assert.equal(got.body.error.code, bodyCode)
      const text = JSON.stringify(got.body)
      if (message === 'own') return assert.match(got.body.error.message, new RegExp(SECRET))
      assert.ok(!text.includes(SECRET), `a 500 never carries the error's text: ${text}`)
      if (message === 'hidden') return assert.equal(got.body.error.message, 'internal error')
      assert.notEqual(got.body.error.message, 'internal error')
      assert.match(got.body.error.message, /^the stored object .+ could not be read: .+; asking again will not help$/)
      assert.equal(got.body.error.key, KEY, 'names the object read')
    })
  }

  void test('without a key in the context, the message names no object and carries no text of the error', () => {
    const got = toHttpError(new FeatureStoreError('SOURCE_REJECTED', SECRET))
    assert.deepEqual(got, {
      status: 500,
      body: {
        error: {
          code: 'STORE_READ_REFUSED',
          message: 'stored data this request needs could not be read: the store refused the read; asking again will not help',
        },
      },
    })
  })
})
