/**
 * Serving robustness, stored rows that are not kfs's: a key whose stored text does not decode as
 * its feature's declared type (a word where a long belongs, JSON that is not an array of the
 * element type, a fraction in a long, an empty text) is answered as what it is — a 500
 * STORED_ROW_UNREADABLE naming the view and the feature, logged under its errorId, the stored
 * text not echoed — on the single-entity GET, the batch POST and a WebSocket snapshot, and the
 * server answers on. Before, these were served with status PRESENT as NaN-turned-null, 0 (for
 * an empty long), a number or an object for a string[] — a wrong value nobody was told about —
 * or, for JSON that did not parse, an INTERNAL 500 that looked like a kfs bug.
 *
 * And the other way: every value the encoder writes decodes back strictly (a property over every
 * feature type), so the stricter reading refuses nothing kfs wrote.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { StoredTextRead } from '../../../adapters/online-store/redis/stored-text-read.ts'
import { decodeValue, encodeCheckedValue, storedValueJson } from '../../../adapters/online-store/redis/value-codec.ts'
import type { FeatureValue, FeatureValueType } from '../../../features/types.ts'
import type { OnlineRead } from '../../../ports/online-store.ts'
import { feature, view } from '../../contracts/online-store.ts'
import { allViews, userEntity } from './fixtures.ts'
import { openWs } from './ws-client.ts'
import { NOW, startServer, type TestServer } from './server-harness.ts'

const TYPES: readonly FeatureValueType[] = ['long', 'double', 'string', 'long[]', 'double[]', 'string[]']
const typed = view(
  'typed',
  TYPES.map((type) => feature(`f_${type.replace('[]', '_list')}`, type)),
  { entity: userEntity, ttlMs: 3_600_000 },
)
const featureOf = (type: FeatureValueType): string => `f_${type.replace('[]', '_list')}`

/** Texts no encoder of kfs writes for the type (value-codec.ts), each one entity of `typed`. */
const CORRUPT: readonly (readonly [FeatureValueType, string])[] = [
  ['long', 'abc'],
  ['long', ''],
  ['long', '3.5'],
  ['long', ' 3'],
  ['long', '0x10'],
  ['long', 'NaN'],
  ['long', 'Infinity'],
  ['long', '1e400'],
  ['double', 'abc'],
  ['double', ''],
  ['double', 'NaNx'],
  ['double', '1,5'],
  ['double', '+1'],
  ['long[]', '{'],
  ['long[]', '5'],
  ['long[]', '{"a":1}'],
  ['long[]', '["x"]'],
  ['long[]', '[1.5]'],
  ['long[]', '[null]'],
  ['double[]', '[true]'],
  ['double[]', 'null'],
  ['double[]', '[[1]]'],
  ['double[]', '["abc"]'],
  ['string[]', '[1]'],
  ['string[]', '{"a":"b"}'],
  ['string[]', 'null'],
  ['string[]', '[null]'],
  ['string[]', 'x'],
]
/** Case i is entity `bad<i>`. */
const caseKey = (i: number): string => `bad${i}`

/** A store whose entity `bad<i>` holds CORRUPT[i] in its feature; every other entity reads as the embedded store has it. */
function corruptStore(
  lookups: readonly {
    view: { name: string; features: readonly { name: string; type: FeatureValueType }[] }
    entityKey: string
    features: readonly string[]
  }[],
): OnlineRead[] {
  return lookups.map(({ view: v, entityKey, features }) => {
    const i = Number(entityKey.slice(3))
    const [type, text] = CORRUPT[i]!
    const types = features.map((f) => v.features.find((d) => d.name === f)!.type)
    const texts = features.map((f) => (f === featureOf(type) ? text : null))
    return new StoredTextRead(NOW - 1000, texts, 0, types, { view: v.name, features })
  })
}

interface ErrorBody {
  readonly error: {
    readonly code: string
    readonly message: string
    readonly view?: string
    readonly feature?: string
    readonly reason?: string
    readonly errorId?: string
  }
}

