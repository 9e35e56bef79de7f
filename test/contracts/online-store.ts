/**
 * The contract every OnlineStore adapter passes (docs/design.md §5): statuses, conditional writes (zombie
 * rows never win), idempotent rewrites, coalescing, TTL, nulls, arrays, exact floats, composite
 * keys, many views, change notifications. Each adapter's test file calls `runOnlineStoreContract`.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { encodeEntityKey } from '../../core/entity-key.ts'
import { featureValueJson } from '../../core/feature-json.ts'
import type { EntityDef, FeatureDef, FeatureValueType, FeatureViewDef, SourceDef, StampedRow } from '../../features/types.ts'
import type { OnlineRead, OnlineStore } from '../../ports/online-store.ts'

export interface ChangeLike {
  readonly view: string
  readonly version: number
  readonly entityKey: string
  readonly asOfMs: number
  readonly values: Readonly<Record<string, unknown>>
}

export interface ContractStore extends OnlineStore {
  subscribeChanges(views: readonly FeatureViewDef[], listener: (c: ChangeLike) => void): Promise<() => Promise<void>>
}

export interface ContractHarness {
  readonly store: ContractStore
  /** Lets the store's own clock move forward by at least `ms` (manual clock, or real waiting). */
  advance(ms: number): Promise<void>
  /** Epoch ms "now" as the store's clock sees it. */
  nowMs(): number
}

export function entity(name: string, joinKeys: readonly string[] = [name]): EntityDef {
  return { kind: 'entity', name, joinKeys, keyType: 'string', description: `${name} entity` }
}

export function source(name = 'clicks'): SourceDef {
  return {
    kind: 'source',
    name,
    topic: name,
    schema: { type: 'record', name: 'Click', fields: [] },
    eventTimeField: 'ts',
    keyedBy: 'user',
    partitions: 1,
    outOfOrdernessMs: 0,
    allowedLatenessMs: 0,
    idleTimeoutMs: 60_000,
    maxFutureSkewMs: 3_600_000,
    description: 'test source',
  }
}

export function feature(name: string, type: FeatureValueType = 'double'): FeatureDef {
  return { name, type, aggregation: { name, op: 'sum', field: 'x', windowMs: 3_600_000, hopMs: 60_000, n: undefined, quantile: undefined } }
}

export function view(
  name: string,
  features: readonly FeatureDef[],
  options: { ttlMs?: number; version?: number; entity?: EntityDef; owner?: string } = {},
): FeatureViewDef {
  return {
    kind: 'featureView',
    name,
    version: options.version ?? 1,
    entity: options.entity ?? entity('user'),
    source: source(),
    filter: undefined,
    map: undefined,
    features,
    ttlMs: options.ttlMs ?? 3_600_000,
    owner: options.owner ?? 'team-test',
    description: `${name} view`,
    tags: {},
    freshnessSlaMs: 60_000,
    online: true,
    offline: true,
  }
}

/** What the port promises of a read (a store may answer with a class that also carries `valueJson`). */
export function plainRead(read: OnlineRead | undefined): { status: string; asOfMs: number | null; values: unknown[] } | undefined {
  return read === undefined ? undefined : { status: read.status, asOfMs: read.asOfMs, values: [...read.values] }
}

export function row(entityKey: string, asOfMs: number, values: StampedRow['values']): StampedRow {
  return { entityKey, asOfMs, createdAtMs: asOfMs, values }
}

