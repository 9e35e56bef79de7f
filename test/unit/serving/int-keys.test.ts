/**
 * `int` entity keys in requests follow the engine's rule (docs/semantics.md §1): a safe-integer
 * number or a canonical decimal string of any length. Serving used to refuse canonical strings
 * past 2^53, which the engine keys rows by and training sets join exactly
 * (test/unit/training/agreement-edges.test.ts); a JSON number past 2^53 is still refused, with
 * the way to send it, because its digits are gone before kfs reads it.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { getFeatures, getViewFeatures } from '../../../serving/handlers/get-features.ts'
import { row } from '../../contracts/online-store.ts'
import { allViews, itemStats } from './fixtures.ts'

const NOW = 1_700_000_000_000

async function deps() {
  const clock = { nowMs: () => NOW, sleep: async () => {} }
  const store = new EmbeddedOnlineStore({ clock })
  await store.writeRows(itemStats, [
    row('9223372036854775807', NOW - 1, [1.5, []]),
    row('-9007199254740993', NOW - 1, [2.5, []]),
    row('7', NOW - 1, [3.5, []]),
  ])
  return { catalog: createFeatureCatalog({ views: allViews }), store, clock, maxLookups: 100 }
}

const SERVED: readonly (readonly [string | number, number])[] = [
  ['9223372036854775807', 1.5],
  ['-9007199254740993', 2.5],
  ['7', 3.5],
  [7, 3.5],
]

const REFUSED: readonly (readonly [unknown, RegExp])[] = [
  [2 ** 63, /item_id is a number past 2\^53, which JSON numbers cannot hold exactly: send it as a string of its digits/],
  [-(2 ** 60), /send it as a string of its digits/],
  ['007', /item_id must be a canonical integer/],
  ['+7', /item_id must be a canonical integer/],
  ['-0', /item_id must be a canonical integer/],
  ['1e3', /item_id must be a canonical integer/],
  ['7.0', /item_id must be a canonical integer/],
  [7.5, /item_id must be an integer/],
  ['9'.repeat(513), /item_id is invalid: longer than 512 bytes/],
]

void describe('serving > int entity keys as the engine reads them', () => {
  for (const [key, price] of SERVED) {
    void test(`${JSON.stringify(key)} is served`, async () => {
      const d = await deps()
      const batch = JSON.parse((await getFeatures({ entities: { item_id: [key] }, features: ['item_stats:price'] }, d)).text) as {
        rows: { values: unknown[] }[]
      }
      assert.deepEqual(batch.rows[0]!.values, [price])
      const single = JSON.parse((await getViewFeatures({ view: 'item_stats', entityKey: String(key) }, d)).text) as {
        features: { price: unknown }
      }
      assert.equal(single.features.price, price)
    })
  }
  for (const [key, message] of REFUSED) {
    void test(`${typeof key === 'string' && key.length > 20 ? `${key.length} digits` : String(key)} is a 400 saying why`, async () => {
      const d = await deps()
      await assert.rejects(
        getFeatures({ entities: { item_id: [key] }, features: ['item_stats:price'] }, d),
        (err: { status?: number; message?: string }) => {
          assert.equal(err.status, 400)
          assert.match(err.message ?? '', message)
          return true
        },
      )
    })
  }
})
