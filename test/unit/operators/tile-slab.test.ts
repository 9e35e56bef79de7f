import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TileSlab } from '../../../operators/task/tile-slab.ts'
// An object column whose accumulator is a fresh array, so identity shows which tile owns it.
const newList = (): unknown => []

type Op = { kind: 'insert'; id: number; k: number } | { kind: 'drop'; id: number; n: number } | { kind: 'clear'; id: number } | { kind: 'wipe' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), id: fc.nat({ max: 11 }), k: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), id: fc.nat({ max: 11 }), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), id: fc.nat({ max: 11 }) }) },
  // Most keys dropped at once: leaves mostly free slots, which makes the slab compact.
  { weight: 1, arbitrary: fc.constant({ kind: 'wipe' as const }) },
)

interface ModelTile {
  k: number
  marks: number[]
  obj: unknown
}

function tilesOf(slab: TileSlab, id: number): ModelTile[] {
  const n = slab.count(id)
  const out: ModelTile[] = []
  if (n === 0) return out
  const slot = slab.slotOf(id)
  const page = slab.num[slot >>> slab.pageBits] as Float64Array
  const objs = slab.obj[slot >>> slab.pageBits] as unknown[]
  const base = (slot & slab.pageMask) * slab.ns
  const ob = (slot & slab.pageMask) * slab.os
  for (let i = 0; i < n; i++) out.push({ k: page[base + i * slab.ns] as number, marks: [page[base + i * slab.ns + 1] as number, page[base + i * slab.ns + 2] as number], obj: objs[ob + i] })
  return out
}

/**
 * Freed and vacated object slots are cleared, so dropped accumulators can be collected: every
 * held accumulator is in exactly one slot (a compaction leaves no copy behind in a region's slack).
 */
function assertEachAccumulatorOnce(slab: TileSlab, model: readonly ModelTile[][]): void {
  const held = new Set(model.flat().map((t) => t.obj))
  const seen = new Map<unknown, number>()
  for (const page of slab.obj) for (const o of page) if (o !== undefined) seen.set(o, (seen.get(o) ?? 0) + 1)
  for (const [o, n] of seen) assert.ok(held.has(o) && n === 1, n === 1 ? 'no stale object in a free slot' : `an accumulator in ${n} slots`)
  assert.equal(seen.size, held.size, 'every held accumulator is in a slot')
}

void describe('operators > tile slab', () => {
  void test('keeps every key’s tiles, in order, through inserts, evictions, growth, shrinking and compaction', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 400 }), fc.constantFrom(3, 4, 6), fc.constantFrom(2, 6, 40), (ops, pageBits, maxTiles) => {
        const slab = new TileSlab([0, Number.NaN], [newList], maxTiles, pageBits)
        slab.ensureIds(12)
        const model: ModelTile[][] = Array.from({ length: 12 }, () => [])
        let mark = 1
        for (const op of ops) {
          if (op.kind === 'wipe') {
            for (let id = 0; id < 10; id++) {
              slab.clear(id)
              ;(model[id] as ModelTile[]).length = 0
            }
            continue
          }
          const tiles = model[op.id] as ModelTile[]
          if (op.kind === 'insert') {
            // The view never holds more than maxTiles + 1 tiles of a group (evict follows insert).
            if (tiles.some((t) => t.k === op.k) || tiles.length > maxTiles) continue
            const pos = tiles.filter((t) => t.k < op.k).length
            const slot = slab.insert(op.id, pos, op.k)
            const page = slab.num[slot >>> slab.pageBits] as Float64Array
            const at = (slot & slab.pageMask) * slab.ns + pos * slab.ns
            assert.equal(page[at + 1], 0, 'numeric columns start at their empty values')
            assert.ok(Number.isNaN(page[at + 2]))
            page[at + 1] = mark
            page[at + 2] = -mark
            const obj = (slab.obj[slot >>> slab.pageBits] as unknown[])[(slot & slab.pageMask) * slab.os + pos]
            tiles.splice(pos, 0, { k: op.k, marks: [mark, -mark], obj })
            mark++
          } else if (op.kind === 'drop') {
            const n = Math.min(op.n, tiles.length)
            if (n === 0) continue
            slab.dropFront(op.id, n)
            tiles.splice(0, n)
          } else {
            slab.clear(op.id)
            tiles.length = 0
          }
          for (let id = 0; id < 12; id++) {
            const got = tilesOf(slab, id)
            const want = model[id] as ModelTile[]
            assert.deepEqual(got.map((t) => [t.k, ...t.marks]), want.map((t) => [t.k, ...t.marks]), `key ${id}`)
            got.forEach((t, i) => assert.equal(t.obj, (want[i] as ModelTile).obj, `key ${id} tile ${i}: object column moved with its tile`))
          }
        }
        const { liveSlots, freeSlots, pageSlots } = slab.stats()
        const tiles = model.reduce((n, t) => n + t.length, 0)
        assert.ok(liveSlots >= tiles && liveSlots + freeSlots <= pageSlots)
        assertEachAccumulatorOnce(slab, model)
      }),
      { numRuns: 300 },
    )
  })
})
