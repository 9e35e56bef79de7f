/**
 * The oracle property (online-oracle-model.ts) as a runner any Redis deployment's test calls: a
 * single node (online-oracle.test.ts) and a Cluster (cluster.test.ts), where each script call holds
 * keys of one slot and odd hash tags (`{}`, `a{b}c`, `}{`) decide where a key lives.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import {
  ODD_KEYS,
  ORACLE_VIEWS,
  UNSTORABLE_KEYS,
  modelApply,
  modelRead,
  oracleWrites,
  plain,
  unstorable,
} from './online-oracle-model.ts'

const HOUR = 3_600_000

/** Every (view, key) of the oracle, read in groups of 1, 3 and all at once, at `nowMs`. */
async function readAll(
  store: RedisOnlineStore,
  nowMs: number,
): Promise<{ status: string; asOfMs: number | null; values: unknown[] }[][]> {
  const lookups = ORACLE_VIEWS.flatMap((v) =>
    ODD_KEYS.map((entityKey) => ({ view: v, entityKey, features: v.features.map((f) => f.name) })),
  )
  const groups: { status: string; asOfMs: number | null; values: unknown[] }[][] = []
  for (const size of [1, 3, lookups.length]) {
    const reads = []
    for (let i = 0; i < lookups.length; i += size) reads.push(...(await store.readRows(lookups.slice(i, i + size), nowMs)))
    groups.push(reads.map(plain))
  }
  return groups
}

/** core/entity-key.ts's reasons for the unstorable keys. */
const NAMES_NO_ENTITY =
  /entity key .* is (empty|not printable \(it holds control characters\)|not well-formed Unicode \(it holds a lone surrogate\))$/

/** Random writes read back as the model says, on every read path; keys Redis cannot hold apart are refused. */
export async function assertOracle(makeStore: () => RedisOnlineStore, numRuns = 40): Promise<void> {
  const base = Date.now()
  await fc.assert(
    fc.asyncProperty(oracleWrites(base), async (writes) => {
      const store = makeStore()
      try {
        await store.ready()
        for (const w of writes) {
          const done = store.writeRows(ORACLE_VIEWS[w.view]!, w.rows)
          if (unstorable(w)) await assert.rejects(done, { code: 'SINK_REJECTED', message: NAMES_NO_ENTITY })
          else await done
        }
        const model = modelApply(writes)
        for (const nowMs of [base, base + HOUR + 1_500]) {
          const expected = ORACLE_VIEWS.flatMap((_, v) => ODD_KEYS.map((k) => modelRead(model, v, k, nowMs)))
          for (const got of await readAll(store, nowMs)) assert.deepEqual(got, expected)
          for (const entityKey of UNSTORABLE_KEYS) {
            await assert.rejects(store.readRows([{ view: ORACLE_VIEWS[0]!, entityKey, features: ['count'] }], nowMs), {
              code: 'BAD_REQUEST',
              message: NAMES_NO_ENTITY,
            })
          }
        }
      } finally {
        await store.close()
      }
    }),
    { numRuns },
  )
}
