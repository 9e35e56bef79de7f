import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError, InvariantViolation, SinkWriteError, SourceError } from '../../../core/errors.ts'
import { HttpError, toHttpError, toWsCloseCode } from '../../../serving/errors.ts'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { renderCatalogPage } from '../../../serving/handlers/catalog-page.ts'
import { buildRegistry } from '../../../serving/handlers/registry.ts'
import { parseSubscriptionMessage, topicOf } from '../../../serving/handlers/subscribe.ts'
import { HotCache } from '../../../serving/hot-cache.ts'
import { view, feature } from '../../contracts/online-store.ts'
import { allViews, rankingService, spendPerClick, userStats } from './fixtures.ts'

const catalog = createFeatureCatalog({ views: allViews, services: [rankingService], requestFeatures: [spendPerClick] })

void describe('serving > errors', () => {
  void test('codes map to statuses in one place; 500s hide their message', () => {
    assert.equal(toHttpError(new SourceError('SOURCE_UNAVAILABLE', 'redis down')).status, 503)
    assert.equal(toHttpError(new SinkWriteError('SINK_UNAVAILABLE', 'x')).status, 503)
    assert.equal(toHttpError(new SourceError('NOT_FOUND', 'x')).status, 404)
    assert.equal(toHttpError(new HttpError(413, 'PAYLOAD_TOO_LARGE', 'big')).status, 413)
    const bug = toHttpError(new InvariantViolation('secret detail'))
    assert.deepEqual(bug, { status: 500, body: { error: { code: 'INVARIANT_VIOLATED', message: 'internal error' } } })
    assert.deepEqual(toHttpError(new Error('boom')).body.error.code, 'INTERNAL')
    assert.equal(toWsCloseCode(new HttpError(401, 'UNAUTHORIZED', 'no')), 4401)
  })
})

void describe('serving > catalog', () => {
  void test('views resolve by name (highest version) or name@version; broken services refuse to start', () => {
    const v2 = view('user_stats', [feature('clicks_1h', 'long')], { version: 2 })
    const c = createFeatureCatalog({ views: [userStats, v2] })
    assert.equal(c.view('user_stats').version, 2)
    assert.equal(c.view('user_stats@1').version, 1)
    assert.throws(() => createFeatureCatalog({ views: [userStats, userStats] }), ConfigError)
    assert.throws(() => createFeatureCatalog({ views: [userStats], services: [rankingService] }), ConfigError)
  })

  void test('registry lists lineage source → view → request feature → service; the page escapes text', () => {
    const doc = buildRegistry(catalog)
    assert.ok(doc.lineage.edges.some((e) => e.from === 'source:clicks' && e.to === 'view:user_stats@1'))
    assert.ok(doc.lineage.edges.some((e) => e.from === 'view:item_stats@1' && e.to === 'requestFeature:discounted_price'))
    assert.ok(doc.lineage.edges.some((e) => e.from === 'requestFeature:discounted_price' && e.to === 'service:ranking'))
    assert.ok(doc.lineage.edges.some((e) => e.from === 'view:user_item@1' && e.to === 'service:ranking'))
    const evil = createFeatureCatalog({ views: [{ ...userStats, description: '<script>alert(1)</script>' }] })
    const html = renderCatalogPage(buildRegistry(evil))
    assert.ok(!html.includes('<script>alert'))
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'))
    assert.ok(renderCatalogPage(doc).includes('ranking-team'))
  })
})

void describe('serving > subscribe protocol', () => {
  void test('subscriptions become validated topics', () => {
    const req = parseSubscriptionMessage(
      JSON.stringify({ subscribe: [{ view: 'user_stats', entity: 'u1' }, { view: 'user_item', entity: { user_id: 'u1', item_id: 9 } }] }),
      catalog,
      10,
    )
    assert.deepEqual(req.subscribe, [topicOf('user_stats', 1, 'u1'), topicOf('user_item', 1, 'u1\u001f9')])
    assert.throws(() => parseSubscriptionMessage('nope', catalog, 10), { status: 400 })
    assert.throws(() => parseSubscriptionMessage(JSON.stringify({ subscribe: [{ view: 'ghost', entity: 'x' }] }), catalog, 10), { status: 404 })
    assert.throws(() => parseSubscriptionMessage(JSON.stringify({ subscribe: [{ view: 'user_stats', entity: 'a\nb' }] }), catalog, 10), { status: 400 })
    assert.throws(() => parseSubscriptionMessage(JSON.stringify({ subscribe: [{ view: 'user_item', entity: 'u1' }] }), catalog, 10), { status: 400 })
    const tooMany = Array.from({ length: 11 }, () => ({ view: 'user_stats', entity: 'u' }))
    assert.throws(() => parseSubscriptionMessage(JSON.stringify({ subscribe: tooMany }), catalog, 10), { status: 400 })
  })
})

void describe('serving > hot cache', () => {
  void test('bounded: the least recently used entry goes first; entries expire', () => {
    const cache = new HotCache({ ttlMs: 100, maxEntries: 2 })
    const row = (n: number) => ({ asOfMs: n, values: [n] })
    cache.set('a', row(1), 0)
    cache.set('b', row(2), 0)
    assert.deepEqual(cache.get('a', 1), row(1))
    cache.set('c', row(3), 1)
    assert.equal(cache.size, 2)
    assert.equal(cache.get('b', 1), undefined)
    assert.deepEqual(cache.get('a', 99), row(1))
    assert.equal(cache.get('a', 101), undefined)
    assert.equal(cache.enabledFor('anything'), true)
    assert.equal(new HotCache({ ttlMs: 1, maxEntries: 1, views: ['x'] }).enabledFor('y'), false)
  })
})
