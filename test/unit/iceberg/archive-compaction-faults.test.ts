/**
 * Archive compaction with every object-store call it makes faulted in turn — failing before it
 * happens, failing after it happened (its answer lost), an engine checkpoint committed just before
 * it, another compaction of the same archive run just before it. Each time: every partition still
 * reads the reference (no row lost or doubled, the racing checkpoint's rows included), where it
 * ends is the reference's, a compaction that lost to another says `superseded` and committed
 * nothing, and a rerun on a healthy store finishes the job (then a third finds nothing to do).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { forwardingStore } from '../../support/forwarding-store.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { ArchiveWorld, assertReadsReference, fixedItems, MINUTE, TOPIC } from './archive-world.ts'

type Step = 'before' | 'after' | 'append' | 'compaction'

class InjectedFault extends Error {
  override readonly name = 'InjectedFault'
}

/** `inner`, with `hook` run around its `at`-th call (from 0, any method); counts the calls. */
function steppedStore(
  inner: ObjectStore,
  at: number,
  hook: (when: 'before' | 'after') => Promise<void>,
): { store: ObjectStore; calls: () => number } {
  let n = 0
  const wrap =
    <A extends unknown[], T>(call: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      const mine = n++
      if (mine === at) await hook('before')
      const out = await call(...args)
      if (mine === at) await hook('after')
      return out
    }
  const f = forwardingStore(inner)
  return {
    store: {
      ...f,
      get: wrap(f.get),
      put: wrap(f.put),
      putIfAbsent: wrap(f.putIfAbsent),
      delete: wrap(f.delete),
      list: wrap(f.list),
      listWithTimes: wrap(f.listWithTimes),
    },
    calls: () => n,
  }
}

const items = fixedItems

/** Two partitions of five checkpoints each, all old. */
async function oldArchive(): Promise<ArchiveWorld> {
  const world = new ArchiveWorld(new MemoryObjectStore())
  for (let i = 0; i < 10; i++) {
    world.clock.now += MINUTE
    await world.append(i % 2, items(i))
  }
  world.clock.now += 60 * MINUTE
  return world
}

const options = (world: ArchiveWorld) => ({ committedBeforeMs: world.clock.now - 30 * MINUTE, rowsPerFile: 6, filesPerCommit: 3 })

async function oneStep(archive: ArchiveWorld, at: number, step: Step): Promise<{ calls: number; outcome: string }> {
  const world = await archive.copy()
  const engine = world.newSink()
  const { store, calls } = steppedStore(world.store, at, async (when) => {
    if (step === 'append' && when === 'before') await world.append(1, items(at), engine)
    if (step === 'compaction' && when === 'before') await world.newSink().compactArchive(TOPIC, options(world))
    if (step === when) throw new InjectedFault(`injected: call ${at} ${when}`)
  })
  let outcome: string
  try {
    outcome = (await world.newSink(store).compactArchive(TOPIC, options(world))).status ?? 'nothing'
  } catch (err: unknown) {
    assert.ok(
      err instanceof InjectedFault || (err instanceof Error && /injected/.test(err.message)),
      `only the injected fault: ${String(err)}`,
    )
    outcome = 'failed'
  }
  if (step === 'compaction') assert.ok(outcome === 'superseded' || outcome === 'committed' || outcome === 'nothing', outcome)
  await assertReadsReference(world, `call ${at} ${step} (${outcome})`)
  // A rerun finishes the job; after it there is nothing left to do.
  await world.newSink().compactArchive(TOPIC, options(world))
  await assertReadsReference(world, `call ${at} ${step}, rerun`)
  assert.deepEqual(
    await world.newSink().compactArchive(TOPIC, options(world)),
    { removedFiles: 0, addedFiles: 0, status: undefined },
    `call ${at} ${step}: the rerun finished`,
  )
  return { calls: calls(), outcome }
}

void describe('archive compaction, each store call faulted in turn', () => {
  void test('nothing lost or doubled, the table reads, a rerun finishes', async () => {
    const outcomes = new Map<string, number>()
    const archive = await oldArchive()
    for (const step of ['before', 'after', 'append', 'compaction'] as const) {
      // The calls of a clean compaction bound the loop; a faulted one may make more (its retries).
      const { calls } = await oneStep(archive, -1, step)
      assert.ok(calls > 20, `${calls} calls`)
      for (let at = 0; at < calls; at++) {
        const { outcome } = await oneStep(archive, at, step)
        outcomes.set(`${step}:${outcome}`, (outcomes.get(`${step}:${outcome}`) ?? 0) + 1)
      }
    }
    // Each way reached: failed runs, commits that survived a fault or a race, and lost races to another compaction.
    for (const seen of [
      'before:failed',
      'before:committed',
      'after:failed',
      'after:committed',
      'append:committed',
      'compaction:superseded',
      'compaction:nothing',
    ])
      assert.ok((outcomes.get(seen) ?? 0) > 0, `${seen} in ${JSON.stringify([...outcomes])}`)
  })
})
