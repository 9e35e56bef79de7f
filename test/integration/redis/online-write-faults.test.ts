/**
 * Checkpoint writes of the Redis online store under every fault a command can meet on its way
 * (test/support/redis-fault-proxy.ts, in front of a private Redis this file starts and stops): the
 * connection dropped before a command or after Redis ran it, an error reply for one command of a
 * batch (READONLY, OOM, LOADING, BUSY, MISCONF, NOSCRIPT), the script cache really flushed, a reply
 * held past the command timeout. Each write is retried as the engine retries it (the store's own
 * budget, then the whole write again). After every write that returned, the store equals the
 * fault-free model (online-oracle-model.ts); after one that failed, no key went back to an older
 * `as_of`. Two writers (`kfs run` and `kfs replay --online`) writing the same rows end equal too.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { RedisOnlineStore } from '../../../adapters/online-store/redis/redis-online-store.ts'
import { startPrivateRedis, type PrivateRedis } from '../../support/private-servers.ts'
import { startRedisFaultProxy, type CommandFault, type RedisFaultProxy } from '../../support/redis-fault-proxy.ts'
import {
  ODD_KEYS,
  ORACLE_VIEWS,
  modelApply,
  modelRead,
  oracleWrites,
  plain,
  type OracleWrite,
  type StoredRow,
} from './online-oracle-model.ts'
import { uniquePrefix } from './redis-env.ts'

const FAULTS: readonly CommandFault[] = [
  { kind: 'drop-before' },
  { kind: 'drop-after' },
  { kind: 'error', reply: "READONLY You can't write against a read only replica." },
  { kind: 'error', reply: "OOM command not allowed when used memory > 'maxmemory'." },
  { kind: 'error', reply: 'LOADING Redis is loading the dataset in memory' },
  { kind: 'error', reply: 'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.' },
  { kind: 'error', reply: 'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.' },
  { kind: 'error', reply: 'NOSCRIPT No matching script. Please use EVAL.' },
  { kind: 'flush-scripts-first' },
  { kind: 'late', delayMs: 250 },
]

let redis: PrivateRedis
let proxy: RedisFaultProxy

before(async () => {
  redis = await startPrivateRedis()
  proxy = await startRedisFaultProxy(Number(new URL(redis.url).port))
})

after(async () => {
  await proxy?.close()
  await redis?.stop()
})

/** The faults to apply, in turn, to the writer's script commands (EVALSHA, and EVAL after a NOSCRIPT); `forward` when used up. */
function faultPlan(
  faults: readonly (CommandFault | null)[],
  commands: readonly string[] = ['EVALSHA', 'EVAL'],
): (command: readonly string[]) => CommandFault {
  let next = 0
  return (command) => {
    if (!commands.includes(command[0]?.toUpperCase() ?? '')) return { kind: 'forward' }
    return faults[next++] ?? { kind: 'forward' }
  }
}

function faultyStore(prefix: string, publish = false): RedisOnlineStore {
  return new RedisOnlineStore({
    url: proxy.url,
    keyPrefix: prefix,
    publish,
    commandTimeoutMs: 100,
    writeAttempts: 3,
    writeMinDelayMs: 1,
    writeMaxDelayMs: 5,
  })
}

/** The write, again and again as the engine retries a failed online write, until it returns; how many times it failed. */
async function writeAsTheEngine(store: RedisOnlineStore, w: OracleWrite, afterFailure: () => Promise<void>): Promise<number> {
  for (let failures = 0; ; failures++) {
    try {
      await store.writeRows(ORACLE_VIEWS[w.view]!, w.rows)
      return failures
    } catch (err: unknown) {
      const code = (err as { code?: string }).code
      assert.ok(code === 'RETRIES_EXHAUSTED' || code === 'SINK_UNAVAILABLE', `a write failed for good: ${String(err)}`)
      assert.ok(failures < 100, 'the write never landed')
      await afterFailure()
    }
  }
}

type Read = { status: string; asOfMs: number | null; values: unknown[] }

async function readEverything(store: RedisOnlineStore, nowMs: number): Promise<Read[]> {
  const lookups = ORACLE_VIEWS.flatMap((v) =>
    ODD_KEYS.map((entityKey) => ({ view: v, entityKey, features: v.features.map((f) => f.name) })),
  )
  return (await store.readRows(lookups, nowMs)).map(plain)
}

function expectedReads(model: ReadonlyMap<string, StoredRow>, nowMs: number): Read[] {
  return ORACLE_VIEWS.flatMap((_, v) => ODD_KEYS.map((k) => modelRead(model, v, k, nowMs)))
}

