/** KeyHeads against a Map: the newest slot of every key, through growth, with keys that differ in one unit. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { KeyHeads } from '../../../ingest/key-heads.ts'
import { prng } from '../training/fixtures.ts'

/** Looks up and claims each of `sequence` in turn, checking every lookup against a Map; then every key, and one never seen. */
function holdAgainstMap(sequence: readonly string[], expectedKeys: number): void {
  const keys: string[] = []
  const heads = new KeyHeads(keys, expectedKeys)
  const reference = new Map<string, number>()
  for (const [i, key] of sequence.entries()) {
    assert.equal(heads.lookup(key), reference.get(key) ?? -1, `key ${i} (${JSON.stringify(key)})`)
    keys.push(key)
    heads.claim(keys.length - 1)
    reference.set(key, keys.length - 1)
  }
  for (const [key, slot] of reference) assert.equal(heads.lookup(key), slot)
  assert.equal(heads.lookup('never seen'), -1)
}

void describe('KeyHeads', () => {
  for (const expectedKeys of [0, 30_000, 100])
    void it(`finds the newest slot of each key as a Map does, across regrowths (sized for ${expectedKeys} keys at first)`, () => {
      const rnd = prng(11)
      const sequence: string[] = []
      for (let i = 0; i < 30_000; i++)
        // A third repeat an earlier key; the rest are new, many a unit away from another.
        sequence.push(
          i > 0 && rnd.next() < 0.33
            ? sequence[rnd.int(0, sequence.length - 1)]!
            : `k${rnd.int(0, 9)}-${i}${rnd.pick(['', 'é', '\u{1F600}', '\uD800'])}`,
        )
      holdAgainstMap(sequence, expectedKeys)
    })

  void it('finds the same slots when the keys come ascending first, then out of order at any point', () => {
    // The ascending path answers without the table; the first key out of order (a repeat, an equal
    // key, a smaller one) moves every slot claimed so far into it.
    const rnd = prng(23)
    for (let round = 0; round < 60; round++) {
      const units = ['a', 'b', 'é', '\u{1F600}', '\uD800', '\uFFFF', '0']
      const pool = Array.from({ length: rnd.int(1, 3000) }, () =>
        Array.from({ length: rnd.int(0, 4) }, () => rnd.pick(units)).join(''),
      )
      const distinct = [...new Set(pool)].sort()
      const ascending = distinct.slice(0, rnd.int(0, distinct.length))
      const tail = Array.from({ length: rnd.int(0, 500) }, () =>
        rnd.next() < 0.5 && ascending.length > 0 ? ascending[rnd.int(0, ascending.length - 1)]! : rnd.pick(pool),
      )
      // Now and then the last ascending key at once again: equal is not above.
      if (ascending.length > 0 && rnd.next() < 0.3) tail.unshift(ascending[ascending.length - 1]!)
      holdAgainstMap([...ascending, ...tail], rnd.pick([0, 10, 5000]))
    }
  })
})
