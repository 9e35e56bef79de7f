/**
 * A registry object that is valid JSON but not what kfs stores there — emptied to `{}`, `null`,
 * an array, a record with a member of the wrong type, one whose name disagrees with its key, or
 * one written by a newer kfs with its members renamed — stops every reader with
 * INVARIANT_VIOLATED naming the object's key and what is wrong. Before, list/apply/lineage
 * crashed with a TypeError (a stack trace from the CLI), or apply silently overwrote the damaged
 * object as if it were absent.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { Clock } from '../../../core/clock.ts'
import { FeatureStoreError } from '../../../core/errors.ts'
import { featureService, featureView, requestFeature } from '../../../features/index.ts'
import { collectDefinitions, createRegistry, type DefinitionSet } from '../../../registry/index.ts'
import { MemoryObjectStore } from '../../../adapters/object-store/index.ts'
import { runKfsInProcess } from '../../support/in-process-cli.ts'
import { clicks, user, viewBase } from '../define/fixtures.ts'

const clock: Clock = { nowMs: () => 1_700_000_000_000, sleep: async () => {} }

function definitions(): DefinitionSet {
  const view = featureView({ ...viewBase, aggregations: [{ op: 'count', windows: ['1h'] }] })
  const doubled = requestFeature({
    name: 'doubled',
    request: {},
    features: ['user_stats:count_1h'],
    outputType: 'double',
    description: 'twice the count',
    fn: (_r, f) => (typeof f['user_stats:count_1h'] === 'number' ? f['user_stats:count_1h'] * 2 : null),
  })
  const service = featureService({
    name: 'model',
    features: ['user_stats:count_1h'],
    requestFeatures: [doubled],
    owner: 'o',
    description: 'd',
  })
  return collectDefinitions({ view, service, doubled, clicks, user })
}

const KEYS = {
  view: 'registry/views/user_stats/v1.json',
  backfill: 'registry/views/user_stats/v1.backfill.json',
  entity: 'registry/entities/user.json',
  source: 'registry/sources/clicks.json',
  service: 'registry/services/model.json',
  'request feature': 'registry/request-features/doubled.json',
} as const

/** Each damage as a function of the object kfs wrote. */
const DAMAGES: Record<string, (stored: Record<string, unknown>) => unknown> = {
  null: () => null,
  'an array': () => [],
  'an empty object': () => ({}),
  'a string': () => 'user_stats',
  'a number': () => 42,
  'its name changed': (s) => ('name' in s ? { ...s, name: 'other' } : { ...s, state: 'done' }),
  'a member of the wrong type': (s) =>
    'name' in s ? { ...s, updatedAtMs: '2024-01-01', publishedAtMs: '2024-01-01' } : { ...s, completeThrough: 'all' },
  'written by a newer kfs (members renamed)': (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [`${k}V2`, v])),
}

async function damaged(key: string, damage: (stored: Record<string, unknown>) => unknown) {
  const store = new MemoryObjectStore()
  const registry = createRegistry({ store, clock })
  await registry.apply(definitions())
  const stored = JSON.parse(new TextDecoder().decode(await store.get(key))) as Record<string, unknown>
  await store.put(key, new TextEncoder().encode(JSON.stringify(damage(stored))))
  return { store, registry }
}

function refusal(key: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof FeatureStoreError, `a FeatureStoreError, not ${String(err)}`)
    assert.equal(err.code, 'INVARIANT_VIOLATED')
    assert.ok(err.message.startsWith(`registry object ${key} is not what kfs stores there (`), err.message)
    assert.match(err.message, /restore it from a backup, or delete it and re-apply$/)
    return true
  }
}

void describe('registry > a damaged or newer-format object is named, never half-read', () => {
  for (const [kind, key] of Object.entries(KEYS)) {
    for (const [damage, make] of Object.entries(DAMAGES)) {
      void test(`${kind} object ${damage}: list, diff, apply and lineage refuse with its key; apply writes nothing`, async () => {
        const { store, registry } = await damaged(key, make)
        const before = await Promise.all((await store.list('registry/')).map(async (k) => [k, await store.get(k)] as const))
        await assert.rejects(registry.snapshot(), refusal(key))
        await assert.rejects(registry.diff(definitions()), refusal(key))
        await assert.rejects(registry.apply(definitions()), refusal(key))
        await assert.rejects(registry.lineage(), refusal(key))
        const afterwards = await Promise.all((await store.list('registry/')).map(async (k) => [k, await store.get(k)] as const))
        assert.deepEqual(afterwards, before, 'a refused apply repairs nothing behind the operator’s back')
      })
    }
  }

  for (const [damage, make] of Object.entries(DAMAGES)) {
    void test(`a view version read by itself (getView, backfill checks) when ${damage}`, async () => {
      const { registry } = await damaged(KEYS.view, make)
      await assert.rejects(registry.getView('user_stats', 1), refusal(KEYS.view))
      await assert.rejects(registry.getView('user_stats'), refusal(KEYS.view))
      await assert.rejects(registry.assertBackfillComplete('user_stats', 1), refusal(KEYS.view))
      const status = await damaged(KEYS.backfill, make)
      await assert.rejects(status.registry.getBackfillStatus('user_stats', 1), refusal(KEYS.backfill))
      await assert.rejects(status.registry.assertBackfillComplete('user_stats', 1), refusal(KEYS.backfill))
    })
  }

  void test('records written by this kfs read back whole: the checks refuse nothing kfs writes', async () => {
    const store = new MemoryObjectStore()
    const registry = createRegistry({ store, clock })
    await registry.apply(definitions())
    await registry.setBackfillStatus('user_stats', 1, {
      state: 'complete',
      completeThrough: [{ topic: 'clicks', partition: 0, offset: '7' }],
      detail: 'x',
    })
    const snap = await registry.snapshot()
    assert.deepEqual(
      [snap.entities.length, snap.sources.length, snap.views.length, snap.services.length, snap.requestFeatures.length],
      [1, 1, 1, 1, 1],
    )
    await registry.assertBackfillComplete('user_stats', 1)
  })
})

void describe('kfs registry list over a damaged object', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kfs-audit-registry-'))
  after(() => rmSync(dataDir, { recursive: true, force: true }))

  void test('exit 1, one line naming the object, no stack trace', async () => {
    assert.equal((await runKfsInProcess(['apply'], dataDir)).code, 0)
    const list = await runKfsInProcess(['registry', 'list', '--json'], dataDir)
    const view = (JSON.parse(list.stdout) as { views: { name: string; version: number }[] }).views[0]!
    writeFileSync(join(dataDir, `objects/registry/views/${view.name}/v${view.version}.json`), '{}\n')
    for (const args of [['registry', 'list'], ['registry', 'lineage'], ['apply']]) {
      const r = await runKfsInProcess(args, dataDir)
      assert.equal(r.code, 1, r.stderr)
      const key = `registry/views/${view.name}/v${view.version}.json`
      assert.ok(
        r.stderr.startsWith(`kfs ${args[0]}: registry object ${key} is not what kfs stores there (name is missing`),
        r.stderr,
      )
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
      assert.equal(r.stderr.trimEnd().split('\n').length, 1)
    }
  })
})
