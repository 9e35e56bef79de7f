/**
 * One live group per topic per store, when groups start at the same moment (docs/semantics.md §14).
 * The check of another group's checkpoints passed both of two groups starting together (neither
 * had a checkpoint yet), and both then wrote the archive. Now each start claims its topics with a
 * create-only put (main/commands/topic-claims.ts): over every order in which the claim calls of
 * two or three starts can land — and with each of those calls failing before it reaches the store
 * or after it landed — no two groups hold a topic, a refused start names the group that has it and
 * leaves no claim behind, and members of one group (a restart, a rolling deploy) all start.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MemoryObjectStore } from '../../../adapters/object-store/memory/memory-object-store.ts'
import { ConfigError } from '../../../core/errors.ts'
import { requireSoleLiveGroup } from '../../../main/commands/live-groups.ts'
import { listClaims } from '../../../main/commands/topic-claims.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import {
  exploreSchedules,
  InjectedClaimFault,
  runSchedule,
  type ActorOutcome,
  type HeldCall,
  type Passage,
} from '../../support/claim-schedules.ts'

interface Start {
  readonly group: string
  readonly topics: readonly string[]
}

interface Scenario {
  readonly name: string
  readonly starts: readonly Start[]
  /** Checkpoints already in the store, by group (a store from before claims). */
  readonly checkpointed?: Readonly<Record<string, readonly string[]>>
  /** Groups that started (and claimed) before these starts. */
  readonly before?: readonly Start[]
  /** Whose starts win whatever the order: those groups, always. */
  readonly winners?: readonly string[]
}

const enc = new TextEncoder()

async function seed(store: ObjectStore, s: Scenario): Promise<void> {
  for (const [group, topics] of Object.entries(s.checkpointed ?? {}))
    for (const topic of topics) await store.put(`checkpoints/${group}/${topic}/0/ckpt-000000000001.json`, enc.encode('{}'))
  for (const b of s.before ?? []) await requireSoleLiveGroup(store, b.group, b.topics, 1)
}

const start =
  (starts: readonly Start[]) =>
  (store: ObjectStore, i: number): Promise<void> =>
    requireSoleLiveGroup(store, starts[i]!.group, starts[i]!.topics, 100 + i)

const refusedBy = (o: ActorOutcome<void>): boolean => o.error instanceof ConfigError

/**
 * What must hold after any schedule: the starts that returned hold every topic they asked for (by
 * the claims now stored) and no two groups among them share a topic; every claim stored is a
 * winner's, or one a start left when a store call failed under it; a refused start names another
 * start's group; without faults someone wins, and a start fails only by refusal.
 */
async function checkSchedule(
  store: ObjectStore,
  s: Scenario,
  outcomes: readonly ActorOutcome<void>[],
  faulted: boolean,
): Promise<void> {
  const where = JSON.stringify(
    outcomes.map((o) => (o.error === undefined ? 'won' : String((o.error as Error).message).slice(0, 120))),
  )
  const winners = s.starts.filter((_, i) => outcomes[i]!.error === undefined)
  const owner = new Map((await listClaims(store)).map((c) => [c.topic, c.group]))
  for (const w of winners) for (const t of w.topics) assert.equal(owner.get(t), w.group, `${w.group} won ${t}: ${where}`)
  for (const [topic, group] of owner) {
    const won = winners.some((w) => w.group === group && w.topics.includes(topic))
    const before = (s.before ?? []).some((b) => b.group === group && b.topics.includes(topic))
    const leftByFault = faulted && s.starts.some((st, i) => st.group === group && outcomes[i]!.error !== undefined)
    assert.ok(won || before || leftByFault, `claim of ${topic} by ${group} is no winner's: ${where}`)
  }
  for (const [i, o] of outcomes.entries()) {
    if (o.error === undefined) continue
    if (faulted && o.error instanceof InjectedClaimFault) continue
    assert.ok(refusedBy(o), `start ${i} failed otherwise than by refusal: ${String(o.error)}`)
    const message = (o.error as Error).message
    assert.match(message, new RegExp(`^cannot run as group ${s.starts[i]!.group}: `))
    const named = /is consumed by live group ([^\s;,]+)/.exec(message)?.[1]
    assert.ok(named !== undefined && named !== s.starts[i]!.group, `start ${i} names no other group: ${message}`)
    assert.ok(
      s.starts.some((st) => st.group === named) ||
        (s.before ?? []).some((b) => b.group === named) ||
        s.checkpointed?.[named] !== undefined,
      message,
    )
  }
  if (!faulted) assert.ok(winners.length > 0, `nobody won: ${where}`)
  if (s.winners !== undefined && !faulted)
    assert.deepEqual([...new Set(winners.map((w) => w.group))].sort(), [...s.winners].sort(), where)
  else if (!faulted && s.starts.every((st) => st.topics.join() === s.starts[0]!.topics.join()))
    assert.equal(new Set(winners.map((w) => w.group)).size, 1, `one group wins a topic set all share: ${where}`)
  // Of two groups, the refused one names the winner.
  const groups = new Set(s.starts.map((st) => st.group))
  if (groups.size === 2 && winners.length > 0) {
    for (const o of outcomes)
      if (refusedBy(o))
        assert.match((o.error as Error).message, new RegExp(`consumed by live group ${winners[0]!.group}\\b`), where)
  }
}