void describe('serving > robustness > a stored row whose text is not a value of its type', () => {
  let s: TestServer
  before(async () => {
    s = await startServer({
      views: [...allViews, typed],
      store: (embedded) => ({
        readRows: async (lookups, nowMs) =>
          lookups[0]!.entityKey.startsWith('bad') ? corruptStore(lookups) : embedded.readRows(lookups, nowMs),
        subscribeChanges: async () => async () => {},
      }),
    })
  })
  after(() => s.close())

  const assertUnreadable = (status: number, text: string, type: FeatureValueType, what: string): ErrorBody['error'] => {
    assert.equal(status, 500, `${what}: ${text}`)
    const { error } = JSON.parse(text) as ErrorBody
    assert.equal(error.code, 'STORED_ROW_UNREADABLE', `${what}: ${text}`)
    assert.equal(error.reason, 'corrupt', what)
    assert.equal(error.view, 'typed', what)
    assert.equal(error.feature, featureOf(type), what)
    assert.match(
      error.message,
      /^the stored row of view typed \(feature f_[a-z_]+\) could not be read: it is not a row kfs wrote; asking again will not help$/,
      what,
    )
    assert.match(error.errorId ?? '', /^[0-9a-f-]{36}$/, `${what}: an errorId`)
    assert.equal(
      s.logs.filter((l) => l.level === 'error' && l.obj.errorId === error.errorId).length,
      1,
      `${what}: logged once under its errorId`,
    )
    return error
  }

  CORRUPT.forEach(([type, text], i) => {
    void test(`${type} stored as ${JSON.stringify(text)}: GET and POST answer 500 STORED_ROW_UNREADABLE naming view and feature, never a value`, async () => {
      const got = await fetch(`${s.base}/v1/features/typed/${caseKey(i)}`)
      assertUnreadable(got.status, await got.text(), type, 'GET')
      const posted = await fetch(`${s.base}/v1/features`, {
        method: 'POST',
        body: JSON.stringify({ entities: { user_id: [caseKey(i)] }, features: [`typed:${featureOf(type)}`] }),
      })
      assertUnreadable(posted.status, await posted.text(), type, 'POST')
    })
  })

  void test('the stored text is never echoed in the answer', async () => {
    const i = CORRUPT.findIndex(([type]) => type === 'long')
    const res = await fetch(`${s.base}/v1/features/typed/${caseKey(i)}`)
    const text = await res.text()
    assert.ok(!text.includes(`"${CORRUPT[i]![1]}"`), text)
  })

  void test('WebSocket: a snapshot of such a row is an error message with the same code and an errorId; the socket stays usable', async () => {
    const ws = await openWs(s.port, '/v1/subscribe')
    try {
      ws.send(JSON.stringify({ subscribe: [{ view: 'typed', entity: caseKey(0) }] }))
      assert.equal((JSON.parse(await ws.next()) as { type: string }).type, 'subscribed')
      const message = JSON.parse(await ws.next()) as { type: string } & ErrorBody
      assert.equal(message.type, 'error')
      assert.equal(message.error.code, 'STORED_ROW_UNREADABLE', JSON.stringify(message))
      assert.equal(message.error.view, 'typed')
      assert.match(message.error.errorId ?? '', /^[0-9a-f-]{36}$/)
      ws.send(JSON.stringify({ unsubscribe: [{ view: 'typed', entity: caseKey(0) }] }))
      assert.deepEqual(JSON.parse(await ws.next()), { type: 'subscribed', topics: 0 })
    } finally {
      ws.close()
    }
  })

  void test('the server answers on: a good row is served, health is 200', async () => {
    assert.equal((await fetch(`${s.base}/v1/features/user_stats/u1`)).status, 200)
    assert.equal((await fetch(`${s.base}/healthz`)).status, 200)
  })
})

/** Values of each type as the engine may hold them (every float64, every safe integer, any string). */
const VALUE: Readonly<Record<FeatureValueType, fc.Arbitrary<FeatureValue>>> = {
  long: fc.oneof(fc.maxSafeInteger(), fc.constantFrom(0, -0, 2 ** 53, -(2 ** 60), 1e21, 1e300)),
  double: fc.double(),
  string: fc.string({ unit: 'binary' }),
  'long[]': fc.array(fc.oneof(fc.maxSafeInteger(), fc.constant(-0), fc.constant(1e22))),
  'double[]': fc.array(fc.double()),
  'string[]': fc.array(fc.string({ unit: 'binary' })),
}

void describe('online store > value codec > the strict decode refuses nothing kfs writes', () => {
  for (const type of TYPES) {
    void test(`${type}: every encoded value decodes back and serialises without an error`, () => {
      fc.assert(
        fc.property(VALUE[type], (value) => {
          const text = encodeCheckedValue(value, type)
          assert.doesNotThrow(() => decodeValue(text, type), `${type} ${JSON.stringify(text)}`)
          assert.doesNotThrow(() => storedValueJson(text, type), `${type} ${JSON.stringify(text)}`)
        }),
        { numRuns: 500 },
      )
    })
  }
})
