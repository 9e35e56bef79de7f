/**
 * Two `kfs apply`s at once: each checks its definitions against what is published (a new view
 * version must keep the features an unpinned service reads; one topic, one source) and then
 * writes. Without a lock both could pass their checks against the same registry and both write,
 * leaving a service that reads a feature the latest version dropped, or two sources on one topic.
 * With the registry's apply lock the second apply waits for the first and is then checked against
 * what the first published — exactly one of two conflicting applies wins, whichever starts first.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { DefinitionError } from '../../../core/errors.ts'
import { featureService, featureView, source, type FeatureViewOptions } from '../../../features/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import type { ObjectStore } from '../../../ports/object-store.ts'
import { collectDefinitions, createRegistry, type DefinitionSet } from '../../../registry/index.ts'
import { clicks, user } from '../define/fixtures.ts'

const v1Options: FeatureViewOptions = {
  name: 'user_stats',
  version: 1,
  entity: user,
  source: clicks,
  aggregations: [
    { op: 'sum', field: 'price', windows: ['1h'] },
    { op: 'count', windows: ['1h'] },
  ],
  ttl: '1d',
  freshnessSla: '1m',
  owner: 'a@example.com',
  description: 'spend per user',
}
const v1 = featureView(v1Options)

/** Signals once something happens, and lets a test wait for it. */
function signal(): { fire(): void; fired: Promise<void> } {
  let fire!: () => void
  const fired = new Promise<void>((resolve) => (fire = resolve))
  return { fire, fired }
}

/** A store whose first write under `gatedPrefix` (once armed) waits for `open`, firing `writing` as it starts. */
function gatedStore(inner: ObjectStore, gatedPrefix: string) {
  const writing = signal()
  const gate = signal()
  let armed = false
  let gated = false
  const hold = async (key: string) => {
    if (!armed || gated || !key.startsWith(gatedPrefix)) return
    gated = true
    writing.fire()
    await gate.fired
  }
  const store: ObjectStore = {
    rootUri: inner.rootUri,
    get: (key) => inner.get(key),
    put: async (key, body) => (await hold(key), inner.put(key, body)),
    putIfAbsent: async (key, body) => (await hold(key), inner.putIfAbsent(key, body)),
    delete: (key) => inner.delete(key),
    list: (prefix) => inner.list(prefix),
    listWithTimes: (prefix) => inner.listWithTimes(prefix),
    uriOf: (key) => inner.uriOf(key),
  }
  return { store, arm: () => (armed = true), writing: writing.fired, open: gate.fire }
}

/** A clock whose sleep (an apply waiting for the lock) fires `waiting`. */
function waitingClock(): Clock & { waiting: Promise<void> } {
  const waiting = signal()
  return {
    nowMs: () => 1_700_000_000_000,
    sleep: async () => (waiting.fire(), await new Promise<void>((resolve) => setImmediate(resolve))),
    waiting: waiting.fired,
  }
}

interface Race {
  readonly first: DefinitionSet
  readonly second: DefinitionSet
  /** Where the first apply's writes start (it is held there while the second runs). */
  readonly gatedPrefix: string
  readonly refused: RegExp
}

const RACES: Record<string, Race> = {
  'a service reading a feature unpinned, and a new version dropping it': {
    first: collectDefinitions({
      v1,
      service: featureService({ name: 'model', features: ['user_stats:count_1h'], owner: 'o', description: 'd' }),
    }),
    second: collectDefinitions({
      v2: featureView({ ...v1Options, version: 2, aggregations: [{ op: 'sum', field: 'price', windows: ['1h'] }] }),
    }),
    gatedPrefix: 'registry/services/',
    refused: /published feature service model: 'user_stats:count_1h' — view user_stats v2 has no feature count_1h/,
  },
  'a new version dropping a feature, and a service reading it unpinned': {
    first: collectDefinitions({
      v2: featureView({ ...v1Options, version: 2, aggregations: [{ op: 'sum', field: 'price', windows: ['1h'] }] }),
    }),
    second: collectDefinitions({
      v1,
      service: featureService({ name: 'model', features: ['user_stats:count_1h'], owner: 'o', description: 'd' }),
    }),
    gatedPrefix: 'registry/views/user_stats/v2',
    refused: /feature service model: 'user_stats:count_1h' — view user_stats v2 has no feature count_1h/,
  },
  'two sources on one topic': {
    first: collectDefinitions({ v1 }),
    second: collectDefinitions({
      other: source({ name: 'clicks_again', topic: 'clicks', schema: clicks.schema, eventTimeField: 'ts' }),
      user,
    }),
    gatedPrefix: 'registry/sources/',
    refused: /source clicks_again reads topic clicks, which published source clicks reads/,
  },
}

void describe('registry > concurrent applies', () => {
  for (const [name, race] of Object.entries(RACES)) {
    void test(`${name}: the second apply waits for the first and is refused`, async () => {
      const memory = new MemoryObjectStore()
      // What both start from: the entity, and v1 for the races that need it published.
      await createRegistry({ store: memory, clock: waitingClock() }).apply(
        collectDefinitions({ user, ...(race.gatedPrefix === 'registry/sources/' ? {} : { v1 }) }),
      )
      const gated = gatedStore(memory, race.gatedPrefix)
      gated.arm()
      const clock = waitingClock()
      const a = createRegistry({ store: gated.store, clock })
      const b = createRegistry({ store: gated.store, clock })
      const first = a.apply(race.first)
      await gated.writing // the first passed its checks and is writing
      const second = b.apply(race.second)
      // The second either runs to its end now (no lock: it sees nothing of the first's writes) or waits for the lock.
      await Promise.race([
        second.then(
          () => {},
          () => {},
        ),
        clock.waiting,
      ])
      gated.open()
      const [one, two] = await Promise.allSettled([first, second])
      assert.equal(one.status, 'fulfilled', 'the first apply wins')
      assert.equal(two.status, 'rejected', 'the second is checked against what the first published, and refused')
      assert.ok(two.reason instanceof DefinitionError, String(two.reason))
      assert.match((two.reason as Error).message, race.refused)
      // And the registry is left as the first apply made it: an apply after both changes nothing.
      const again = await createRegistry({ store: memory, clock: waitingClock() }).diff(race.first)
      assert.ok(
        [...again.views, ...again.services, ...again.sources].every((i) => i.change === 'unchanged'),
        JSON.stringify(again),
      )
    })
  }
})