/** Polls `done` (Redis delivers change notifications asynchronously); fails after 5 s. */
async function waitUntil(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!done()) {
    if (Date.now() > deadline) assert.fail('timed out waiting for change notifications')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export function runOnlineStoreContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  const stats = view('stats', [feature('count', 'long'), feature('sum', 'double'), feature('last_city', 'string')])
  const names = stats.features.map((f) => f.name)

  async function withHarness(fn: (h: ContractHarness) => Promise<void>): Promise<void> {
    const h = await makeHarness()
    try {
      await fn(h)
    } finally {
      await h.store.close()
    }
  }

  void describe(`online store contract > ${name}`, () => {
    void test('statuses: PRESENT, MISSING, OUTSIDE_TTL (as_of at the TTL boundary is outside)', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        await store.writeRows(stats, [row('u1', t - 1000, [3, 1.5, 'Oslo'])])
        const lookup = (entityKey: string) => ({ view: stats, entityKey, features: names })
        const [present, missing] = await store.readRows([lookup('u1'), lookup('u2')], t)
        assert.deepEqual(plainRead(present), { status: 'PRESENT', asOfMs: t - 1000, values: [3, 1.5, 'Oslo'] })
        assert.deepEqual(plainRead(missing), { status: 'MISSING', asOfMs: null, values: [null, null, null] })
        const [inside] = await store.readRows([lookup('u1')], t - 1000 + stats.ttlMs - 1)
        assert.equal(inside?.status, 'PRESENT')
        const [outside] = await store.readRows([lookup('u1')], t - 1000 + stats.ttlMs)
        assert.deepEqual(plainRead(outside), { status: 'OUTSIDE_TTL', asOfMs: t - 1000, values: [null, null, null] })
      }))

    void test('a zombie (older) row written after a newer one never changes the store', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const first = await store.writeRows(stats, [row('u1', t, [5, 2.5, 'Rome'])])
        assert.deepEqual(first, { written: 1, stale: 0 })
        const zombie = await store.writeRows(stats, [row('u1', t - 1, [9, 9.9, 'Nowhere'])])
        assert.deepEqual(zombie, { written: 0, stale: 1 })
        const [read] = await store.readRows([{ view: stats, entityKey: 'u1', features: names }], t)
        assert.deepEqual(read?.values, [5, 2.5, 'Rome'])
        assert.equal(read?.asOfMs, t)
      }))

    void test('tombstones (docs/design.md §11): a deleted key answers MISSING, older rows stay out, a newer row revives it', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const profile: FeatureViewDef = { ...view('profile', [feature('status', 'string'), feature('limit', 'double')]), changeMode: 'attributes' }
        const lookup = [{ view: profile, entityKey: 'u1', features: ['limit', 'status'] }]
        const seen: ChangeLike[] = []
        const stop = await store.subscribeChanges([profile], (c) => seen.push(c))
        await store.writeRows(profile, [row('u1', t - 10, ['gold', 500])])
        assert.deepEqual(await store.writeRows(profile, [{ ...row('u1', t - 5, [null, null]), deleted: true }]), { written: 1, stale: 0 })
        assert.deepEqual(plainRead((await store.readRows(lookup, t))[0]), { status: 'MISSING', asOfMs: null, values: [null, null] })
        // A stale change (older than the delete) must not resurrect the key.
        assert.deepEqual(await store.writeRows(profile, [row('u1', t - 8, ['silver', 100])]), { written: 0, stale: 1 })
        assert.equal((await store.readRows(lookup, t))[0]?.status, 'MISSING')
        // Re-deleting at the same as_of is an idempotent no-op.
        assert.deepEqual(await store.writeRows(profile, [{ ...row('u1', t - 5, [null, null]), deleted: true }]), { written: 0, stale: 1 })
        await store.writeRows(profile, [row('u1', t - 1, ['new', 1])])
        assert.deepEqual(plainRead((await store.readRows(lookup, t))[0]), { status: 'PRESENT', asOfMs: t - 1, values: [1, 'new'] })
        await waitUntil(() => seen.length >= 3)
        await stop()
        assert.deepEqual(
          seen.map((c) => [c.asOfMs, (c as { deleted?: true }).deleted === true]),
          [[t - 10, false], [t - 5, true], [t - 1, false]],
        )
        // A tombstone must be all nulls, and only attribute views have them.
        await assert.rejects(store.writeRows(profile, [{ ...row('u2', t, ['x', null]), deleted: true }]), /tombstone of profile holds values/)
        await assert.rejects(store.writeRows(stats, [{ ...row('u2', t, [null, null, null]), deleted: true }]), /tombstone of stats in a view that has no deletes/)
      }))

    void test('rewriting the same row is a no-op; equal as_of with new values lands', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        await store.writeRows(stats, [row('u1', t, [1, 1, 'A'])])
        assert.deepEqual(await store.writeRows(stats, [row('u1', t, [1, 1, 'A'])]), { written: 0, stale: 1 })
        assert.deepEqual(await store.writeRows(stats, [row('u1', t, [2, 1, 'A'])]), { written: 1, stale: 0 })
        const [read] = await store.readRows([{ view: stats, entityKey: 'u1', features: ['count'] }], t)
        assert.deepEqual(read?.values, [2])
      }))

    void test('rows of one key in one call coalesce to max as_of, ties to the last', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const res = await store.writeRows(stats, [
          row('u1', t - 5, [1, 0, 'a']),
          row('u1', t, [2, 0, 'b']),
          row('u1', t - 1, [3, 0, 'c']),
          row('u1', t, [4, 0, 'd']),
          row('u2', t - 7, [7, 0, 'e']),
        ])
        assert.deepEqual(res, { written: 2, stale: 3 })
        const reads = await store.readRows(
          [
            { view: stats, entityKey: 'u1', features: ['count', 'last_city'] },
            { view: stats, entityKey: 'u2', features: ['count'] },
          ],
          t,
        )
        assert.deepEqual(reads.map((r) => r.values), [[4, 'd'], [7]])
        assert.deepEqual(reads.map((r) => r.asOfMs), [t, t - 7])
      }))

    void test('nulls stay null, a newer row with nulls clears old values, and reads follow the requested order', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        await store.writeRows(stats, [row('u1', t - 10, [1, 2, 'x'])])
        await store.writeRows(stats, [row('u1', t, [0, null, null])])
        const [read] = await store.readRows([{ view: stats, entityKey: 'u1', features: ['last_city', 'sum', 'count'] }], t)
        assert.deepEqual(plainRead(read), { status: 'PRESENT', asOfMs: t, values: [null, null, 0] })
      }))

    void test('floats round-trip exactly; arrays and odd strings survive', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const v = view('arrays', [
          feature('d', 'double'),
          feature('l', 'long'),
          feature('dn', 'double[]'),
          feature('ln', 'long[]'),
          feature('sn', 'string[]'),
          feature('s', 'string'),
        ])
        const doubles = [0.1 + 0.2, -0, Number.MIN_VALUE, 1e308, Number.NaN, Number.POSITIVE_INFINITY, -1.5e-300]
        for (const [i, d] of doubles.entries()) {
          const values = [d, Number.MAX_SAFE_INTEGER, doubles, [3, -2, 0], ['a', '', 'é"\\', '["x"]'], `${i} {}:"\n`] as const
          await store.writeRows(v, [row(`k${i}`, t, values)])
          const [read] = await store.readRows([{ view: v, entityKey: `k${i}`, features: v.features.map((f) => f.name) }], t)
          assert.equal(read?.status, 'PRESENT')
          assert.ok(Object.is(read?.values[0], d), `double ${d} came back as ${String(read?.values[0])}`)
          assert.deepEqual(read?.values.slice(1), values.slice(1))
          assert.ok(Object.is((read?.values[2] as number[])[1], -0))
        }
        await store.writeRows(v, [row('empty', t, [1, 1, [], [], [], ''])])
        const [empty] = await store.readRows([{ view: v, entityKey: 'empty', features: ['dn', 'sn', 's'] }], t)
        assert.deepEqual(empty?.values, [[], [], ''])
      }))

    void test('valueJson, where a store gives it, is JSON.stringify of the value for every type and edge number', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const v = view('json', [feature('d', 'double'), feature('l', 'long'), feature('s', 'string'), feature('dn', 'double[]'), feature('sn', 'string[]')])
        // Seeded, so a failure names the same values on every run: magnitudes across the whole
        // double range (both sides of String's switch to exponents at 1e-6 and 1e21), and the edges.
        let seed = 7
        const next = (): number => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32)
        const doubles = [0, -0, 1e-6, 9.99e-7, 1e21, 9.99e20, -1e21, 0.1 + 0.2, Number.MIN_VALUE, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]
        for (let i = 0; i < 200; i++) doubles.push((next() - 0.5) * 10 ** Math.floor(next() * 640 - 320))
        const longs = [0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 60, 1e21, -(2 ** 70)]
        const rows = doubles.map((d, i) => row(`k${i}`, t, [d, longs[i % longs.length]!, `s${i} "é\\\n`, [d, -0, Number.NaN], [`${i}`, '"']]))
        await store.writeRows(v, rows)
        const names = v.features.map((f) => f.name)
        const reads = await store.readRows(rows.map((r) => ({ view: v, entityKey: r.entityKey, features: names })), t)
        let checked = 0
        for (const read of reads) {
          assert.equal(read.status, 'PRESENT')
          if (read.valueJson === undefined) continue
          // Before the values are read: a lazy store must not need them decoded.
          const texts = names.map((_, i) => read.valueJson!(i))
          // JSON.stringify's text, but a double's -0 keeps its sign (core/feature-json.ts).
          assert.deepEqual(texts, read.values.map((x) => featureValueJson(x ?? null)))
          checked++
        }
        if (checked > 0) assert.equal(checked, reads.length)
      }))

    void test('composite entity keys and keys with separators are distinct entities', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const pair = view('user_item', [feature('n', 'long')], { entity: entity('user_item', ['user_id', 'item_id']) })
        const keys = [encodeEntityKey(['u1', 'i1']), encodeEntityKey(['u1', 'i2']), encodeEntityKey(['u1:i1', 'x']), 'u1}{x', '{u1}']
        await store.writeRows(pair, keys.map((k, i) => row(k, t, [i])))
        const reads = await store.readRows(keys.map((entityKey) => ({ view: pair, entityKey, features: ['n'] })), t)
        assert.deepEqual(reads.map((r) => r.values[0]), [0, 1, 2, 3, 4])
      }))

    void test('views and versions are separate namespaces; one read spans many views', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const views = Array.from({ length: 5 }, (_, i) => view(`v${i}`, [feature('x', 'long')], { entity: entity(i % 2 ? 'item' : 'user') }))
        const v0next = view('v0', [feature('x', 'long')], { version: 2 })
        for (const [i, v] of views.entries()) await store.writeRows(v, [row('same', t - i, [i])])
        await store.writeRows(v0next, [row('same', t, [100])])
        const reads = await store.readRows([...views, v0next].map((v) => ({ view: v, entityKey: 'same', features: ['x'] })), t)
        assert.deepEqual(reads.map((r) => r.values[0]), [0, 1, 2, 3, 4, 100])
        assert.deepEqual(reads.map((r) => r.asOfMs), [t, t - 1, t - 2, t - 3, t - 4, t])
      }))

    void test('one read mixes views, entities and feature lists, in request order', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const other = view('other', [feature('a', 'string'), feature('b', 'long')])
        await store.writeRows(stats, [row('u1', t, [1, 0.5, 'x']), row('u2', t, [2, null, 'y'])])
        await store.writeRows(other, [row('u1', t - 3, ['s', 9])])
        const reads = await store.readRows(
          [
            { view: stats, entityKey: 'u2', features: ['last_city'] },
            { view: other, entityKey: 'u1', features: ['b', 'a'] },
            { view: stats, entityKey: 'u1', features: ['sum', 'count', 'last_city'] },
            { view: other, entityKey: 'none', features: ['a'] },
            { view: stats, entityKey: 'u2', features: [] },
          ],
          t,
        )
        assert.deepEqual(reads.map(plainRead), [
          { status: 'PRESENT', asOfMs: t, values: ['y'] },
          { status: 'PRESENT', asOfMs: t - 3, values: [9, 's'] },
          { status: 'PRESENT', asOfMs: t, values: [0.5, 1, 'x'] },
          { status: 'MISSING', asOfMs: null, values: [null] },
          { status: 'PRESENT', asOfMs: t, values: [] },
        ])
      }))

    void test('keys expire ttlMs after the last landing write', () =>
      withHarness(async ({ store, advance, nowMs }) => {
        const short = view('short', [feature('x', 'long')], { ttlMs: 300 })
        const t = nowMs()
        await store.writeRows(short, [row('u1', t, [1]), row('u2', t, [2])])
        await advance(150)
        // A landing write on u2 restarts its TTL; u1 gets nothing.
        await store.writeRows(short, [row('u2', t + 1, [3])])
        await advance(200)
        const reads = await store.readRows(
          ['u1', 'u2'].map((entityKey) => ({ view: short, entityKey, features: ['x'] })),
          t + 1,
        )
        assert.deepEqual(reads.map((r) => r.status), ['MISSING', 'PRESENT'])
        await advance(350)
        const [gone] = await store.readRows([{ view: short, entityKey: 'u2', features: ['x'] }], t + 1)
        assert.equal(gone?.status, 'MISSING')
      }))

    void test('a key outlives its row turning OUTSIDE_TTL, so an older row landing later is never served in its place', () =>
      withHarness(async ({ store, advance, nowMs }) => {
        // Event times may lie ahead of the clock (docs/semantics.md §1); rows from the past, now and
        // the future, each followed after the landing write's TTL by an older row of the same key.
        const ttlMs = 300
        const short = view('short', [feature('x', 'long')], { ttlMs })
        const t = nowMs()
        const offsets = [-ttlMs / 2, 0, 2 * ttlMs, 10 * ttlMs, 20 * ttlMs]
        const keys = offsets.map((_, i) => `k${i}`)
        await store.writeRows(short, offsets.map((d, i) => row(keys[i]!, t + d, [1])))
        await advance(ttlMs + 100)
        await store.writeRows(short, offsets.map((d, i) => row(keys[i]!, t + d - 50, [2])))
        const at = nowMs()
        const reads = await store.readRows(keys.map((entityKey) => ({ view: short, entityKey, features: ['x'] })), at)
        for (const [i, read] of reads.entries()) {
          const newest = t + offsets[i]!
          // The newest row is served while it is fresh; an older one never reads PRESENT after it.
          if (newest > at - ttlMs) assert.deepEqual(plainRead(read), { status: 'PRESENT', asOfMs: newest, values: [1] }, `key ${i} (as_of now${offsets[i]! >= 0 ? '+' : ''}${offsets[i]})`)
          else assert.notEqual(read.status, 'PRESENT', `key ${i} served an older row after the newest turned OUTSIDE_TTL`)
        }
      }))

    void test('bad rows are refused with a clear error and write nothing', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        await assert.rejects(store.writeRows(stats, [row('u1', t, [1, 2])]), { code: 'SINK_REJECTED' })
        await assert.rejects(store.writeRows(stats, [row('u1', t, ['one', 2, 'x'])]), { code: 'SINK_REJECTED' })
        await assert.rejects(store.writeRows(stats, [row('u1', t, [1.5, 2, 'x'])]), { code: 'SINK_REJECTED' })
        // A bad row is refused even when a newer row of the same key would supersede it.
        await assert.rejects(store.writeRows(stats, [row('u1', t - 1, ['bad', 2, 'x']), row('u1', t, [1, 2, 'x'])]), { code: 'SINK_REJECTED' })
        await assert.rejects(store.readRows([{ view: stats, entityKey: 'u1', features: ['nope'] }], t), { code: 'NOT_FOUND' })
        const [read] = await store.readRows([{ view: stats, entityKey: 'u1', features: names }], t)
        assert.equal(read?.status, 'MISSING')
      }))

    void test('landed rows are announced to subscribers; stale and no-op rows are not', () =>
      withHarness(async ({ store, nowMs }) => {
        const t = nowMs()
        const other = view('other', [feature('x', 'long')])
        const changes: ChangeLike[] = []
        let wake: (() => void) | undefined
        const unsubscribe = await store.subscribeChanges([stats], (c) => {
          changes.push(c)
          wake?.()
        })
        const waitFor = async (n: number): Promise<void> => {
          const deadline = Date.now() + 5000
          while (changes.length < n) {
            if (Date.now() > deadline) assert.fail(`expected ${n} change(s), got ${changes.length}`)
            await new Promise<void>((resolve) => {
              wake = resolve
              setTimeout(resolve, 50)
            })
          }
        }
        await store.writeRows(stats, [row('u1', t, [1, null, 'Oslo'])])
        await store.writeRows(stats, [row('u1', t - 1, [2, 0, 'Old'])])
        await store.writeRows(stats, [row('u1', t, [1, null, 'Oslo'])])
        await store.writeRows(other, [row('u1', t, [7])])
        await store.writeRows(stats, [row('u1', t + 1, [3, 0.25, 'Bergen'])])
        await waitFor(2)
        await unsubscribe()
        assert.deepEqual(changes, [
          { view: 'stats', version: 1, entityKey: 'u1', asOfMs: t, values: { count: 1, sum: null, last_city: 'Oslo' } },
          { view: 'stats', version: 1, entityKey: 'u1', asOfMs: t + 1, values: { count: 3, sum: 0.25, last_city: 'Bergen' } },
        ])
      }))
  })
}
