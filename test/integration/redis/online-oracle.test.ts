/**
 * The Redis online store against an outside model (online-oracle-model.ts): random write sequences
 * of odd entity keys, out-of-order and tied `as_of`, tombstones and views sharing keys must read
 * back exactly as the model says, through every read path (one key, a pipeline, the read script).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { feature, row, view } from '../../contracts/online-store.ts'
import { assertOracle } from './online-oracle-property.ts'
import { redisUrl, uniquePrefix } from './redis-env.ts'

void test('online store > redis oracle > random writes read back as the model says, on every read path; keys Redis cannot hold apart are refused', () =>
  assertOracle(() => new RedisOnlineStore({ url: redisUrl(), keyPrefix: uniquePrefix(), publish: false })))

/** Redis's clock in ms. */
async function redisNowMs(raw: Redis): Promise<number> {
  const [sec, usec] = await raw.time()
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000)
}

void test('online store > redis oracle > a key expires ttlMs after the later of its landing write and its as_of, on every kind of write', async () => {
  const prefix = uniquePrefix()
  const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: prefix, publish: false })
  const raw = new Redis(redisUrl())
  const ttlMs = 60_000
  const short = view('short', [feature('x', 'long')], { ttlMs })
  const forever = view('forever', [feature('x', 'long')], { ttlMs: Number.POSITIVE_INFINITY })
  let n = 0
  try {
    await store.ready()
    await fc.assert(
      fc.asyncProperty(
        // as_of against Redis's clock: far past, within a TTL either side, far future; then what follows.
        fc.integer({ min: -3 * ttlMs, max: 3 * ttlMs }),
        fc.constantFrom('landing', 'rewrite', 'tie', 'newer', 'older'),
        async (offset, next) => {
          const key = `k${n++}`
          const t0 = await redisNowMs(raw)
          const asOf = t0 + offset
          await store.writeRows(short, [row(key, asOf, [1])])
          await store.writeRows(forever, [row(key, asOf, [1])])
          const second = { landing: undefined, rewrite: [asOf, 1], tie: [asOf, 2], newer: [asOf + 1, 1], older: [asOf - 1, 1] }[
            next
          ]
          if (second !== undefined) await store.writeRows(short, [row(key, second[0]!, [second[1]!])])
          const t1 = await redisNowMs(raw)
          // The row the key holds now, and the clock span of the write that last touched its expiry.
          const held = next === 'older' || next === 'landing' ? asOf : second![0]!
          const expiresAt = await raw.pexpiretime(`${prefix}:short:1:{${key}}`)
          assert.ok(
            expiresAt >= Math.max(t0, held) + ttlMs && expiresAt <= Math.max(t1, held) + ttlMs,
            `${next}, as_of now${offset >= 0 ? '+' : ''}${offset}: expires at ${expiresAt}, want max(${t0}…${t1}, ${held}) + ${ttlMs}`,
          )
          assert.equal(await raw.pexpiretime(`${prefix}:forever:1:{${key}}`), -1)
        },
      ),
      { numRuns: 60 },
    )
  } finally {
    await store.close()
    // The `forever` keys never expire: leave nothing behind on the shared Redis.
    for (const pattern of [`${prefix}:short:*`, `${prefix}:forever:*`]) {
      const keys = await raw.keys(pattern)
      if (keys.length > 0) await raw.del(...keys)
    }
    raw.disconnect()
  }
})
