/**
 * The catalog page at `/` in a real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core): it renders every view, feature, service and lineage edge, escapes text, and
 * links to the JSON registry.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { chromium } from 'playwright-core'
import { EmbeddedOnlineStore } from '../../../adapters/online-store/embedded/embedded-online-store.ts'
import { createServer } from '../../../serving/server/index.ts'
import { allViews, itemStats, rankingService, spendPerClick } from '../../unit/serving/fixtures.ts'

const CHROMIUM = '/usr/bin/chromium'

void test('serving > catalog page renders the registry in headless Chromium', async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`)
  const views = allViews.map((v) => (v === itemStats ? { ...v, description: 'price <b>and</b> buyers' } : v))
  const server = createServer({ store: new EmbeddedOnlineStore(), views, services: [rankingService], requestFeatures: [spendPerClick] })
  const base = `http://127.0.0.1:${await server.listen(0)}`
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  try {
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    const res = await page.goto(`${base}/`)
    assert.equal(res?.status(), 200)
    assert.equal(await page.title(), 'kfs feature catalog')
    assert.deepEqual(await page.locator('section.view h3').allInnerTexts(), ['user_stats v1', 'item_stats v1', 'user_item v1'])
    const userRows = await page.locator('#view-user_stats-1 tbody tr').allInnerTexts()
    assert.deepEqual(
      userRows.map((r) => r.split('\t')[0]),
      ['clicks_1h', 'spend_1h', 'last_city'],
    )
    assert.equal(await page.locator('#view-item_stats-1 p').first().innerText(), 'price <b>and</b> buyers')
    assert.equal(await page.locator('section.view b').count(), 0)
    const service = await page.locator('#service-ranking li').allInnerTexts()
    assert.deepEqual(service, [...rankingService.features, ...rankingService.requestFeatures])
    const lineage = await page.locator('#lineage li').allInnerTexts()
    assert.ok(lineage.includes('source:clicks → view:user_stats@1'), lineage.join('\n'))
    assert.ok(lineage.includes('requestFeature:discounted_price → service:ranking'))
    await page.click('a[href="/v1/registry"]')
    const registry = JSON.parse(await page.locator('body').innerText()) as { views: unknown[] }
    assert.equal(registry.views.length, 3)
    assert.deepEqual(errors, [])
  } finally {
    await browser.close()
    await server.close()
  }
})