/** No key's `as_of` went back (a tombstone keeps its `as_of` in the hash, so it is read raw). */
async function assertNoRegression(direct: RedisOnlineStore, seen: Map<number, number>, nowMs: number): Promise<void> {
  const reads = await readEverything(direct, nowMs)
  for (const [i, r] of reads.entries()) {
    if (r.asOfMs === null) continue
    assert.ok(r.asOfMs >= (seen.get(i) ?? -Infinity), `lookup ${i} went back from as_of ${seen.get(i)} to ${r.asOfMs}`)
    seen.set(i, r.asOfMs)
  }
}

const faultLists = fc.array(fc.option(fc.constantFrom(...FAULTS), { nil: null, freq: 2 }), { maxLength: 30 })

void test('online store > redis faults > every write, faulted at any command and retried as the engine does, ends as the fault-free model, and its change feed too', async () => {
  const base = Date.now()
  let faulted = 0
  await fc.assert(
    fc.asyncProperty(oracleWrites(base, ODD_KEYS), faultLists, async (writes, faults) => {
      const prefix = uniquePrefix()
      const store = faultyStore(prefix, true)
      const direct = new RedisOnlineStore({ url: redis.url, keyPrefix: prefix, publish: false })
      // The change feed, from Redis directly: the last change of each key is the row it holds.
      const lastChange = new Map<string, StoredRow>()
      const stop = await direct.subscribeChanges(ORACLE_VIEWS, (c) => {
        const v = ORACLE_VIEWS.findIndex((d) => d.name === c.view && d.version === c.version)
        const values = ORACLE_VIEWS[v]!.features.map((f) => c.values[f.name] ?? null)
        lastChange.set(`${v}\u0000${c.entityKey}`, { asOfMs: c.asOfMs, values, deleted: c.deleted === true })
      })
      proxy.setPlan(faultPlan(faults))
      try {
        await Promise.all([store.ready(), direct.ready()])
        const model = new Map<string, StoredRow>()
        const seen = new Map<number, number>()
        for (const w of writes) {
          faulted += await writeAsTheEngine(store, w, () => assertNoRegression(direct, seen, base))
          modelApply([w], model)
          assert.deepEqual(await readEverything(direct, base), expectedReads(model, base))
          await assertNoRegression(direct, seen, base)
        }
        proxy.setPlan(() => ({ kind: 'forward' }))
        // The writer's own reads, through the proxy, once it is clean.
        assert.deepEqual(await readEverything(store, base), expectedReads(model, base))
        // A last row on a key of its own: once its change arrives, every change before it has.
        await store.writeRows(ORACLE_VIEWS[0]!, [{ entityKey: 'end', asOfMs: base, values: [0, null, null] }])
        for (let i = 0; !lastChange.has('0\u0000end'); i++) {
          assert.ok(i < 2000, 'the change feed never delivered the last row')
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
        lastChange.delete('0\u0000end')
        assert.deepEqual(lastChange, model)
      } finally {
        await stop()
        proxy.setPlan(() => ({ kind: 'forward' }))
        await store.close()
        await direct.close()
      }
    }),
    { numRuns: 40 },
  )
  assert.ok(faulted > 0, 'some writes failed and were retried')
})

/** The same rows as `kfs replay --online` writes them: consecutive writes of one view in one batch. */
function asReplayBatches(writes: readonly OracleWrite[]): OracleWrite[] {
  const out: OracleWrite[] = []
  for (const w of writes) {
    const last = out.at(-1)
    if (last?.view === w.view) out[out.length - 1] = { view: w.view, rows: [...last.rows, ...w.rows] }
    else out.push({ view: w.view, rows: [...w.rows] })
  }
  return out
}

void test('online store > redis faults > two writers of the same rows at once (run and replay --online), one faulted, end as the model', async () => {
  const base = Date.now()
  await fc.assert(
    fc.asyncProperty(
      oracleWrites(base, ODD_KEYS),
      faultLists,
      fc.integer({ min: 0, max: 3 }),
      async (writes, faults, stagger) => {
        const prefix = uniquePrefix()
        const live = faultyStore(prefix)
        const replay = new RedisOnlineStore({ url: redis.url, keyPrefix: prefix, publish: false })
        const watcher = new RedisOnlineStore({ url: redis.url, keyPrefix: prefix, publish: false })
        proxy.setPlan(faultPlan(faults))
        try {
          await Promise.all([live.ready(), replay.ready(), watcher.ready()])
          const seen = new Map<number, number>()
          const runLive = async (): Promise<void> => {
            for (const w of writes) await writeAsTheEngine(live, w, () => assertNoRegression(watcher, seen, base))
          }
          const runReplay = async (): Promise<void> => {
            for (let i = 0; i < stagger; i++) await new Promise((resolve) => setImmediate(resolve))
            for (const w of asReplayBatches(writes)) {
              await writeAsTheEngine(replay, w, async () => {})
              await assertNoRegression(watcher, seen, base)
            }
          }
          await Promise.all([runLive(), runReplay()])
          assert.deepEqual(await readEverything(watcher, base), expectedReads(modelApply(writes), base))
        } finally {
          proxy.setPlan(() => ({ kind: 'forward' }))
          await Promise.all([live.close(), replay.close(), watcher.close()])
        }
      },
    ),
    { numRuns: 40 },
  )
})

void test('online store > redis faults > a read faulted at any command answers what is stored or SOURCE_UNAVAILABLE, never another row', async () => {
  const base = Date.now()
  await fc.assert(
    fc.asyncProperty(
      oracleWrites(base, ODD_KEYS),
      fc.array(faultLists, { minLength: 1, maxLength: 6 }),
      async (writes, rounds) => {
        const prefix = uniquePrefix()
        const reader = faultyStore(prefix)
        const direct = new RedisOnlineStore({ url: redis.url, keyPrefix: prefix, publish: false })
        try {
          await Promise.all([reader.ready(), direct.ready()])
          for (const w of writes) await direct.writeRows(ORACLE_VIEWS[w.view]!, w.rows)
          const expected = expectedReads(modelApply(writes), base)
          const lookups = ORACLE_VIEWS.flatMap((v) =>
            ODD_KEYS.map((entityKey) => ({ view: v, entityKey, features: v.features.map((f) => f.name) })),
          )
          for (const faults of rounds) {
            proxy.setPlan(faultPlan(faults, ['HMGET', 'EVALSHA', 'EVAL']))
            // One key, a pipeline of a few, the read script: each path, several reads in flight at once.
            const batches = [lookups.slice(0, 1), lookups.slice(1, 3), lookups.slice(3, 4), lookups, lookups.slice(5, 6)]
            const answers = await Promise.allSettled(batches.map((b) => reader.readRows(b, base)))
            for (const [i, answer] of answers.entries()) {
              const at = lookups.indexOf(batches[i]![0]!)
              if (answer.status === 'fulfilled')
                assert.deepEqual(answer.value.map(plain), expected.slice(at, at + batches[i]!.length))
              else assert.equal((answer.reason as { code?: string }).code, 'SOURCE_UNAVAILABLE', String(answer.reason))
            }
          }
        } finally {
          proxy.setPlan(() => ({ kind: 'forward' }))
          await reader.close()
          await direct.close()
        }
      },
    ),
    { numRuns: 30 },
  )
})

void test('online store > redis faults > Redis restarting under a stream of writes (its scripts gone, LOADING) ends as the model', async () => {
  const base = Date.now()
  const [writes] = fc.sample(
    oracleWrites(base, ODD_KEYS).filter((ws) => ws.length >= 8),
    { numRuns: 1, seed: 3131 },
  )
  const prefix = uniquePrefix()
  const store = new RedisOnlineStore({
    url: proxy.url,
    keyPrefix: prefix,
    publish: false,
    commandTimeoutMs: 200,
    writeAttempts: 3,
    writeMinDelayMs: 5,
    writeMaxDelayMs: 50,
  })
  const direct = new RedisOnlineStore({ url: redis.url, keyPrefix: prefix, publish: false })
  let failures = 0
  try {
    await store.ready()
    const half = Math.floor(writes!.length / 2)
    for (const w of writes!.slice(0, half)) failures += await writeAsTheEngine(store, w, async () => {})
    // The rest of the writes, over and over, until Redis is back: some before its shutdown, some
    // while it is down, some while it loads. Rewriting them is what the engine does after a restart.
    const written = writes!.slice(0, half)
    let restarted = false
    const restarting = redis.restart({ downMs: 100 }).then(() => (restarted = true))
    for (let i = 0; !restarted || i < writes!.length - half; i++) {
      const w = writes![half + (i % (writes!.length - half))]!
      failures += await writeAsTheEngine(store, w, async () => {})
      written.push(w)
    }
    await restarting
    await direct.ready()
    assert.deepEqual(await readEverything(direct, base), expectedReads(modelApply(written), base))
  } finally {
    await store.close()
    await direct.close()
  }
  assert.ok(failures > 0, 'a write met the restart')
})
