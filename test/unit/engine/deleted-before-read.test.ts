/**
 * Records retention deleted before a reader of the log read them (docs/semantics.md §14, §16,
 * §17), for every reader: the live engine, the backfill hand-off's catch-up from the archive, the
 * re-key stage — each × every way of deleting (test/support/deleted-before-read.ts: all of a
 * partition's records, a prefix of what it had not read, everything it had left while idle). Each
 * must reach caught up (a progress condition, no timer assertion), count the deleted offsets once
 * and say so, lose nothing it could still read, and end with offline and online rows equal to a
 * run over the records that were readable; a restart counts nothing again. Before, the hand-off
 * stopped with InvariantViolation ('catch-up … stopped at …') when the archive ended before the
 * live position (all, idle), and a re-key stage whose partition's unread records were all deleted
 * never caught up (idle).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { purchases as eventPurchases, userPurchases as eventUserPurchases } from '../../../examples/features.ts'
import { purchases, userBigSpends, userPurchases } from '../../../examples/with-new-view.ts'
import type { FeatureRow, FeatureViewDef } from '../../../features/types.ts'
import { consumedView, planRekeys } from '../../../engine/plan-sources.ts'
import { rekeyGroupId } from '../../../engine/rekey-stage.ts'
import type { LiveEngine } from '../../../engine/live-engine.ts'
import type { DeadLetterSink } from '../../../ports/dead-letters.ts'
import type { BackfillStatus } from '../../../registry/index.ts'
import { settleBackfills, type BackfillRegistry } from '../../../replay/backfill-before-live.ts'
import { verifyParity } from '../../../replay/verify-parity.ts'
import { systemClock } from '../../../core/clock.ts'
import { silentLogger } from '../../../core/logger.ts'
import { partitionForKey } from '../../../core/murmur2.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { clicks, itemClicks } from '../../fixtures/features/rekey-scoped.ts'
import {
  assertExactlyOnce,
  generateClicks,
  internalEvents,
  produceClicks,
  readInternalTopic,
  referenceByEntity,
  type SourceRecord,
} from '../../fixtures/features/rekey-clicks.ts'
import {
  assertSameRows,
  valuesClose,
  expectedRowsByEntity,
  generatePurchases,
  produceEvents,
  waitFor,
  type ProducedRecord,
} from '../../support/scenario.ts'
import {
  boundsWhileDown,
  deleteWhileIdle,
  DELETIONS,
  endsOf,
  K,
  offlineRowsByEntity,
  onlineVersusLast,
  openEnv,
  QUIET_MS,
  runCaughtUp,
  type Deletion,
  type Env,
} from '../../support/deleted-before-read.ts'

/** What a scenario leaves for the common checks. */
interface Outcome {
  readonly env: Env
  readonly topic: string
  /** Every engine the scenario ran, in order (all stopped). */
  readonly engines: readonly LiveEngine[]
  /** Offsets of K deleted before the reader read them. */
  readonly unread: number
  /** Per view: the rows a run over the readable records gives. */
  readonly expected: readonly [FeatureViewDef, Map<string, FeatureRow[]>][]
  /** The views of the restart that must count and read nothing. */
  readonly views: readonly FeatureViewDef[]
}

/** Offsets of K from `reached` (where the reader stood) to `bound` were deleted before it read them. */
const readable = <R extends { partition: number; offset: string }>(
  produced: readonly R[],
  reached: readonly number[],
  bounds: readonly number[],
) => produced.filter((r) => r.partition !== K || Number(r.offset) < reached[K]! || Number(r.offset) >= bounds[K]!)

/** Deletes by `deletion` after `reached`, producing `produce`'s records meanwhile; resolves the bounds and the engine reading on. */
async function deleteAndGoOn(
  env: Env,
  topic: string,
  deletion: Deletion,
  running: LiveEngine,
  reached: number[],
  produce: () => Promise<unknown>,
  next: () => LiveEngine,
) {
  if (deletion === 'idle') {
    const bounds = await deleteWhileIdle(env, topic, reached, produce)
    await waitFor(
      async () => running.failure !== undefined || (await running.isCaughtUp(QUIET_MS)),
      'caught up past the deleted records',
    )
    return { bounds, engine: running }
  }
  await running.stop()
  await produce()
  const bounds = boundsWhileDown(deletion, reached, await endsOf(env.log, topic))
  env.retained.deleteBefore(bounds)
  const engine = next()
  await runCaughtUp(engine, 'restarted past the deleted records')
  return { bounds, engine }
}