async function runOnce(
  s: Scenario,
  choose: (held: readonly HeldCall[], step: number) => number,
  passage?: (c: HeldCall) => Passage,
): Promise<{ store: ObjectStore; outcomes: readonly ActorOutcome<void>[]; trace: readonly HeldCall[] }> {
  const store = new MemoryObjectStore()
  await seed(store, s)
  const { outcomes, trace } = await runSchedule(store, s.starts.length, start(s.starts), choose, passage)
  return { store, outcomes, trace }
}

const exhaustive: Scenario[] = [
  {
    name: 'two groups, the same two topics',
    starts: [
      { group: 'a', topics: ['t1', 't2'] },
      { group: 'b', topics: ['t1', 't2'] },
    ],
  },
  {
    name: 'two groups sharing one of their topics',
    starts: [
      { group: 'a', topics: ['t1', 't2'] },
      { group: 'b', topics: ['t2', 't3'] },
    ],
  },
  {
    name: 'two groups, the same topic in another order',
    starts: [
      { group: 'a', topics: ['t2', 't1'] },
      { group: 'b', topics: ['t1', 't2'] },
    ],
  },
  { name: 'three groups, one topic', starts: ['a', 'b', 'c'].map((group) => ({ group, topics: ['t1'] })) },
  {
    name: 'two members of one group beside another group',
    starts: [
      { group: 'a', topics: ['t1'] },
      { group: 'a', topics: ['t1'] },
      { group: 'b', topics: ['t1'] },
    ],
  },
  {
    name: 'a group from before claims restarts beside a new group (it has checkpoints, no claim)',
    checkpointed: { a: ['t1'] },
    starts: [
      { group: 'a', topics: ['t1', 't2'] },
      { group: 'b', topics: ['t1', 't2'] },
    ],
    winners: ['a'],
  },
  {
    name: 'the owner restarts beside another member of it and a new group',
    before: [{ group: 'a', topics: ['t1'] }],
    starts: [
      { group: 'a', topics: ['t1'] },
      { group: 'a', topics: ['t1'] },
      { group: 'b', topics: ['t1'] },
    ],
    winners: ['a'],
  },
]

void describe('live-group claims: simultaneous starts, every order of their claim calls', () => {
  for (const s of exhaustive) {
    void test(s.name, async () => {
      const n = await exploreSchedules(async (choose) => {
        const { store, outcomes } = await runOnce(s, choose)
        await checkSchedule(store, s, outcomes, false)
      })
      assert.ok(n > 1, `${n} schedules`)
    })
  }

  // Three starts over two topics each have 23,000 to 104,000 orders (all checked once, minutes): a fixed sample of them.
  const sampled: Scenario[] = [
    {
      name: 'three groups, a cycle of shared topics',
      starts: [
        { group: 'a', topics: ['t1', 't2'] },
        { group: 'b', topics: ['t2', 't3'] },
        { group: 'c', topics: ['t1', 't3'] },
      ],
    },
    { name: 'three groups, the same two topics', starts: ['a', 'b', 'c'].map((group) => ({ group, topics: ['t1', 't2'] })) },
  ]
  for (const s of sampled) {
    void test(`${s.name} (2000 seeded orders)`, async () => {
      let seed = 0x5eed
      const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed / 2 ** 32)
      for (let run = 0; run < 2000; run++) {
        const { store, outcomes } = await runOnce(s, (held) => Math.floor(next() * held.length))
        await checkSchedule(store, s, outcomes, false)
      }
    })
  }
})

