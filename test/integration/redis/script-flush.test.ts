/**
 * The Redis online store against the dev stack's Redis while its script cache is flushed between a
 * script's load and its EVALSHA (a restart, another client's SCRIPT FLUSH): a proxy
 * (test/support/redis-fault-proxy.ts) has Redis run SCRIPT FLUSH just before the EVALSHAs a plan
 * picks — every one, only the first, every other one. Reads by the read script and writes by the
 * write script answer exactly as a store that met no flush: same rows read, same rows written.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import type { OnlineWriteResult } from '../../../ports/online-store.ts'
import { startRedisFaultProxy, type FaultPlan, type RedisFaultProxy } from '../../support/redis-fault-proxy.ts'
import { ODD_KEYS, ORACLE_VIEWS, modelApply, modelRead, oracleWrites, plain, type OracleWrite } from './online-oracle-model.ts'
import { redisUrl, uniquePrefix } from './redis-env.ts'

let proxy: RedisFaultProxy

before(async () => {
  proxy = await startRedisFaultProxy(Number(new URL(redisUrl()).port))
})

after(async () => {
  await proxy?.close()
})

/** A plan that flushes the scripts before the EVALSHAs `flushBefore` picks (by their 0-based count). */
function flushBeforeEvalsha(flushBefore: (n: number) => boolean): FaultPlan {
  let n = 0
  return (command) => {
    if (command[0]?.toUpperCase() !== 'EVALSHA') return { kind: 'forward' }
    return flushBefore(n++) ? { kind: 'flush-scripts-first' } : { kind: 'forward' }
  }
}

const PLANS: readonly { readonly name: string; readonly flushBefore: (n: number) => boolean }[] = [
  { name: 'every EVALSHA', flushBefore: () => true },
  { name: 'the first EVALSHA only', flushBefore: (n) => n === 0 },
  { name: 'every other EVALSHA', flushBefore: (n) => n % 2 === 0 },
]

const BASE = Date.now()
const [WRITES] = fc.sample(
  oracleWrites(BASE, ODD_KEYS).filter((ws) => ws.length >= 6),
  { numRuns: 1, seed: 3636 },
)
/** One write wider than a script call (ROWS_PER_CALL), so a pipeline holds several EVALSHAs. */
const WIDE: OracleWrite = {
  view: 0,
  rows: Array.from({ length: 80 }, (_, i) => ({
    entityKey: `wide-${i % 70}`,
    asOfMs: BASE + (i % 3) * 100,
    createdAtMs: BASE,
    values: [i, null, 'w'],
  })),
}
const ALL_WRITES: readonly OracleWrite[] = [...WRITES!, WIDE]
const KEYS = [...ODD_KEYS, ...Array.from({ length: 70 }, (_, i) => `wide-${i}`)]
const LOOKUPS = ORACLE_VIEWS.flatMap((v) =>
  KEYS.map((entityKey) => ({ view: v, entityKey, features: v.features.map((f) => f.name) })),
)

void describe('online store > redis > scripts flushed between load and EVALSHA', () => {
  for (const plan of PLANS) {
    void test(`flushed before ${plan.name}: writes and script reads answer as without flushes`, async () => {
      const prefix = uniquePrefix()
      const flushed = new RedisOnlineStore({
        url: proxy.url,
        keyPrefix: prefix,
        publish: false,
        writeAttempts: 2,
        writeMinDelayMs: 1,
        writeMaxDelayMs: 2,
      })
      const reference = new RedisOnlineStore({ url: redisUrl(), keyPrefix: uniquePrefix(), publish: false })
      proxy.seen.clear()
      proxy.setPlan(flushBeforeEvalsha(plan.flushBefore))
      try {
        await Promise.all([flushed.ready(), reference.ready()])
        const results: OnlineWriteResult[] = []
        const expectedResults: OnlineWriteResult[] = []
        for (const w of ALL_WRITES) {
          expectedResults.push(await reference.writeRows(ORACLE_VIEWS[w.view]!, w.rows))
          results.push(await flushed.writeRows(ORACLE_VIEWS[w.view]!, w.rows))
        }
        assert.deepEqual(results, expectedResults)
        const model = modelApply(ALL_WRITES)
        const expected = ORACLE_VIEWS.flatMap((_, v) => KEYS.map((k) => modelRead(model, v, k, BASE)))
        // Every read of four lookups or more goes through the read script: several of them, one
        // per view and all at once, each meeting its own flush.
        for (const view of ORACLE_VIEWS) {
          const at = LOOKUPS.findIndex((l) => l.view === view)
          const mine = LOOKUPS.filter((l) => l.view === view)
          assert.deepEqual((await flushed.readRows(mine, BASE)).map(plain), expected.slice(at, at + mine.length))
        }
        assert.deepEqual((await flushed.readRows(LOOKUPS, BASE)).map(plain), expected)
        assert.ok((proxy.seen.get('EVALSHA') ?? 0) > ORACLE_VIEWS.length, 'the store used EVALSHA')
        assert.ok((proxy.seen.get('EVAL') ?? 0) > 0, 'a flush made the store send a script again')
      } finally {
        proxy.setPlan(() => ({ kind: 'forward' }))
        await flushed.close()
        await reference.close()
      }
    })
  }
})
