/** KeyHeads against a Map: the newest slot of every key, through growth, with keys that differ in one unit. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { KeyHeads } from '../../../ingest/key-heads.ts'
import { prng } from '../training/fixtures.ts'

void describe('KeyHeads', () => {
  for (const expectedKeys of [0, 30_000, 100])
    void it(`finds the newest slot of each key as a Map does, across regrowths (sized for ${expectedKeys} keys at first)`, () => {
      const rnd = prng(11)
      const keys: string[] = []
      const heads = new KeyHeads(keys, expectedKeys)
      const reference = new Map<string, number>()
      for (let i = 0; i < 30_000; i++) {
        // A third repeat an earlier key; the rest are new, many a unit away from another.
        const key =
          i > 0 && rnd.next() < 0.33
            ? keys[rnd.int(0, keys.length - 1)]!
            : `k${rnd.int(0, 9)}-${i}${rnd.pick(['', 'é', '\u{1F600}', '\uD800'])}`
        const head = heads.lookup(key)
        assert.equal(head, reference.get(key) ?? -1, `key ${i}`)
        keys.push(key)
        heads.claim(keys.length - 1)
        reference.set(key, keys.length - 1)
      }
      for (const [key, slot] of reference) assert.equal(heads.lookup(key), slot)
      assert.equal(heads.lookup('never seen'), -1)
    })
})