async function liveEngine(deletion: Deletion): Promise<Outcome> {
  const env = await openEnv(eventPurchases)
  const topic = eventPurchases.topic
  const views = [eventUserPurchases]
  const events = generatePurchases({ count: 1_200, users: 30, seed: 17 })
  const produced: ProducedRecord[] = []
  const produce = async (from: number, to: number) =>
    void produced.push(...(await produceEvents(env.log, topic, env.encoder, events.slice(from, to))))
  await produce(0, 400)
  const first = env.engine(views)
  await runCaughtUp(first, 'the first records read')
  const reached = await endsOf(env.log, topic)
  const { bounds, engine } = await deleteAndGoOn(
    env,
    topic,
    deletion,
    first,
    reached,
    () => produce(400, 800),
    () => env.engine(views),
  )
  // Records after the gap are read as usual.
  await produce(800, 1_200)
  await waitFor(async () => engine.failure !== undefined || (await engine.isCaughtUp(QUIET_MS)), 'the records after the gap read')
  await engine.stop()
  const read = readable(produced, reached, bounds)
  const engines = engine === first ? [first] : [first, engine]
  assert.equal(
    engines.reduce((n, e) => n + e.stats.consumed, 0),
    read.length,
    'every record still readable consumed, once',
  )
  return {
    env,
    topic,
    engines,
    unread: bounds[K]! - reached[K]!,
    expected: [[eventUserPurchases, expectedRowsByEntity(views, eventPurchases, read).get(eventUserPurchases.name)!]],
    views,
  }
}

const noLetters: DeadLetterSink = { write: async () => undefined, flush: async () => undefined }

async function backfillHandOff(deletion: Deletion): Promise<Outcome> {
  const env = await openEnv(purchases)
  const topic = purchases.topic
  const events = generatePurchases({ count: 1_000, users: 24, seed: 21 })
  const produced: ProducedRecord[] = []
  const produce = async (list: typeof events) => void produced.push(...(await produceEvents(env.log, topic, env.encoder, list)))
  const engines: LiveEngine[] = []
  const caughtUp = async (views: readonly FeatureViewDef[], what: string) => {
    const engine = env.engine(views)
    engines.push(engine)
    await runCaughtUp(engine, what)
    return engine
  }
  // 1. Live archives a first stretch with no record of K; the new view is backfilled from it.
  await produce(events.slice(0, 300).filter((e) => partitionForKey(e.user_id, purchases.partitions) !== K))
  await (await caughtUp([userPurchases], 'the first stretch read')).stop()
  const statuses = new Map<string, BackfillStatus>()
  const registry: BackfillRegistry = {
    getBackfillStatus: async (view, version) => statuses.get(`${view}@${version}`),
    setBackfillStatus: async (view, version, status) =>
      void statuses.set(`${view}@${version}`, { completeThrough: [], updatedAtMs: 0, ...status }),
  }
  const backfillEnv = {
    offline: env.offline,
    stateStore: env.store,
    decoderFor: () => env.decoderFor(purchases),
    clock: systemClock,
    online: async () => env.online,
    deadLetters: async () => noLetters,
  }
  await settleBackfills([userBigSpends], registry, backfillEnv, 'kfs-engine', silentLogger, () => {})
  const through = statuses.get(`${userBigSpends.name}@${userBigSpends.version}`)?.completeThrough.map((o) => o.partition)
  assert.ok(through !== undefined && !through.includes(K), `the backfill covered partitions ${String(through)}, not ${K}`)
  // 2. Live without the view reads K's records, or what retention left of them.
  const live = await caughtUp([userPurchases], 'live before the deletion')
  if (deletion === 'idle') await produce(events.slice(300, 450))
  await waitFor(() => live.isCaughtUp(QUIET_MS), 'K read up to where the deletion starts')
  const reached = await endsOf(env.log, topic)
  const later = deletion === 'idle' ? events.slice(450, 600) : events.slice(300, 600)
  const { bounds, engine } = await deleteAndGoOn(
    env,
    topic,
    deletion,
    live,
    reached,
    () => produce(later),
    () => {
      const next = env.engine([userPurchases])
      engines.push(next)
      return next
    },
  )
  await engine.stop()
  // 3. Both views live: the hand-off catches K up from offset 0 over what the archive holds.
  const both = await caughtUp([userPurchases, userBigSpends], 'the view handed over')
  await produce(events.slice(600))
  await waitFor(
    async () => both.failure !== undefined || (await both.isCaughtUp(QUIET_MS)),
    'the records after the hand-off read',
  )
  await both.stop()
  assert.equal(both.failure, undefined, `the hand-off: ${both.failure?.message}`)
  const read = readable(produced, reached, bounds)
  const expected = expectedRowsByEntity([userPurchases, userBigSpends], purchases, read)
  // The catch-up passes a tail the archive lacks only when the log no longer holds it, and says so.
  const passed = env.warnings.filter((w) => w.msg.startsWith('backfill hand-off') && w.fields.partition === K)
  if (deletion !== 'prefix') {
    assert.deepEqual(
      passed.map((w) => [w.fields.view, w.fields.from, w.fields.resumeAt]),
      [[`${userBigSpends.name}@${userBigSpends.version}`, String(reached[K]), String(bounds[K])]],
      'the catch-up names the stretch it passed',
    )
  } else assert.deepEqual(passed, [], 'an archive that reaches the live position passes nothing')
  const parity = await verifyParity({
    offline: env.offline,
    decoder: env.decoderFor(purchases),
    view: userBigSpends,
    groupId: 'kfs-engine',
    scratch: new MemoryObjectStore(),
  })
  assert.equal(parity.ok, true, JSON.stringify(parity.differences.slice(0, 2)))
  return {
    env,
    topic,
    engines,
    unread: bounds[K]! - reached[K]!,
    expected: [
      [userPurchases, expected.get(userPurchases.name)!],
      [userBigSpends, expected.get(userBigSpends.name)!],
    ],
    views: [userPurchases, userBigSpends],
  }
}

