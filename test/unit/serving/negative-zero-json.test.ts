/**
 * Every place serving turns a feature value into JSON text writes a double's -0 as -0 (`-0.0`),
 * as the offline table and a training set hold it: the Redis/embedded stored-text path
 * (`storedValueJson`, `StoredTextRead.valueJson`), the decoded-value path (hot-key cache hits,
 * request-feature outputs: `valueJson`), the single-view endpoint, WebSocket snapshot and row
 * messages, and the served-feature log skew-report reads. Before, `JSON.stringify` wrote `0` on
 * every one of them. A long has no -0 (int64, as the offline table holds it, has none): 0 on every
 * path. NaN and ±Infinity stay `null`, as before (the engine never emits them).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { featureMessageJson, featureValueJson, negativeZeroByMarker } from '../../../core/feature-json.ts'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { StoredTextRead } from '../../../adapters/online-store/redis/stored-text-read.ts'
import { decodeValue, encodeCheckedValue, storedValueJson } from '../../../adapters/online-store/redis/value-codec.ts'
import type { FeatureValue, FeatureValueType } from '../../../features/types.ts'
import type { OnlineChange } from '../../../ports/online-semantics.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { getViewFeatures } from '../../../serving/handlers/get-features.ts'
import { rowMessage, snapshotMessage } from '../../../serving/handlers/subscribe.ts'
import { HotCache } from '../../../serving/hot-cache.ts'
import { valueJson } from '../../../serving/json-body.ts'
import { fromServedEvent, toServedEvent } from '../../../serving/served-log/served-record.ts'
import { row } from '../../contracts/online-store.ts'
import { allViews, userStats } from './fixtures.ts'

const NOW = 1_700_000_000_000

/** A double, and what a client must read for it (null: JSON has no NaN or infinities). */
const DOUBLES: readonly (readonly [string, number, number | null])[] = [
  ['negative zero', -0, -0],
  ['zero', 0, 0],
  ['the smallest subnormal', 5e-324, 5e-324],
  ['the smallest negative subnormal', -5e-324, -5e-324],
  ['the smallest normal, negative', -2.2250738585072014e-308, -2.2250738585072014e-308],
  ['a tiny exponent form', -1e-7, -1e-7],
  ['a large exponent form', 1e21, 1e21],
  ['a plain decimal', -0.5, -0.5],
  ['NaN', NaN, null],
  ['Infinity', Infinity, null],
  ['-Infinity', -Infinity, null],
]
const LONGS: readonly (readonly [string, number, number])[] = [
  ['negative zero (no int64 holds it)', -0, 0],
  ['zero', 0, 0],
  ['a negative', -7, -7],
  ['the most negative safe integer', Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
]

function assertSame(json: string, want: unknown, where: string): void {
  const got: unknown = JSON.parse(json)
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${where}: ${json}`)
    assert.equal(got.length, want.length, where)
    want.forEach((w, i) => assert.ok(Object.is(got[i], w), `${where}[${i}]: ${json}, want ${String(w)}`))
    return
  }
  assert.ok(Object.is(got, want), `${where}: ${json}, want ${String(want)}`)
}

/** Every serving encoder of one value of `type`, as (path, JSON text of the value). */
function encodings(value: FeatureValue, type: FeatureValueType): readonly (readonly [string, string])[] {
  const text = encodeCheckedValue(value, type)
  const decoded = decodeValue(text, type)
  const read = new StoredTextRead(NOW, [text], 0, [type])
  const served = fromServedEvent(
    toServedEvent({
      requestId: 'r',
      servedAtMs: NOW,
      viewName: 'v',
      viewVersion: 1,
      entityKey: 'e',
      status: 'PRESENT',
      asOfMs: NOW,
      features: ['f'],
      values: [decoded],
    }) as unknown as Record<string, unknown>,
  )
  const change: OnlineChange = { view: 'v', version: 1, entityKey: 'e', asOfMs: NOW, values: { f: decoded } }
  return [
    ['stored text (Redis, embedded store)', storedValueJson(text, type)],
    ['StoredTextRead.valueJson', read.valueJson(0)],
    ['decoded value (hot-key cache, request features)', valueJson(decoded)],
    ['WebSocket row message', rowFeatureText(rowMessage(change))],
    ['served-feature log', featureValueJson(served!.values[0])],
  ]
}

/** The text of feature `f` inside a row message, as sent (re-serialising would lose -0 again). */
function rowFeatureText(message: string): string {
  const m = /"features":\{"f":(.*)\}\}$/.exec(message)
  assert.ok(m, message)
  return m[1]!
}

void describe('serving > a feature value as JSON (-0 keeps its sign on every path)', () => {
  for (const [what, value, want] of DOUBLES) {
    void test(`double ${what}`, () => {
      for (const [path, json] of encodings(value, 'double')) assertSame(json, want, path)
    })
  }
  for (const [what, value, want] of LONGS) {
    void test(`long ${what}`, () => {
      for (const [path, json] of encodings(value, 'long')) assertSame(json, want, path)
    })
  }
  void test('double[] and long[] elements: -0 is -0 in a double list, 0 in a long list', () => {
    for (const [path, json] of encodings([-0, 0, 5e-324, -1e-7], 'double[]')) assertSame(json, [-0, 0, 5e-324, -1e-7], path)
    for (const [path, json] of encodings([-0, 0, -3], 'long[]')) assertSame(json, [0, 0, -3], path)
  })

  void test('the single-view endpoint and a WebSocket snapshot, from the embedded store, with and without the hot-key cache', async () => {
    for (const cache of [undefined, new HotCache({ ttlMs: 1000, maxEntries: 10, views: ['user_stats'] })]) {
      const clock = { nowMs: () => NOW, sleep: async () => {} }
      const store = new EmbeddedOnlineStore({ clock })
      const catalog = createFeatureCatalog({ views: allViews, requestFeatures: [] })
      const types = userStats.features.map((f) => f.type)
      const values = types.map((t) => (t === 'double' ? -0 : t === 'long' ? -0 : 's'))
      await store.writeRows(userStats, [row('u1', NOW - 5, values)])
      const deps = { catalog, store, clock, maxLookups: 100, cache }
      // Twice: the second answer comes from the cache when there is one.
      for (let i = 0; i < 2; i++) {
        const body = (await getViewFeatures({ view: 'user_stats', entityKey: 'u1' }, deps)).text
        const [read] = await store.readRows(
          [{ view: userStats, entityKey: 'u1', features: userStats.features.map((f) => f.name) }],
          NOW,
        )
        const snapshot = snapshotMessage(userStats, 'u1', read!)
        for (const [where, text] of [
          ['GET /v1/features/:view', body],
          ['WebSocket snapshot', snapshot],
        ] as const) {
          const features = JSON.parse(text) as { features: Record<string, unknown> }
          userStats.features.forEach((f) => {
            const want = f.type === 'double' ? -0 : f.type === 'long' ? 0 : 's'
            assert.ok(
              Object.is(features.features[f.name], want),
              `${where} ${f.name} (${f.type}, cache ${cache !== undefined}): ${text}`,
            )
          })
        }
      }
    }
  })

  void test('the embedded store pushes a landed row as its stored text decodes (a long -0 is 0)', async () => {
    const store = new EmbeddedOnlineStore({ clock: { nowMs: () => NOW, sleep: async () => {} } })
    const changes: OnlineChange[] = []
    await store.subscribeChanges([userStats], (c) => changes.push(c))
    await store.writeRows(userStats, [
      row(
        'u1',
        NOW,
        userStats.features.map((f) => (f.type === 'string' ? 's' : -0)),
      ),
    ])
    assert.equal(changes.length, 1)
    const sent = JSON.parse(rowMessage(changes[0]!)) as { features: Record<string, unknown> }
    for (const f of userStats.features) {
      const want = f.type === 'double' ? -0 : f.type === 'long' ? 0 : 's'
      assert.ok(Object.is(sent.features[f.name], want), `${f.name} (${f.type}): ${JSON.stringify(sent)}`)
    }
  })
})

void describe('negative zero without JSON.rawJSON (Node 20, where serving also runs on uWS)', () => {
  /** Values holding -0 beside strings that look like the marker, in it, quoted or not, and plain zeros. */
  const CASES: readonly (readonly [string, unknown, string])[] = [
    ['a lone -0', -0, '-0.0'],
    ['no -0: as JSON.stringify writes it', { a: [0, 1.5, 'x'] }, '{"a":[0,1.5,"x"]}'],
    ['a double list', [-0, 0, -1], '[-0.0,0,-1]'],
    [
      'a message',
      { view: 'v', values: { f: -0, g: [0, -0] }, asOfMs: 0 },
      '{"view":"v","values":{"f":-0.0,"g":[0,-0.0]},"asOfMs":0}',
    ],
    ['the marker as a value', { s: 'kfs-negative-zero', z: -0 }, '{"s":"kfs-negative-zero","z":-0.0}'],
    [
      'the marker and its extensions as keys and values',
      { 'kfs-negative-zero': 'kfs-negative-zero~', z: [-0, 'kfs-negative-zero~~'] },
      '{"kfs-negative-zero":"kfs-negative-zero~","z":[-0.0,"kfs-negative-zero~~"]}',
    ],
    ['the quoted marker inside a string', { s: '"kfs-negative-zero"', z: -0 }, '{"s":"\\"kfs-negative-zero\\"","z":-0.0}'],
    ['NaN and undefined members', { n: NaN, u: undefined, z: -0 }, '{"n":null,"z":-0.0}'],
    ['undefined', undefined, 'null'],
  ]
  for (const [what, value, expected] of CASES) {
    void test(what, () => {
      const text = negativeZeroByMarker(value)
      assert.equal(text, expected)
      // Whatever the runtime, the exported writers agree with it.
      if (value !== undefined) assert.equal(featureMessageJson(value), expected)
      const back: unknown = JSON.parse(text)
      const unsigned: unknown = JSON.parse(text, (_key: string, v: unknown) => (Object.is(v, -0) ? 0 : v))
      assert.deepEqual(unsigned, JSON.parse(JSON.stringify(value) ?? 'null'), 'the same value, but for the signs of its zeros')
      if (Object.is(value, -0)) assert.ok(Object.is(back, -0))
    })
  }
})
