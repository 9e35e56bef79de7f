/**
 * Group commit against a reference, at random (docs/semantics.md §11 "Group commit"): rounds of
 * partitions committing at once through the engine's sink — a partition's next checkpoint, or its
 * failed one again (the slot finishes it before anything newer), or one it committed already again
 * (a restart's roll-forward, a fenced slot; through the engine's sink), or the next one through another
 * process at the same time as the engine (a restarted or fenced owner rolling the same record forward) — with
 * every store call delayed at random (so commits overlap and group in every way) and, in some
 * rounds, one call failing before or after it happened. After every round each snapshot holds
 * exactly the rows of the checkpoints its markers show, each once; each checkpoint that reported
 * success is held; one that failed is held whole or not at all. At the end the failed ones are
 * committed again and the tables hold every checkpoint, once.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { loadTable } from '../../../adapters/offline/iceberg/index.ts'
import { prng } from '../../../examples/generate-events.ts'
import { markerName, sinkOn, stagedWorld, StepStore, type GroupWorld } from './group-commit-world.ts'

const PARTITIONS = 3
const CHECKPOINTS = 4
const staged = stagedWorld(PARTITIONS, CHECKPOINTS)

type Action =
  | { readonly kind: 'next'; readonly partition: number }
  | { readonly kind: 'again'; readonly partition: number; readonly otherProcess: boolean }

interface Round {
  readonly actions: readonly Action[]
  readonly fault: { readonly at: number; readonly how: 'before' | 'after' } | undefined
}

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('next' as const), partition: fc.nat({ max: PARTITIONS - 1 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('again' as const),
      partition: fc.nat({ max: PARTITIONS - 1 }),
      otherProcess: fc.boolean(),
    }),
  },
)
const roundArb: fc.Arbitrary<Round> = fc.record({
  actions: fc.array(actionArb, { minLength: 1, maxLength: 5 }),
  fault: fc.option(fc.record({ at: fc.nat({ max: 40 }), how: fc.constantFrom('before' as const, 'after' as const) }), {
    nil: undefined,
  }),
})

/** The engine's account per partition: the checkpoints that reported success, and the one that failed (if any). */
interface Partition {
  committed: number
  failed: number | undefined
  /** The newest checkpoint any process tried to commit. */
  attempted: number
}

interface Stats {
  /** Snapshots that carry more than one partition's checkpoint: the grouping happened. */
  grouped: number
  failed: number
}

async function run(seed: number, rounds: readonly Round[], stats: Stats): Promise<void> {
  const world: GroupWorld = await (await staged).copy()
  const random = prng(seed)
  const step = new StepStore(world.memory)
  step.beforeCall = async () => {
    for (let n = Math.floor(random() * 4); n > 0; n--) await new Promise((resolve) => setImmediate(resolve))
  }
  const engineSink = sinkOn(step.store)
  const parts: Partition[] = Array.from({ length: PARTITIONS }, () => ({ committed: 0, failed: undefined, attempted: 0 }))
  for (const round of rounds) {
    step.calls = 0
    step.fault = round.fault
    step.counting = true
    // The engine's slot checkpoints one at a time: a partition's `next` runs at most once a round.
    const busy = new Set<number>()
    await Promise.all(
      round.actions.map(async (action) => {
        const part = parts[action.partition]!
        if (action.kind === 'again') {
          // Through the engine's sink: a checkpoint it committed already. Through another process
          // (a restarted or fenced owner rolling the same record forward): the partition's next
          // one, racing the engine's own commit of it.
          const seq = action.otherProcess ? (part.failed ?? part.committed + 1) : part.committed
          if (seq === 0 || seq > CHECKPOINTS) return
          part.attempted = Math.max(part.attempted, seq)
          const sink = action.otherProcess ? sinkOn(step.store) : engineSink
          await world
            .rollForward(sink, await world.record(action.partition, seq))
            .catch((err: unknown) => assert.ok(err instanceof Error, String(err)))
          return
        }
        if (busy.has(action.partition)) return
        const seq = part.failed ?? part.committed + 1
        if (seq > CHECKPOINTS) return
        busy.add(action.partition)
        part.attempted = Math.max(part.attempted, seq)
        try {
          await world.rollForward(engineSink, await world.record(action.partition, seq))
          part.committed = seq
          part.failed = undefined
        } catch (err: unknown) {
          assert.ok(err instanceof Error, String(err))
          part.failed = seq
          stats.failed++
        }
      }),
    )
    step.counting = false
    await checkRound(world, parts)
  }
  // The restart: every failed checkpoint committed again.
  await Promise.all(
    parts.map(async (part, p) => {
      if (part.failed === undefined) return
      await world.rollForward(sinkOn(world.memory), await world.record(p, part.failed))
      part.committed = part.failed
      part.failed = undefined
    }),
  )
  // And what another process went on to commit (or left half done): the owner's next checkpoint.
  for (const [p, part] of parts.entries()) {
    if (part.attempted <= part.committed) continue
    await world.rollForward(sinkOn(world.memory), await world.record(p, part.attempted))
    part.committed = part.attempted
  }
  await world.assertTables(new Map(parts.map((part, p) => [p, part.committed])))
  for (const id of [world.archiveId, world.featureId]) {
    const snapshots = (await loadTable(world.memory, id)).metadata.snapshots
    stats.grouped += snapshots.filter(
      (s) => Object.keys(s.summary ?? {}).filter((k) => k.startsWith('kfs.ckpt.')).length > 1,
    ).length
  }
}

/** Every snapshot exact; each partition's tables hold what succeeded, and of a failed checkpoint all or nothing. */
async function checkRound(world: GroupWorld, parts: readonly Partition[]): Promise<void> {
  for (const kind of ['archive', 'feature'] as const) {
    const markers = (await world.assertSnapshots(kind)).at(-1)?.markers ?? {}
    for (const [p, part] of parts.entries()) {
      const held = markers[markerName(p)] ?? 0
      assert.ok(held >= part.committed, `${kind}: partition ${p} holds ${held}, reported ${part.committed}`)
      assert.ok(held <= part.attempted, `${kind}: partition ${p} holds ${held}, no commit of it went past ${part.attempted}`)
    }
  }
}

void describe('iceberg > group commit against a reference', () => {
  void test('random rounds of partitions committing at once, some again, some after a failure: every snapshot exact, every checkpoint held once in the end', async () => {
    const stats: Stats = { grouped: 0, failed: 0 }
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.array(roundArb, { minLength: 2, maxLength: 6 }), (seed, rounds) =>
        run(seed, rounds, stats),
      ),
      { numRuns: 40 },
    )
    // Not vacuous: commits were grouped, and some failed and were committed again.
    assert.ok(stats.grouped > 0, 'no snapshot carried two partitions’ checkpoints')
    assert.ok(stats.failed > 0, 'no checkpoint failed')
  })
})