async function rekeyStage(deletion: Deletion): Promise<Outcome> {
  const env = await openEnv(clicks)
  const topic = clicks.topic
  const views = [itemClicks]
  const all = generateClicks({ count: 1_200, users: 20, items: 15, seed: 9 })
  const produced: SourceRecord[] = []
  const produce = async (from: number, to: number) =>
    void produced.push(...(await produceClicks(env.log, topic, env.encoder, all.slice(from, to), { garbageEvery: Infinity })))
  await produce(0, 300)
  const first = env.engine(views)
  await runCaughtUp(first, 'the first clicks re-keyed and consumed')
  const reached = await endsOf(env.log, topic)
  const { bounds, engine } = await deleteAndGoOn(
    env,
    topic,
    deletion,
    first,
    reached,
    () => produce(300, 900),
    () => env.engine(views),
  )
  await produce(900, 1_200)
  await waitFor(
    async () => engine.failure !== undefined || (await engine.isCaughtUp(QUIET_MS)),
    'the clicks after the gap re-keyed and consumed',
  )
  await engine.stop()
  // The stage's committed offsets are past the gap: a restart neither counts nor re-keys it again.
  const committed = (await env.log.committedOffsets(rekeyGroupId('kfs-engine', planRekeys(views)[0]!), topic)).map(Number)
  assert.deepEqual(committed, await endsOf(env.log, topic), "the stage's committed offsets")
  const keyable = readable(produced, reached, bounds).filter((r) => r.event !== undefined && r.event.item_id !== '')
  const internal = await readInternalTopic(env.log, `kfs.${topic}.by-item`, 'check-item', keyable.length, 300)
  assertExactlyOnce(internal, keyable, (c) => c.item_id, 'the internal topic: exactly the records left')
  const view = consumedView(itemClicks)
  const expected = referenceByEntity([view], view.source, internalEvents(internal, produced)).get(view.name)!
  return {
    env,
    topic,
    engines: engine === first ? [first] : [first, engine],
    unread: bounds[K]! - reached[K]!,
    expected: [[view, expected]],
    views,
  }
}

/**
 * The views' consumer of a re-key stage's internal topic. Nothing arrives there while its engine is
 * down, so both deletions happen while it runs: all it had left, or the first half of it.
 */
