import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { orderByTimeThenKey } from '../../../ingest/append-order.ts'
import { compareKeyBytes } from '../../../operators/task/key-order.ts'
import { prng } from '../training/fixtures.ts'

void describe('orderByTimeThenKey', () => {
  void it('orders slots as a (time, key bytes) comparator sort does, over narrow and 53-bit time spans', () => {
    for (let seed = 1; seed <= 40; seed++) {
      // Every third seed without surrogates or units above them: the ties take JS's string order.
      const alphabet = seed % 3 === 0 ? ['a', 'b', 'ab', 'z', 'é', 'A'] : ['a', 'b', 'ab', '\u{1F600}', '\uE000', 'z', 'é']
      const rnd = prng(seed)
      const n = rnd.int(0, 300)
      const spans = [40, 70_000, 2 ** 33, Number.MAX_SAFE_INTEGER]
      const span = spans[seed % spans.length]!
      const keys: string[] = []
      const ts: number[] = []
      const seen = new Set<string>()
      while (keys.length < n) {
        const key = `${rnd.pick(alphabet)}${rnd.pick(alphabet)}`
        const t = Math.floor(rnd.next() * span) - (seed % 2 === 0 ? Math.floor(span / 2) : 0)
        if (seen.has(`${key}|${t}`)) continue
        seen.add(`${key}|${t}`)
        keys.push(key)
        ts.push(t)
      }
      // Slots as a planner hands them over: a subset, in row order.
      const slots = Int32Array.from(keys.map((_, i) => i).filter(() => rnd.next() < 0.8))
      const expected = [...slots].sort((a, b) => ts[a]! - ts[b]! || compareKeyBytes(keys[a]!, keys[b]!))
      assert.deepEqual([...orderByTimeThenKey(slots, ts, keys)], expected, `seed ${seed}`)
    }
  })

  void it('orders runs of hundreds of slots sharing an event time by key bytes', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const alphabet = seed % 2 === 0 ? ['a', 'b', 'c', 'd', 'e', 'é', 'Z'] : ['a', 'b', '\u{1F600}', '\uE000', 'é', 'Z']
      const rnd = prng(100 + seed)
      const keys: string[] = []
      const ts: number[] = []
      const seen = new Set<string>()
      for (let tries = 0; tries < 3000; tries++) {
        // Every third seed, keys sharing a prefix (as 'acct-…' ids do), the bare prefix among them.
        const key =
          (seed % 3 === 0 ? 'acct-' : '') +
          Array.from({ length: rnd.int(seed % 3 === 0 ? 0 : 1, 5) }, () => rnd.pick(alphabet)).join('')
        const t = rnd.int(0, 2)
        if (seen.has(`${key}|${t}`)) continue
        seen.add(`${key}|${t}`)
        keys.push(key)
        ts.push(t)
      }
      const slots = Int32Array.from(keys.map((_, i) => i))
      const expected = [...slots].sort((a, b) => ts[a]! - ts[b]! || compareKeyBytes(keys[a]!, keys[b]!))
      assert.deepEqual([...orderByTimeThenKey(slots, ts, keys)], expected, `seed ${seed}`)
    }
  })

  void it('slots handed over in key order (a snapshot exported by primary key): the same order as a comparator sort', () => {
    for (let seed = 1; seed <= 12; seed++) {
      // Odd seeds: a key with a surrogate or a unit above them, where JS's string order is not the bytes'.
      const alphabet = seed % 2 === 0 ? ['a', 'b', 'c', 'é', 'Z'] : ['a', 'b', '\u{1F600}', '\uE000', 'é']
      const rnd = prng(200 + seed)
      const rows: { key: string; t: number }[] = []
      const seen = new Set<string>()
      for (let tries = 0; tries < 2000; tries++) {
        const key = 'acct-' + Array.from({ length: rnd.int(1, 4) }, () => rnd.pick(alphabet)).join('')
        const t = rnd.int(0, 5)
        if (seen.has(`${key}|${t}`)) continue
        seen.add(`${key}|${t}`)
        rows.push({ key, t })
      }
      // In JS string order (the key bytes' order for even seeds); a key may repeat at other times.
      rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      // Seed 4: one pair out of key order, so the sort by key must be done.
      if (seed === 4) rows.push(rows.shift()!)
      const keys = rows.map((r) => r.key)
      const ts = rows.map((r) => r.t)
      const slots = Int32Array.from(keys.map((_, i) => i))
      const expected = [...slots].sort((a, b) => ts[a]! - ts[b]! || compareKeyBytes(keys[a]!, keys[b]!))
      assert.deepEqual([...orderByTimeThenKey(slots, ts, keys)], expected, `seed ${seed}`)
    }
  })
})
