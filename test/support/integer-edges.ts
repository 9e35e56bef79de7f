/**
 * The class of integers where varint arithmetic breaks: every power of two up to 2^53 with its
 * neighbours, both signs, plus seeded random integers of every magnitude — and the reference
 * zigzag LEB128 bytes of each, computed with BigInt (independent of the code under test).
 */
import { prng } from '../../examples/generate-events.ts'

/** Every ±2^k, ±(2^k − 1), ±(2^k + 1) that is a safe integer, and 0. */
export function safeIntegerEdges(): number[] {
  const out = new Set<number>([0])
  for (let k = 0; k <= 53; k++) {
    for (const m of [2 ** k - 1, 2 ** k, 2 ** k + 1]) {
      if (Number.isSafeInteger(m)) {
        out.add(m)
        out.add(-m)
      }
    }
  }
  return [...out]
}

/** `count` seeded safe integers, uniform in bit length (so large magnitudes are as common as small). */
export function randomSafeIntegers(count: number, seed = 0x5eed): number[] {
  const next = prng(seed)
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const bits = 1 + Math.floor(next() * 53)
    const magnitude = Math.min(Math.floor(next() * 2 ** bits), Number.MAX_SAFE_INTEGER)
    out.push(next() < 0.5 ? 0 - magnitude : magnitude)
  }
  return out
}

/** Zigzag LEB128 of a 64-bit signed integer, by BigInt arithmetic. */
export function referenceZigzag(n: number | bigint): Buffer {
  const v = BigInt(n)
  let z = ((v << 1n) ^ (v >> 63n)) & (2n ** 64n - 1n)
  const bytes: number[] = []
  for (;;) {
    const b = Number(z & 0x7fn)
    z >>= 7n
    if (z === 0n) {
      bytes.push(b)
      return Buffer.from(bytes)
    }
    bytes.push(b | 0x80)
  }
}
