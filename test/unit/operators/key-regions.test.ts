import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { KeyRegions } from '../../../operators/task/key-regions.ts'

// Three hop groups of different strides and spans.
const NUM_INITS = [[0, Number.NaN], [0], [0, 0, Number.NaN]]
const MAX_TILES = [6, 2, 40]
// Longest windows: group 1 (2 tiles of a day) before group 2 (40 of an hour) before group 0.
const SPANS_MS = [6 * 60_000, 2 * 86_400_000, 40 * 3_600_000]
const KEYS = 12

type Op =
  | { kind: 'insert'; id: number; g: number; k: number }
  | { kind: 'drop'; id: number; g: number; n: number }
  | { kind: 'clear'; id: number }
  | { kind: 'wipe' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      id: fc.nat({ max: KEYS - 1 }),
      g: fc.nat({ max: 2 }),
      k: fc.integer({ min: 0, max: 60 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('drop' as const),
      id: fc.nat({ max: KEYS - 1 }),
      g: fc.nat({ max: 2 }),
      n: fc.integer({ min: 1, max: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), id: fc.nat({ max: KEYS - 1 }) }) },
  // Most keys dropped at once: leaves mostly free doubles, which makes the slab compact.
  { weight: 1, arbitrary: fc.constant({ kind: 'wipe' as const }) },
)

/** Every tile of key `id`'s group `g` as its doubles (tile index first). */
function tilesOf(regions: KeyRegions, id: number, g: number): number[][] {
  const n = regions.count(id, g)
  const s = regions.strides[g] as number
  if (n === 0) return []
  const page = regions.pageOf(id)
  const base = regions.baseOf(id, g)
  return Array.from({ length: n }, (_, i) => Array.from(page.subarray(base + i * s, base + (i + 1) * s)))
}

void describe('operators > key regions', () => {
  void test('orders groups by their longest window, longest first', () => {
    assert.deepEqual([...new KeyRegions(NUM_INITS, MAX_TILES, SPANS_MS).order], [1, 2, 0])
  })

  void test('keeps every group’s tiles of every key, in order, through inserts, evictions, growth, shrinking and compaction', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 400 }), fc.constantFrom(3, 6, 9), (ops, pageBits) => {
        const regions = new KeyRegions(NUM_INITS, MAX_TILES, SPANS_MS, pageBits)
        const stride = KeyRegions.metaInts(3) + 1
        // A shared record array with a foreign int before each key's metadata, which must survive.
        const meta = new Int32Array(stride * KEYS)
        for (let id = 0; id < KEYS; id++) meta[id * stride] = 7000 + id
        regions.bindMeta(meta, stride, 1)
        const model: number[][][][] = Array.from({ length: KEYS }, () => [[], [], []])
        let mark = 1
        for (const op of ops) {
          if (op.kind === 'wipe') {
            for (let id = 0; id < KEYS - 2; id++) {
              regions.clear(id)
              model[id] = [[], [], []]
            }
            continue
          }
          if (op.kind === 'clear') {
            regions.clear(op.id)
            model[op.id] = [[], [], []]
            continue
          }
          const tiles = model[op.id]![op.g]!
          if (op.kind === 'insert') {
            // The view never holds more than maxTiles + 1 tiles of a group (evict follows insert).
            if (tiles.some((t) => t[0] === op.k) || tiles.length > (MAX_TILES[op.g] as number)) continue
            const pos = tiles.filter((t) => (t[0] as number) < op.k).length
            regions.insert(op.id, op.g, pos, op.k)
            const at = regions.baseOf(op.id, op.g) + pos * (regions.strides[op.g] as number)
            const page = regions.pageOf(op.id)
            assert.deepEqual(
              Array.from(page.subarray(at, at + (regions.strides[op.g] as number))),
              [op.k, ...(NUM_INITS[op.g] as number[])],
              'a new tile starts at its empty values',
            )
            const tile = [op.k]
            for (let j = 1; j < (regions.strides[op.g] as number); j++) {
              page[at + j] = mark
              tile.push(mark++)
            }
            tiles.splice(pos, 0, tile)
          } else {
            const n = Math.min(op.n, tiles.length)
            if (n === 0) continue
            regions.dropFront(op.id, op.g, n)
            tiles.splice(0, n)
          }
          for (let id = 0; id < KEYS; id++) {
            assert.equal(meta[id * stride], 7000 + id, 'the record around the metadata is untouched')
            for (let g = 0; g < 3; g++) assert.deepEqual(tilesOf(regions, id, g), model[id]![g], `key ${id} group ${g}`)
          }
        }
        const { liveDoubles, freeDoubles, pageDoubles } = regions.stats()
        const held = model.flat(2).reduce((n, t) => n + t.length, 0)
        assert.ok(liveDoubles >= held && liveDoubles + freeDoubles <= pageDoubles)
        // At most ~25 % slack per key plus a class step: regions follow the live tiles.
        assert.ok(liveDoubles <= held * 2 + 8 * KEYS, `${liveDoubles} doubles live for ${held} held`)
      }),
      { numRuns: 300 },
    )
  })
  void test('compaction slides the regions left down and gives the pages it emptied back', () => {
    const keys = 400
    const regions = new KeyRegions(NUM_INITS, MAX_TILES, SPANS_MS, 6)
    const stride = KeyRegions.metaInts(3)
    const meta = new Int32Array(stride * keys)
    regions.bindMeta(meta, stride, 0)
    for (let id = 0; id < keys; id++) for (let k = 0; k < 5; k++) regions.insert(id, 2, k, k)
    const before = regions.stats().pageDoubles
    // Every key but one in ten gone: then the next insert compacts.
    for (let id = 0; id < keys; id++) if (id % 10 !== 0) regions.clear(id)
    regions.insert(0, 0, 0, 99)
    const after = regions.stats()
    assert.ok(after.pageDoubles * 4 <= before, `pages held: ${before} doubles before, ${after.pageDoubles} after`)
    // What stays free: page tails too short for the next region, and key 0's region before it grew.
    assert.ok(after.freeDoubles < 4 * 64, `${after.freeDoubles} doubles free after compacting`)
    for (let id = 0; id < keys; id += 10) {
      assert.deepEqual(
        tilesOf(regions, id, 2).map((t) => t[0]),
        [0, 1, 2, 3, 4],
      )
    }
    assert.deepEqual(tilesOf(regions, 0, 0), [[99, 0, Number.NaN]])
  })
})
