/**
 * The catalog page at `/` in a real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core): every view, feature, request feature, service and lineage edge; live freshness
 * from the change feed against each view's SLA with a breach mark; backfill state and dead
 * letters from the status provider; the lineage SVG; search filtering; escaping; links.
 * Screenshots are kept under .kfs/artifacts/ (gitignored) as test artefacts.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { test } from 'node:test'
import { chromium, type Page } from 'playwright-core'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import type { CatalogStatus } from '../../../serving/handlers/catalog/status.ts'
import { createServer } from '../../../serving/server/index.ts'
import { row } from '../../contracts/online-store.ts'
import { allViews, itemStats, rankingService, spendPerClick, userStats } from '../../unit/serving/fixtures.ts'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = '.kfs/artifacts'
const NOW = 1_700_000_000_000

const status: CatalogStatus = {
  views: {
    'user_stats@1': { backfill: { state: 'complete', updatedAtMs: NOW - 86_400_000 }, deadLetters: { byReason: { late: 3, undecodable: 1 }, readAtMs: NOW - 30_000 } },
    'item_stats@1': { backfill: { state: 'running', updatedAtMs: NOW - 60_000 }, deadLetters: { byReason: {}, readAtMs: NOW - 30_000 } },
  },
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}/catalog-${name}.png`, fullPage: true })
}

void test('serving > catalog page shows live freshness, backfill, dead letters, lineage and search in headless Chromium', async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`)
  mkdirSync(ARTIFACTS, { recursive: true })
  const clock = { nowMs: () => NOW, sleep: async () => {} }
  const store = new EmbeddedOnlineStore({ clock })
  const views = allViews.map((v) => (v === itemStats ? { ...v, description: 'price <b>and</b> buyers' } : v))
  const server = createServer({
    store,
    views,
    services: [rankingService],
    requestFeatures: [spendPerClick],
    options: { clock, catalogStatus: () => status },
  })
  const base = `http://127.0.0.1:${await server.listen(0)}`
  // Rows land after the server subscribed: the change feed is where its freshness comes from.
  await store.writeRows(userStats, [row('u1', NOW - 5000, [7, 12.5, 'Oslo']), row('u2', NOW - 9000, [1, 1, 'Rome'])])
  await store.writeRows(itemStats, [row('9', NOW - 7_200_000, [20, ['u1']])])
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    const res = await page.goto(`${base}/`)
    assert.equal(res?.status(), 200)
    assert.equal(await page.title(), 'kfs feature catalog')
    await shot(page, 'full')
    assert.deepEqual(await page.locator('section.view h3').allInnerTexts(), ['user_stats v1', 'item_stats v1', 'user_item v1'])
    const userRows = await page.locator('#view-user_stats-1 tbody tr').allInnerTexts()
    assert.deepEqual(
      userRows.map((r) => r.split('\t')[0]),
      ['clicks_1h', 'spend_1h', 'last_city'],
    )

    // Live freshness: newest as_of 5 s old within the 1m SLA; item_stats 2 h old breaches; user_item saw no row.
    const fresh = page.locator('#view-user_stats-1 .freshness')
    assert.equal(await fresh.getAttribute('data-state'), 'ok')
    assert.equal(await fresh.getAttribute('data-age-ms'), '5000')
    assert.match(await fresh.innerText(), /5\.0s old \(SLA 1m\)/)
    assert.equal(await page.locator('#view-user_stats-1 time.as-of').innerText(), new Date(NOW - 5000).toISOString().replace('.000Z', 'Z'))
    const stale = page.locator('#view-item_stats-1 .freshness')
    assert.equal(await stale.getAttribute('data-state'), 'breach')
    assert.match(await stale.innerText(), /SLA breach: newest row 2h 0m old/)
    assert.equal(await page.locator('#view-user_item-1 .freshness').getAttribute('data-state'), 'unknown')
    assert.match(await page.locator('#breaches').innerText(), /1 of 3 views breach their freshness SLA: item_stats/)

    // Backfill and dead letters from the status provider; a view it knows nothing of says unknown.
    assert.equal(await page.locator('#view-user_stats-1 .backfill').getAttribute('data-state'), 'complete')
    assert.equal(await page.locator('#view-item_stats-1 .backfill').getAttribute('data-state'), 'running')
    assert.equal(await page.locator('#view-user_item-1 .backfill').getAttribute('data-state'), 'unknown')
    assert.equal(await page.locator('#view-user_stats-1 .dead-letters').getAttribute('data-total'), '4')
    assert.deepEqual(await page.locator('#view-user_stats-1 ul.reasons li').allInnerTexts(), ['late 3', 'undecodable 1'])
    assert.equal(await page.locator('#view-item_stats-1 .dead-letters').innerText(), 'none')
    await page.locator('#view-user_stats-1').screenshot({ path: `${ARTIFACTS}/catalog-view-live.png` })

    // Request features with their inputs; services; escaping.
    assert.match(await page.locator('#request-feature-discounted_price .inputs').innerText(), /discount: double/)
    assert.equal(await page.locator('#request-feature-discounted_price .reads').innerText(), 'item_stats:price, user_stats:spend_1h')
    assert.equal(await page.locator('#view-item_stats-1 p').first().innerText(), 'price <b>and</b> buyers')
    assert.equal(await page.locator('section.view b').count(), 0)
    assert.deepEqual(await page.locator('#service-ranking li').allInnerTexts(), [...rankingService.features, ...rankingService.requestFeatures])

    // The lineage graph: a box per node, a curve per edge, drawn (visible, with a size).
    const lineage = page.locator('svg#lineage')
    await lineage.screenshot({ path: `${ARTIFACTS}/catalog-lineage.png` })
    const box = await lineage.boundingBox()
    assert.ok(box !== null && box.width > 400 && box.height > 50, JSON.stringify(box))
    assert.deepEqual(
      (await page.locator('#lineage .node.source text').allTextContents()).map((t) => t.trim()),
      ['clicks'],
    )
    assert.equal(await page.locator('#lineage .node.view').count(), 3)
    assert.equal(await page.locator('#lineage .node.service').count(), 1)
    assert.deepEqual(await page.locator('#lineage .node.breach').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-node'))), ['view:item_stats@1'])
    assert.equal(await page.locator('#lineage path.edge[data-from="source:clicks"][data-to="view:user_stats@1"]').count(), 1)
    assert.equal(await page.locator('#lineage path.edge[data-from="requestFeature:discounted_price"][data-to="service:ranking"]').count(), 1)

    // Search filters views, feature rows, services and request features client-side, and dims lineage nodes.
    await page.fill('#search', 'spend')
    assert.deepEqual(await page.locator('section.view:visible h3').allInnerTexts(), ['user_stats v1'])
    assert.deepEqual(await page.locator('#view-user_stats-1 tbody tr:visible td:first-child').allInnerTexts(), ['spend_1h'])
    assert.equal(await page.locator('#request-feature-discounted_price').isVisible(), true)
    assert.equal(await page.locator('#service-ranking').isVisible(), false)
    await page.fill('#search', 'item_stats')
    assert.deepEqual(await page.locator('section.view:visible h3').allInnerTexts(), ['item_stats v1'])
    assert.equal(await page.locator('#service-ranking').isVisible(), true)
    assert.deepEqual(await page.locator('#service-ranking li:visible').allInnerTexts(), ['item_stats:price'])
    assert.equal(await page.locator('#lineage g.node[data-node="view:item_stats@1"]').getAttribute('class'), 'node view breach')
    assert.equal(await page.locator('#lineage .node.dim').count(), (await page.locator('#lineage .node').count()) - 1)
    await shot(page, 'search')
    await page.fill('#search', '')
    assert.equal(await page.locator('section.view:visible').count(), 3)

    // Links: the lookup form reads the online endpoint; the JSON link opens the registry.
    await page.fill('#lookup-view-user_stats-1 input[name="user_id"]', 'u1')
    await page.click('#lookup-view-user_stats-1 button')
    const online = JSON.parse(await page.locator('body').innerText()) as Record<string, unknown>
    assert.match(JSON.stringify(online), /Oslo/)
    await page.goto(`${base}/`)
    await page.click('#view-user_stats-1 a.json')
    const registry = JSON.parse(await page.locator('body').innerText()) as { views: unknown[] }
    assert.equal(registry.views.length, 3)
    assert.deepEqual(errors, [])
  } finally {
    await browser.close()
    await server.close()
  }
})