/** The operator starts again each start that failed under a fault: then the store settles on one owner per topic. */
async function restartFailed(store: ObjectStore, s: Scenario, outcomes: readonly ActorOutcome<void>[]): Promise<void> {
  for (const [i, o] of outcomes.entries()) {
    if (!(o.error instanceof InjectedClaimFault)) continue
    const again = await requireSoleLiveGroup(store, s.starts[i]!.group, s.starts[i]!.topics, 500).then(
      () => undefined,
      (err: unknown) => err,
    )
    assert.ok(again === undefined || again instanceof ConfigError, String(again))
  }
  const owner = new Map((await listClaims(store)).map((c) => [c.topic, c.group]))
  const holders = s.starts.filter((st) => st.topics.every((t) => owner.get(t) === st.group))
  assert.ok(holders.length >= 1, `after the restarts, a start holds all its topics: ${JSON.stringify([...owner])}`)
  for (const [topic, group] of owner)
    assert.ok(
      s.starts.some((st) => st.group === group && st.topics.includes(topic)),
      `${topic}: ${group}`,
    )
}

void describe('live-group claims: each claim call of two simultaneous starts failing, in every order', () => {
  const scenarios: Scenario[] = [
    {
      name: 'two groups, one topic',
      starts: [
        { group: 'a', topics: ['t1'] },
        { group: 'b', topics: ['t1'] },
      ],
    },
    {
      name: 'two groups sharing one of their topics',
      starts: [
        { group: 'a', topics: ['t1', 't2'] },
        { group: 'b', topics: ['t2', 't3'] },
      ],
    },
  ]
  for (const s of scenarios) {
    for (const how of ['fail-before', 'fail-after'] as const) {
      void test(`${s.name}: a call ${how === 'fail-before' ? 'failing before it reaches the store' : 'landing with its answer lost'}`, async () => {
        let fired = 0
        // Each start's k-th claim call faulted (a start makes at most 8), under every schedule.
        for (const actor of [0, 1]) {
          for (let index = 0; index < 8; index++) {
            await exploreSchedules(async (choose) => {
              let hit = false
              const { store, outcomes } = await runOnce(s, choose, (c) =>
                c.actor === actor && c.index === index ? ((hit = true), how) : 'ok',
              )
              if (hit) fired++
              await checkSchedule(store, s, outcomes, true)
              await restartFailed(store, s, outcomes)
            })
          }
        }
        assert.ok(fired > 0, 'faults fired')
      })
    }
  }
})

void describe('live-group claims: a damaged claim refuses the start, naming it, and is left as it is', () => {
  const damaged: [string, string, RegExp][] = [
    ['not JSON', '{"topic": "t1", "gro', /topic claim claims\/t1\.json is damaged \(not JSON\)/],
    ['another shape', '{"topic": "t1", "group": 7}', /topic claim claims\/t1\.json is damaged \(not a topic claim/],
    ['an array', '[]', /topic claim claims\/t1\.json is damaged \(not a topic claim/],
    [
      'the claim of another spelling of the topic (a store blind to case)',
      '{"topic": "T1", "group": "a", "claimedAtMs": 1, "token": "x"}',
      /topic claim claims\/t1\.json for topic 't1' is the claim of topic 'T1'/,
    ],
  ]
  for (const [name, body, message] of damaged) {
    void test(name, async () => {
      const store = new MemoryObjectStore()
      await store.put('claims/t1.json', enc.encode(body))
      for (const group of ['a', 'b']) {
        await assert.rejects(requireSoleLiveGroup(store, group, ['t0', 't1', 't2'], 1), (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err))
          assert.match(err.message, message)
          return true
        })
      }
      assert.deepEqual(await store.list(''), ['claims/t1.json'], 'no claim made of the other topics')
      assert.equal(new TextDecoder().decode(await store.get('claims/t1.json')), body)
    })
  }
})
