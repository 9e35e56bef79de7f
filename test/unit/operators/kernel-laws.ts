/**
 * The laws every aggregation kernel must keep (operators/aggregators/types.ts), as fast-check
 * properties: merge of parts == fold of the whole, init is the identity, merge is associative,
 * encode/decode round-trips to the same bytes, and each declared fast path (`finishRange` with
 * its mirrors) equals the generic merge fold bit for bit.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { AggInput, Aggregator } from '../../../operators/aggregators/types.ts'
import { ByteReader, ByteWriter } from '../../../operators/codec/bytes.ts'

export type Item = { v: AggInput; t: number; o: string }

export function itemsArb(strings: boolean, value?: fc.Arbitrary<AggInput>): fc.Arbitrary<Item[]> {
  const v: fc.Arbitrary<AggInput> =
    value ??
    (strings
      ? fc.oneof(fc.integer({ min: -50, max: 50 }).map((x) => x / 4), fc.constantFrom('a', 'b', 'c', 'dd'))
      : fc.integer({ min: -50, max: 50 }).map((x) => x / 4))
  // Items arrive in offset order (as in a partition); times may repeat to exercise tie-breaks.
  return fc.array(fc.record({ v, t: fc.integer({ min: 0, max: 20 }) }), { maxLength: 40 }).map((xs) => xs.map((x, i) => ({ ...x, o: String(98 + i) })))
}

export function fold<A>(agg: Aggregator<A>, items: readonly Item[]): A {
  let acc = agg.init()
  for (const it of items) acc = agg.add(acc, it.v, it.t, it.o)
  return acc
}

export function roundTrip<A>(agg: Aggregator<A>, acc: A): { bytes: Uint8Array; again: A } {
  const w = new ByteWriter(16)
  agg.encode(acc, w)
  const bytes = w.finish()
  const r = new ByteReader(bytes)
  const again = agg.decode(r)
  assert.ok(r.done, 'decode consumed every byte')
  return { bytes, again }
}

/** Equal, or for floating-point kernels (`relative` > 0) within that relative distance. */
function assertSame(actual: unknown, expected: unknown, relative: number): void {
  if (relative > 0 && typeof actual === 'number' && typeof expected === 'number') {
    assert.ok(Math.abs(actual - expected) <= relative * Math.max(Math.abs(actual), Math.abs(expected)), `${actual} vs ${expected}`)
  } else assert.deepEqual(actual, expected)
}

/**
 * Registers the law tests of `kernel`, finished by `finisher` (the kernel itself or one sharing
 * its accumulator). `relative`: for kernels whose merge rounds differently from a sequential fold
 * (variance), how far merge results may be from the fold; 0 (the default): bit for bit.
 */
export function kernelLaws(name: string, kernel: Aggregator, finisher: Aggregator, strings: boolean, relative = 0): void {
  const items = itemsArb(strings)
  const done = (acc: unknown) => finisher.finish(acc)
  void test(`${name}: merging the folds of two parts == folding the whole; init is the identity`, () => {
    fc.assert(
      fc.property(items, fc.nat(), (xs, cut) => {
        const k = cut % (xs.length + 1)
        const whole = done(fold(kernel, xs))
        assertSame(done(kernel.merge(fold(kernel, xs.slice(0, k)), fold(kernel, xs.slice(k)))), whole, relative)
        // The identity is exact even for floating-point kernels.
        assert.deepEqual(done(kernel.merge(kernel.init(), fold(kernel, xs))), whole)
        assert.deepEqual(done(kernel.merge(fold(kernel, xs), kernel.init())), whole)
      }),
    )
  })
  void test(`${name}: merge is associative`, () => {
    fc.assert(
      fc.property(items, items, items, (a, b, c) => {
        const left = kernel.merge(kernel.merge(fold(kernel, a), fold(kernel, b)), fold(kernel, c))
        const right = kernel.merge(fold(kernel, a), kernel.merge(fold(kernel, b), fold(kernel, c)))
        assertSame(done(left), done(right), relative)
      }),
    )
  })
  void test(`${name}: encode then decode gives back the accumulator, byte for byte`, () => {
    fc.assert(
      fc.property(items, (xs) => {
        const acc = fold(kernel, xs)
        const { bytes, again } = roundTrip(kernel, acc)
        assert.deepEqual(done(again), done(acc))
        assert.deepEqual(roundTrip(kernel, again).bytes, bytes)
      }),
    )
  })
  if (finisher.finishRange !== undefined) {
    const finishRange = finisher.finishRange.bind(finisher)
    void test(`${name}: the finishRange fast path (with mirrors) equals the generic merge fold bit for bit`, () => {
      fc.assert(
        fc.property(fc.array(items, { minLength: 1, maxLength: 6 }), fc.nat(), fc.constantFrom(2, 3), (parts, lo, stride) => {
          // Tiles partition event time, ascending: tile i holds times [100·i, 100·i + 20].
          const tiles = parts.map((p, i) => fold(kernel, p.map((it) => ({ ...it, t: it.t + 100 * i }))))
          const from = lo % tiles.length
          // Objects and mirrors interleaved with other columns, as in a slab page (the mirrors of a
          // kernel without any hold the tile index's stand-in, which it must not read).
          const slots: unknown[] = ['other column']
          const mirrors: number[] = [-1]
          for (const acc of tiles) {
            slots.push(acc, ...(stride === 3 ? ['other column', 'other column'] : ['other column']))
            mirrors.push(kernel.mirror?.(acc) ?? 7, ...(stride === 3 ? [-2, -3] : [-2]))
          }
          let acc = kernel.init()
          for (let i = from; i < tiles.length; i++) acc = kernel.merge(acc, tiles[i])
          const at = 1 + from * stride
          assert.deepEqual(finishRange(slots, at, stride, tiles.length - from, Float64Array.from(mirrors), at, stride), done(acc))
        }),
      )
    })
  }
}
