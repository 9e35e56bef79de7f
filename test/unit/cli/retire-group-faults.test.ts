/**
 * `kfs groups retire` with each of its store calls failing (before it reaches the store, or after it
 * landed with its answer lost). Whatever step fails, a topic the group has checkpoints of is never
 * left with neither those checkpoints nor a claim refusing a group that would start over it (that
 * group would archive every record again), another group's claim is never touched, and running the
 * retire again finishes it (docs/semantics.md §14).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/memory/memory-object-store.ts'
import { requireSoleLiveGroup } from '../../../main/commands/live-groups.ts'
import { planRetire, retireGroup } from '../../../main/commands/store-groups.ts'
import { listClaims } from '../../../main/commands/topic-claims.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'

const enc = new TextEncoder()
const CHECKPOINTED = ['clicks', 'purchases']
const CLAIMED_ONLY = ['orders']

/** Group a claimed three topics and checkpointed two (one backfill too); group b has its own topic. */
async function seeded(): Promise<MemoryObjectStore> {
  const store = new MemoryObjectStore()
  await requireSoleLiveGroup(store, 'a', [...CHECKPOINTED, ...CLAIMED_ONLY], 1)
  await requireSoleLiveGroup(store, 'b', ['other'], 1)
  for (const topic of CHECKPOINTED)
    for (const file of ['ckpt-000000000001.json', 'ckpt-000000000002.json', 'state-000000000002-x.bin'])
      await store.put(`checkpoints/a/${topic}/0/${file}`, enc.encode('{}'))
  await store.put('checkpoints/a.backfill.v%401/clicks/0/ckpt-000000000001.json', enc.encode('{}'))
  await store.put('checkpoints/b/other/0/ckpt-000000000001.json', enc.encode('{}'))
  return store
}

class Fault extends Error {}

/** `inner` with its `at`-th call (0-based) failing `how`; `calls` counts them. */
function faulted(inner: ObjectStore, at: number, how: 'before' | 'after', seen: { calls: number }): ObjectStore {
  const call = async <R>(run: () => Promise<R>): Promise<R> => {
    const n = seen.calls++
    if (n === at && how === 'before') throw new Fault(`call ${n} failed`)
    const result = await run()
    if (n === at) throw new Fault(`call ${n} landed, answer lost`)
    return result
  }
  const base = forwardingStore(inner)
  return {
    ...base,
    get: (k) => call(() => inner.get(k)),
    put: (k, b) => call(() => inner.put(k, b)),
    putIfAbsent: (k, b) => call(() => inner.putIfAbsent(k, b)),
    delete: (k) => call(() => inner.delete(k)),
    list: (p) => call(() => inner.list(p)),
    listWithTimes: (p) => call(() => inner.listWithTimes(p)),
  }
}

async function checkpointsOf(store: ObjectStore, topic: string): Promise<boolean> {
  return (await store.list(`checkpoints/a/${topic}/`)).some((k) => /\/ckpt-\d+\.json$/.test(k))
}

void describe('kfs groups retire: each store call failing', () => {
  for (const how of ['before', 'after'] as const) {
    void test(`a call failing ${how === 'before' ? 'before it reaches the store' : 'after it landed'}: never a checkpointed topic unguarded; a second retire finishes`, async () => {
      let fired = 0
      for (let at = 0; ; at++) {
        const store = await seeded()
        const seen = { calls: 0 }
        const flaky = faulted(store, at, how, seen)
        const failed = await (async () => {
          const plan = await planRetire(flaky, 'a')
          assert.ok(plan !== undefined)
          await retireGroup(flaky, plan, 1_000)
        })().then(
          () => false,
          (err: unknown) => {
            assert.ok(err instanceof Fault, String(err))
            return true
          },
        )
        if (!failed) {
          assert.ok(seen.calls <= at, 'the fault fired, or every call ran')
          break
        }
        fired++
        const claims = new Map((await listClaims(store)).map((c) => [c.topic, c]))
        for (const topic of CHECKPOINTED)
          assert.ok(
            (await checkpointsOf(store, topic)) || claims.get(topic)?.retiredAtMs !== undefined,
            `call ${at}: ${topic} unguarded`,
          )
        assert.equal(claims.get('other')?.group, 'b', "b's claim untouched")
        // Run it again, without faults: done.
        const plan = await planRetire(store, 'a')
        assert.ok(plan !== undefined)
        if (!plan.alreadyRetired) await retireGroup(store, plan, 2_000)
        const after = new Map((await listClaims(store)).map((c) => [c.topic, c]))
        assert.deepEqual([...after.keys()].sort(), [...CHECKPOINTED, 'other'].sort(), `call ${at}: the claim-only topic freed`)
        for (const topic of CHECKPOINTED) assert.ok(after.get(topic)?.retiredAtMs !== undefined, `call ${at}: ${topic} retired`)
        assert.deepEqual(
          (await store.list('checkpoints/')).filter((k) => !k.startsWith('checkpoints/b/')),
          [],
          `call ${at}: a's checkpoints and its backfill's gone`,
        )
        assert.deepEqual(await store.list('checkpoints/b/'), ['checkpoints/b/other/0/ckpt-000000000001.json'])
        await assert.rejects(requireSoleLiveGroup(store, 'c', ['clicks'], 3_000), /before it was retired/)
        await requireSoleLiveGroup(store, 'c', CLAIMED_ONLY, 3_000)
      }
      assert.ok(fired >= 10, `${fired} calls faulted`)
    })
  }
})