async function internalTopicView(deletion: Deletion): Promise<Outcome> {
  const internalTopic = `kfs.${clicks.topic}.by-item`
  const env = await openEnv(clicks, internalTopic)
  const views = [itemClicks]
  const all = generateClicks({ count: 1_200, users: 20, items: 15, seed: 13 })
  const produced: SourceRecord[] = []
  const produce = async (from: number, to: number) =>
    void produced.push(
      ...(await produceClicks(env.log, clicks.topic, env.encoder, all.slice(from, to), { garbageEvery: Infinity })),
    )
  await produce(0, 300)
  const engine = env.engine(views)
  await runCaughtUp(engine, 'the first clicks re-keyed and consumed')
  const reached = await endsOf(env.log, internalTopic)
  const bounds = await deleteWhileIdle(env, internalTopic, reached, () => produce(300, 900), deletion === 'prefix')
  await waitFor(
    async () => engine.failure !== undefined || (await engine.isCaughtUp(QUIET_MS)),
    'caught up past the deleted records',
  )
  await produce(900, 1_200)
  await waitFor(
    async () => engine.failure !== undefined || (await engine.isCaughtUp(QUIET_MS)),
    'the clicks after the gap consumed',
  )
  await engine.stop()
  const keyable = produced.filter((r) => r.event !== undefined && r.event.item_id !== '')
  const internal = await readInternalTopic(env.log, internalTopic, 'check-item', keyable.length, 300)
  // An event's order is its bundle's offset followed by six digits (rekey-bundle-format.ts).
  const left = readable(
    internal.map((r) => ({ ...r, order: r.offset, offset: (BigInt(r.offset) / 1_000_000n).toString() })),
    reached,
    bounds,
  ).map((r) => ({ ...r, offset: r.order }))
  assert.ok(left.length < internal.length, 'events deleted unread')
  const view = consumedView(itemClicks)
  const expected = referenceByEntity([view], view.source, internalEvents(left, produced)).get(view.name)!
  return { env, topic: internalTopic, engines: [engine], unread: bounds[K]! - reached[K]!, expected: [[view, expected]], views }
}

const READERS: [string, (deletion: Deletion) => Promise<Outcome>, readonly Deletion[]][] = [
  ['the live engine', liveEngine, DELETIONS],
  ['the backfill hand-off', backfillHandOff, DELETIONS],
  ['a re-key stage', rekeyStage, DELETIONS],
  ["a view over a re-key stage's internal topic", internalTopicView, ['prefix', 'idle']],
]

const sum = (counts: readonly Record<string, number>[]) =>
  counts.reduce<Record<string, number>>((out, c) => {
    for (const [k, n] of Object.entries(c)) out[k] = (out[k] ?? 0) + n
    return out
  }, {})

void describe('records deleted by retention before a reader read them', () => {
  for (const [reader, scenario, deletions] of READERS) {
    for (const deletion of deletions) {
      void test(`${reader}, ${deletion}: caught up, the gap counted once and said, rows over exactly what was readable`, async () => {
        const { env, topic, engines, unread, expected, views } = await scenario(deletion)
        try {
          for (const e of engines) assert.equal(e.failure, undefined, e.failure?.message)
          assert.ok(unread > 0, 'the case deletes records unread')
          assert.deepEqual(sum(engines.map((e) => e.stats.deletedBeforeRead)), { [topic]: unread }, 'the gap counted once')
          const said = env.warnings.filter(
            (w) => w.msg.startsWith('source records were deleted by retention') && w.fields.partition === K,
          )
          assert.equal(said.length, 1, 'the gap said once')
          assert.equal(said[0]!.fields.deleted, String(unread))
          for (const [view, rows] of expected) {
            assertSameRows(await offlineRowsByEntity(env.store, view), rows, `${view.name} offline`)
            const online = await onlineVersusLast(env.online, view, rows)
            assert.ok(valuesClose(online.actual, online.expected), `${view.name} online: ${JSON.stringify(online).slice(0, 400)}`)
          }
          // A restart finds the positions past the gap: nothing counted or read again.
          const restarted = env.engine(views)
          await runCaughtUp(restarted, 'the restarted engine caught up')
          await restarted.stop()
          assert.equal(restarted.failure, undefined)
          assert.deepEqual(restarted.stats.deletedBeforeRead, {})
          assert.equal(restarted.stats.consumed + restarted.stats.rekeyed, 0)
        } finally {
          await env.close()
        }
      })
    }
  }
})
