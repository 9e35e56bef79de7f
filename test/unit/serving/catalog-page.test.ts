/**
 * The catalog page's HTML as text: live cells (fresh, breached, unknown; backfill; dead letters),
 * the lineage SVG (a node per registry node, a path per edge), request-feature inputs, links to
 * the online endpoint, and escaping of every definition text, in the SVG too.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createFeatureCatalog } from '../../../serving/feature-catalog.ts'
import { renderCatalogPage } from '../../../serving/handlers/catalog-page.ts'
import { buildRegistry } from '../../../serving/handlers/registry.ts'
import { allViews, itemStats, rankingService, spendPerClick, userStats } from './fixtures.ts'

const NOW = 1_700_000_000_000
const doc = buildRegistry(createFeatureCatalog({ views: allViews, services: [rankingService], requestFeatures: [spendPerClick] }))

function section(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`)
  assert.ok(start >= 0, id)
  return html.slice(start, html.indexOf('</section>', start))
}

void describe('serving > catalog page html', () => {
  void test('live freshness per view: ok within the SLA, a breach mark past it, unknown without rows', () => {
    const seen: Record<string, number> = { 'user_stats@1': NOW - 59_000, 'item_stats@1': NOW - 61_000 }
    const html = renderCatalogPage(doc, { nowMs: NOW, seenAsOf: (id) => seen[id] })
    assert.match(section(html, 'view-user_stats-1'), /class="freshness ok" data-state="ok" data-age-ms="59000"/)
    assert.match(section(html, 'view-item_stats-1'), /class="freshness breach" data-state="breach" data-age-ms="61000">⚠ SLA breach: newest row 1m 1s old \(SLA 1m\)/)
    assert.match(section(html, 'view-user_item-1'), /data-state="unknown">no rows seen yet/)
    assert.match(html, /id="breaches"[^>]*>⚠ 1 of 3 views breach their freshness SLA: item_stats</)
  })

  void test("the status provider's newest as_of counts when newer than the server's own", () => {
    const html = renderCatalogPage(doc, {
      nowMs: NOW,
      seenAsOf: () => NOW - 3_600_000,
      status: { views: { 'user_stats@1': { newestAsOfMs: NOW - 1000 } } },
    })
    assert.match(section(html, 'view-user_stats-1'), /data-age-ms="1000"/)
    assert.match(section(html, 'view-item_stats-1'), /data-state="breach"/)
  })

  void test('backfill and dead letters by reason, sorted; without a provider both say unknown', () => {
    const status = { views: { 'user_stats@1': { backfill: { state: 'pending', updatedAtMs: NOW }, deadLetters: { byReason: { missing_key: 2, late: 5, undecodable: 0 }, readAtMs: NOW } } } }
    const user = section(renderCatalogPage(doc, { nowMs: NOW, seenAsOf: () => undefined, status }), 'view-user_stats-1')
    assert.match(user, /class="backfill pending" data-state="pending">pending/)
    assert.match(user, /data-total="7">7/)
    assert.deepEqual([...user.matchAll(/data-reason="(\w+)"/g)].map((m) => m[1]), ['late', 'missing_key'])
    const bare = section(renderCatalogPage(doc), 'view-user_stats-1')
    assert.match(bare, /class="backfill" data-state="unknown"/)
    assert.match(bare, /data-total="unknown"/)
  })

  void test('lineage SVG: one node per registry node, one path per edge; request features list their inputs', () => {
    const html = renderCatalogPage(doc)
    assert.equal([...html.matchAll(/<g class="node /g)].length, doc.lineage.nodes.length)
    assert.equal([...html.matchAll(/<path class="edge"/g)].length, doc.lineage.edges.length)
    assert.match(html, /data-from="view:item_stats@1" data-to="requestFeature:discounted_price"/)
    assert.match(section(html, 'request-feature-discounted_price'), /<code>discount<\/code>: double/)
    assert.match(section(html, `view-${itemStats.name}-1`), /<form class="lookup" id="lookup-view-item_stats-1" method="get" action="\/v1\/features\/item_stats"><input name="item_id"/)
  })

  void test('definition text is escaped everywhere, the SVG included', () => {
    const evil = { ...userStats, name: 'x<script>', description: '"><img src=x onerror=alert(1)>' }
    const html = renderCatalogPage(buildRegistry(createFeatureCatalog({ views: [evil], services: [], requestFeatures: [] })), {
      nowMs: NOW,
      seenAsOf: () => undefined,
      status: { views: { 'x<script>@1': { backfill: { state: '<b>', updatedAtMs: NOW } } } },
    })
    assert.equal(html.includes('<script>@'), false)
    assert.equal(html.includes('<img'), false)
    assert.equal(html.includes('<b>'), false)
    assert.match(html, /data-node="view:x&lt;script&gt;@1"/)
    assert.equal([...html.matchAll(/<script>/g)].length, 1) // only the search script
  })
})
